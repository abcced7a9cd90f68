import { Octokit } from '@octokit/rest';
import nock from 'nock';
import { ProbotOctokit } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitHubError, PullRequestExistsError, UnknownAppIdentityError } from '../../src/app/github-errors.js';
import { clearImmutableReads, IMMUTABLE_READ_MAX_CHARS, IMMUTABLE_READS_CAPACITY, immutableReadsSize, OctokitGateway, type OctokitGatewayOptions } from '../../src/app/octokit-gateway.js';

const API = 'https://api.github.com';
const REPO = '/repos/octo/repo';
const SHA = 'a'.repeat(40);
const BASE_SHA = 'b'.repeat(40);

function octokit(): Octokit {
  return new Octokit({ auth: 'test', retry: { enabled: false }, throttle: { enabled: false } });
}

function gateway(options: OctokitGatewayOptions = { appSlug: 'autoloop' }): OctokitGateway {
  return new OctokitGateway(octokit(), { owner: 'octo', repo: 'repo' }, options);
}

const api = (): nock.Scope => nock(API);

/** A pull request as the REST API returns it, trimmed to what the gateway reads. */
function pullPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    number: 7,
    node_id: 'PR_kwDOexample',
    html_url: 'https://github.com/octo/repo/pull/7',
    state: 'open',
    merged_at: null,
    draft: true,
    head: { ref: 'autoloop/12/exp-1', sha: SHA },
    base: { ref: 'autoloop/12/run', sha: BASE_SHA },
    body: 'hypothesis',
    labels: [{ name: 'autoloop' }],
    ...overrides,
  };
}

const PULL_INFO = {
  number: 7,
  url: 'https://github.com/octo/repo/pull/7',
  state: 'open',
  merged: false,
  draft: true,
  head: { ref: 'autoloop/12/exp-1', sha: SHA },
  base: { ref: 'autoloop/12/run', sha: BASE_SHA },
  body: 'hypothesis',
  labels: ['autoloop'],
};

/** A comment as the issues API lists it. */
function commentPayload(id: number, body: string, user: { login: string; type: string }): Record<string, unknown> {
  return { id, body, user };
}

const base64 = (text: string): string => Buffer.from(text).toString('base64');

beforeEach(() => {
  nock.disableNetConnect();
  clearImmutableReads();
});

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('permission', () => {
  it('maps role_name, falling back to the base permission for a custom role', async () => {
    api().get(`${REPO}/collaborators/alice/permission`).reply(200, { permission: 'write', role_name: 'maintain' });
    api().get(`${REPO}/collaborators/bob/permission`).reply(200, { permission: 'write', role_name: 'release-captain' });
    const github = gateway();
    expect(await github.permission('alice')).toBe('maintain');
    expect(await github.permission('bob')).toBe('write');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('is none for someone who is not a collaborator (404)', async () => {
    api().get(`${REPO}/collaborators/mallory/permission`).reply(404, { message: 'Not Found' });
    expect(await gateway().permission('mallory')).toBe('none');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('fails closed on any other error', async () => {
    api().get(`${REPO}/collaborators/alice/permission`).reply(500, { message: 'Server Error' });
    await expect(gateway().permission('alice')).rejects.toThrow('permission (octo/repo): 500 Server Error');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});

describe('reads', () => {
  it('reads a file, and null when it does not exist', async () => {
    api().get(`${REPO}/contents/.autoloop%2Fconfig.yml`).query({ ref: 'main' }).reply(200, {
      type: 'file',
      encoding: 'base64',
      sha: 'f'.repeat(40),
      content: base64('metric: loss\n'),
    });
    api().get(`${REPO}/contents/missing.yml`).query({ ref: 'main' }).reply(404, { message: 'Not Found' });
    const github = gateway();
    expect(await github.readFile('.autoloop/config.yml', 'main')).toBe('metric: loss\n');
    expect(await github.readFile('missing.yml', 'main')).toBeNull();
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('reads a file over 1 MB through the blob API', async () => {
    const blob = 'c'.repeat(40);
    api().get(`${REPO}/contents/big.txt`).query({ ref: 'main' }).reply(200, { type: 'file', encoding: 'none', sha: blob, content: '' });
    api().get(`${REPO}/git/blobs/${blob}`).reply(200, { sha: blob, encoding: 'base64', content: base64('big\n') });
    expect(await gateway().readFile('big.txt', 'main')).toBe('big\n');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('refuses a directory', async () => {
    api().get(`${REPO}/contents/src`).query({ ref: 'main' }).reply(200, [{ type: 'file', name: 'a.ts' }]);
    await expect(gateway().readFile('src', 'main')).rejects.toThrow('readFile (octo/repo): src at main is not a file');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('finds branch heads and the default branch', async () => {
    api().get(`${REPO}/git/ref/heads%2Fautoloop%2F12%2Frun`).reply(200, { ref: 'refs/heads/autoloop/12/run', object: { sha: SHA } });
    api().get(`${REPO}/git/ref/heads%2Fgone`).reply(404, { message: 'Not Found' });
    api().get(REPO).reply(200, { default_branch: 'trunk' });
    api().get(`${REPO}/git/ref/heads%2Ftrunk`).reply(200, { ref: 'refs/heads/trunk', object: { sha: BASE_SHA } });
    const github = gateway();
    expect(await github.branchSha('autoloop/12/run')).toBe(SHA);
    expect(await github.branchSha('gone')).toBeNull();
    expect(await github.defaultBranch()).toStrictEqual({ name: 'trunk', sha: BASE_SHA });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('finds the newest pull request from a branch, open or closed', async () => {
    api()
      .get(`${REPO}/pulls`)
      .query({ head: 'octo:autoloop/12/exp-1', state: 'all', sort: 'created', direction: 'desc', per_page: '1' })
      .reply(200, [pullPayload({ state: 'closed', merged_at: '2025-01-01T00:00:00Z', draft: false })]);
    api().get(`${REPO}/pulls`).query(true).reply(200, []);
    const github = gateway();
    expect(await github.findPullRequest('autoloop/12/exp-1')).toStrictEqual({ ...PULL_INFO, state: 'closed', merged: true, draft: false });
    expect(await github.findPullRequest('autoloop/12/exp-2')).toBeNull();
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('gets a pull request', async () => {
    api().get(`${REPO}/pulls/7`).reply(200, pullPayload({ body: null, labels: [] }));
    expect(await gateway().getPullRequest(7)).toStrictEqual({ ...PULL_INFO, body: '', labels: [] });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('lists the files of a three-dot comparison', async () => {
    api()
      .get(`${REPO}/compare/${BASE_SHA}...${SHA}`)
      .reply(200, {
        merge_base_commit: { sha: BASE_SHA },
        files: [
          { filename: 'src/model.py', status: 'modified' },
          { filename: 'src/new.py', status: 'renamed', previous_filename: 'src/old.py' },
        ],
      });
    expect(await gateway().compare(BASE_SHA, SHA)).toStrictEqual([
      { path: 'src/model.py', status: 'modified' },
      { path: 'src/new.py', status: 'renamed', previousPath: 'src/old.py' },
    ]);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('diffs the trees when the comparison has more files than the compare API lists', async () => {
    const mergeBase = 'd'.repeat(40);
    const files = Array.from({ length: 300 }, (_, i) => ({ filename: `f${i}`, status: 'modified' }));
    api().get(`${REPO}/compare/${BASE_SHA}...${SHA}`).reply(200, { merge_base_commit: { sha: mergeBase }, files });
    api()
      .get(`${REPO}/git/trees/${mergeBase}`)
      .query({ recursive: 'true' })
      .reply(200, { truncated: false, tree: [{ path: 'kept', type: 'blob', sha: '1' }, { path: 'changed', type: 'blob', sha: '2' }, { path: 'gone', type: 'blob', sha: '3' }] });
    api()
      .get(`${REPO}/git/trees/${SHA}`)
      .query({ recursive: 'true' })
      .reply(200, { truncated: false, tree: [{ path: 'kept', type: 'blob', sha: '1' }, { path: 'changed', type: 'blob', sha: '4' }, { path: 'added', type: 'blob', sha: '5' }] });
    expect(await gateway().compare(BASE_SHA, SHA)).toStrictEqual([
      { path: 'added', status: 'added' },
      { path: 'changed', status: 'modified' },
      { path: 'gone', status: 'removed' },
    ]);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('maps a tree to its blobs, and refuses a truncated one', async () => {
    api()
      .get(`${REPO}/git/trees/${SHA}`)
      .query({ recursive: 'true' })
      .reply(200, {
        truncated: false,
        tree: [
          { path: 'src', type: 'tree', sha: 't1' },
          { path: 'src/a.ts', type: 'blob', sha: 'b1' },
          { path: 'vendor/lib', type: 'commit', sha: 'c1' },
        ],
      });
    api().get(`${REPO}/git/trees/${BASE_SHA}`).query({ recursive: 'true' }).reply(200, { truncated: true, tree: [] });
    const github = gateway();
    expect(await github.tree(SHA)).toStrictEqual(new Map([['src/a.ts', 'b1']]));
    await expect(github.tree(BASE_SHA)).rejects.toThrow(`tree (octo/repo): the tree of ${BASE_SHA} has too many entries`);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it("lists a run's artifacts across pages, leaving out expired ones", async () => {
    api()
      .get(`${REPO}/actions/runs/99/artifacts`)
      .query({ per_page: '100' })
      .reply(200, { total_count: 3, artifacts: [{ id: 1, name: 'autoloop-result', expired: false }] }, {
        link: `<${API}${REPO}/actions/runs/99/artifacts?per_page=100&page=2>; rel="next"`,
      });
    api()
      .get(`${REPO}/actions/runs/99/artifacts`)
      .query({ per_page: '100', page: '2' })
      .reply(200, { total_count: 3, artifacts: [{ id: 2, name: 'old', expired: true }, { id: 3, name: 'autoloop-trace', expired: false }] });
    expect(await gateway().listArtifacts(99)).toStrictEqual([
      { id: 1, name: 'autoloop-result', url: 'https://github.com/octo/repo/actions/runs/99/artifacts/1' },
      { id: 3, name: 'autoloop-trace', url: 'https://github.com/octo/repo/actions/runs/99/artifacts/3' },
    ]);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('downloads an artifact by following the redirect to blob storage', async () => {
    const zip = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff]);
    api()
      .get(`${REPO}/actions/artifacts/5/zip`)
      .reply(302, '', { location: 'https://blobs.example.net/artifact-5.zip?sig=xyz' });
    // The storage URL is signed: the token must not follow the redirect to another host.
    nock('https://blobs.example.net', { badheaders: ['authorization'] })
      .get('/artifact-5.zip')
      .query({ sig: 'xyz' })
      .reply(200, zip, { 'content-type': 'application/zip' });
    const bytes = await gateway().downloadArtifact(5);
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(bytes.equals(zip)).toBe(true);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});

describe('files read at a commit SHA', () => {
  const CONFIG = '.github/autoloop.yml';
  const path = `${REPO}/contents/.github%2Fautoloop.yml`;
  const file = (text: string) => ({ type: 'file', encoding: 'base64', sha: 'f'.repeat(40), content: base64(text) });
  /** A gateway of another event: a new client and a new gateway, as Probot gives each webhook. */
  const nextEvent = (repo = 'repo') => new OctokitGateway(octokit(), { owner: 'octo', repo }, { appSlug: 'autoloop' });

  it('asks GitHub once per process for a file at a full SHA: later events are served what that commit holds', async () => {
    api().get(path).query({ ref: SHA }).once().reply(200, file('metric: loss\n'));
    expect(await nextEvent().readFile(CONFIG, SHA)).toBe('metric: loss\n');
    // A second request would find no interceptor and fail (net connect is off).
    expect(await nextEvent().readFile(CONFIG, SHA)).toBe('metric: loss\n');
    expect(await nextEvent().readFile(CONFIG, SHA)).toBe('metric: loss\n');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('never serves one commit\'s file for another commit, another path or another repository', async () => {
    api().get(path).query({ ref: SHA }).reply(200, file('at a\n'));
    api().get(path).query({ ref: BASE_SHA }).reply(200, file('at b\n'));
    api().get(`${REPO}/contents/eval.js`).query({ ref: SHA }).reply(200, file('eval at a\n'));
    api().get(`/repos/octo/other/contents/.github%2Fautoloop.yml`).query({ ref: SHA }).reply(200, file('other repository at a\n'));
    expect(await nextEvent().readFile(CONFIG, SHA)).toBe('at a\n');
    expect(await nextEvent().readFile(CONFIG, BASE_SHA)).toBe('at b\n');
    expect(await nextEvent().readFile('eval.js', SHA)).toBe('eval at a\n');
    expect(await nextEvent('other').readFile(CONFIG, SHA)).toBe('other repository at a\n');
    // Each is kept apart: asked again, each answers its own.
    expect(await nextEvent().readFile(CONFIG, SHA)).toBe('at a\n');
    expect(await nextEvent('other').readFile(CONFIG, SHA)).toBe('other repository at a\n');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('asks again for a branch, a short SHA, or a file that was not there: those can change', async () => {
    api().get(path).query({ ref: 'main' }).reply(200, file('main then\n'));
    api().get(path).query({ ref: 'main' }).reply(200, file('main now\n'));
    api().get(path).query({ ref: SHA.slice(0, 12) }).twice().reply(200, file('short\n'));
    // A branch named like a SHA but in capitals is not a SHA as GitHub spells one.
    api().get(path).query({ ref: SHA.toUpperCase() }).twice().reply(200, file('capitals\n'));
    api().get(path).query({ ref: BASE_SHA }).reply(404, { message: 'Not Found' });
    api().get(path).query({ ref: BASE_SHA }).reply(200, file('found later\n'));
    expect(await nextEvent().readFile(CONFIG, 'main')).toBe('main then\n');
    expect(await nextEvent().readFile(CONFIG, 'main')).toBe('main now\n');
    for (let i = 0; i < 2; i++) expect(await nextEvent().readFile(CONFIG, SHA.slice(0, 12))).toBe('short\n');
    for (let i = 0; i < 2; i++) expect(await nextEvent().readFile(CONFIG, SHA.toUpperCase())).toBe('capitals\n');
    expect(await nextEvent().readFile(CONFIG, BASE_SHA)).toBeNull();
    expect(await nextEvent().readFile(CONFIG, BASE_SHA)).toBe('found later\n');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('keeps a bounded number of small files, forgetting the least recently used first', async () => {
    const shas = Array.from({ length: IMMUTABLE_READS_CAPACITY + 1 }, (_, i) => i.toString(16).padStart(40, '0'));
    for (const sha of shas) api().get(path).query({ ref: sha }).reply(200, file(`at ${sha}\n`));
    // The first is used again before the cache is full: the second is then the least recently used.
    expect(await nextEvent().readFile(CONFIG, shas[0]!)).toBe(`at ${shas[0]}\n`);
    expect(await nextEvent().readFile(CONFIG, shas[1]!)).toBe(`at ${shas[1]}\n`);
    for (const sha of shas.slice(2, -1)) await nextEvent().readFile(CONFIG, sha);
    expect(await nextEvent().readFile(CONFIG, shas[0]!)).toBe(`at ${shas[0]}\n`);
    expect(immutableReadsSize().files).toBe(IMMUTABLE_READS_CAPACITY);
    expect(await nextEvent().readFile(CONFIG, shas.at(-1)!)).toBe(`at ${shas.at(-1)}\n`);
    expect(immutableReadsSize().files).toBe(IMMUTABLE_READS_CAPACITY);
    expect(nock.pendingMocks()).toStrictEqual([]);
    // The second was forgotten (asked again), the first was not.
    api().get(path).query({ ref: shas[1] }).reply(200, file(`at ${shas[1]} again\n`));
    expect(await nextEvent().readFile(CONFIG, shas[0]!)).toBe(`at ${shas[0]}\n`);
    expect(await nextEvent().readFile(CONFIG, shas[1]!)).toBe(`at ${shas[1]} again\n`);
    // A file too large to keep is asked for each time.
    const large = 'x'.repeat(IMMUTABLE_READ_MAX_CHARS + 1);
    api().get(`${REPO}/contents/large.txt`).query({ ref: SHA }).twice().reply(200, file(large));
    expect(await nextEvent().readFile('large.txt', SHA)).toBe(large);
    expect(await nextEvent().readFile('large.txt', SHA)).toBe(large);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  /** The commit API's answer for a commit: its message, parents and own diff. */
  const commitPayload = (sha: string, parents: string[], files: Record<string, unknown>[]) => ({
    sha,
    commit: { message: 'autoloop: experiment 1\n\nraise lr' },
    parents: parents.map((parent) => ({ sha: parent })),
    files,
  });
  const DIFF = [
    { filename: 'params.json', status: 'modified' },
    { filename: 'src/new.py', status: 'renamed', previous_filename: 'src/old.py' },
  ];
  const CHANGED = [
    { path: 'params.json', status: 'modified' },
    { path: 'src/new.py', status: 'renamed', previousPath: 'src/old.py' },
  ];

  it("keeps a proposal's own diff as the comparison of its parent with it, so its evaluation does not compare them again", async () => {
    api().get(`${REPO}/commits/autoloop%2F12%2Fexp-1`).query({ per_page: '100' }).reply(200, commitPayload(SHA, [BASE_SHA], DIFF));
    expect(await nextEvent().commit('autoloop/12/exp-1')).toStrictEqual({ sha: SHA, message: 'autoloop: experiment 1\n\nraise lr' });
    // No compare request is answered: a request would fail.
    expect(await nextEvent().compare(BASE_SHA, SHA)).toStrictEqual(CHANGED);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('compares again for any other pair, another repository, a merge commit, or a diff that may not be whole', async () => {
    const other = 'c'.repeat(40);
    const many = Array.from({ length: 100 }, (_, i) => ({ filename: `f${i}.txt`, status: 'added' }));
    api().get(`${REPO}/commits/${SHA}`).query(true).reply(200, commitPayload(SHA, [BASE_SHA], DIFF));
    // A merge commit's diff is against its first parent only; a full page, or a page with a next one, may be cut short.
    api().get(`${REPO}/commits/${other}`).query(true).reply(200, commitPayload(other, [BASE_SHA, SHA], DIFF));
    api().get(`${REPO}/commits/${'d'.repeat(40)}`).query(true).reply(200, commitPayload('d'.repeat(40), [BASE_SHA], many));
    api().get(`${REPO}/commits/${'e'.repeat(40)}`).query(true).reply(200, commitPayload('e'.repeat(40), [BASE_SHA], DIFF), { link: `<${API}${REPO}/commits/${'e'.repeat(40)}?page=2>; rel="next"` });
    for (const sha of [SHA, other, 'd'.repeat(40), 'e'.repeat(40)]) await nextEvent().commit(sha);
    const compared = (base: string, head: string, files: Record<string, unknown>[], repo = REPO) =>
      api().get(`${repo}/compare/${base}...${head}`).reply(200, { merge_base_commit: { sha: base }, files });
    compared(other, SHA, [{ filename: 'other.txt', status: 'added' }]);
    compared(BASE_SHA, SHA, [{ filename: 'elsewhere.txt', status: 'added' }], '/repos/octo/other');
    compared(BASE_SHA, other, [{ filename: 'merged.txt', status: 'added' }]);
    compared(BASE_SHA, 'd'.repeat(40), [{ filename: 'f0.txt', status: 'added' }]);
    compared(BASE_SHA, 'e'.repeat(40), [{ filename: 'paged.txt', status: 'added' }]);
    compared(BASE_SHA, 'autoloop%2F12%2Fexp-1', [{ filename: 'branch.txt', status: 'added' }]);
    compared(BASE_SHA, 'autoloop%2F12%2Fexp-1', [{ filename: 'branch later.txt', status: 'added' }]);
    expect(await nextEvent().compare(other, SHA)).toStrictEqual([{ path: 'other.txt', status: 'added' }]);
    expect(await nextEvent('other').compare(BASE_SHA, SHA)).toStrictEqual([{ path: 'elsewhere.txt', status: 'added' }]);
    expect(await nextEvent().compare(BASE_SHA, other)).toStrictEqual([{ path: 'merged.txt', status: 'added' }]);
    expect(await nextEvent().compare(BASE_SHA, 'd'.repeat(40))).toStrictEqual([{ path: 'f0.txt', status: 'added' }]);
    expect(await nextEvent().compare(BASE_SHA, 'e'.repeat(40))).toStrictEqual([{ path: 'paged.txt', status: 'added' }]);
    // A branch moves: compared each time.
    expect(await nextEvent().compare(BASE_SHA, 'autoloop/12/exp-1')).toStrictEqual([{ path: 'branch.txt', status: 'added' }]);
    expect(await nextEvent().compare(BASE_SHA, 'autoloop/12/exp-1')).toStrictEqual([{ path: 'branch later.txt', status: 'added' }]);
    // The pair it did keep answers from memory, and a comparison asked of GitHub at two full SHAs is kept too.
    expect(await nextEvent().compare(BASE_SHA, SHA)).toStrictEqual(CHANGED);
    expect(await nextEvent().compare(other, SHA)).toStrictEqual([{ path: 'other.txt', status: 'added' }]);
    expect(immutableReadsSize()).toStrictEqual({ files: 0, comparisons: 6 });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});

describe('branches and pull requests', () => {
  it('creates the run branch one empty commit ahead of its base: the base tree, the base as parent', async () => {
    const bodies: unknown[] = [];
    const start = 'c'.repeat(40);
    api().get(`${REPO}/git/commits/${BASE_SHA}`).reply(200, { sha: BASE_SHA, tree: { sha: 'd'.repeat(40) }, parents: [] });
    api()
      .post(`${REPO}/git/commits`, (body) => bodies.push(body) > 0)
      .reply(201, { sha: start, tree: { sha: 'd'.repeat(40) }, parents: [{ sha: BASE_SHA }] });
    api()
      .post(`${REPO}/git/refs`, (body) => bodies.push(body) > 0)
      .reply(201, { ref: 'refs/heads/autoloop/12/run', object: { sha: start } });
    expect(await gateway().createRunBranch('autoloop/12/run', BASE_SHA, 'autoloop: start run #12')).toBe(start);
    expect(bodies).toStrictEqual([
      { message: 'autoloop: start run #12', tree: 'd'.repeat(40), parents: [BASE_SHA] },
      { ref: 'refs/heads/autoloop/12/run', sha: start },
    ]);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('leaves a run branch that already exists, unless it is still at its base: that one it fast-forwards to the new commit', async () => {
    const start = 'c'.repeat(40);
    const existing = 'e'.repeat(40);
    const updates: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      api().get(`${REPO}/git/commits/${BASE_SHA}`).reply(200, { sha: BASE_SHA, tree: { sha: 'd'.repeat(40) }, parents: [] });
      api().post(`${REPO}/git/commits`).reply(201, { sha: start, tree: { sha: 'd'.repeat(40) }, parents: [{ sha: BASE_SHA }] });
      api().post(`${REPO}/git/refs`).reply(422, { message: 'Reference already exists', status: '422' });
    }
    api().get(`${REPO}/git/ref/heads%2Fautoloop%2F12%2Frun`).reply(200, { ref: 'refs/heads/autoloop/12/run', object: { sha: existing } });
    api().get(`${REPO}/git/ref/heads%2Fautoloop%2F12%2Frun`).reply(200, { ref: 'refs/heads/autoloop/12/run', object: { sha: BASE_SHA } });
    api()
      .patch(/\/git\/refs\/heads(%2F|\/)autoloop/, (body) => updates.push(body) > 0)
      .reply(200, { ref: 'refs/heads/autoloop/12/run', object: { sha: start } });
    const github = gateway();
    expect(await github.createRunBranch('autoloop/12/run', BASE_SHA, 'start')).toBe(existing);
    expect(await github.createRunBranch('autoloop/12/run', BASE_SHA, 'start')).toBe(start);
    expect(updates).toStrictEqual([{ sha: start, force: false }]);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('throws on any other failure to create the run branch', async () => {
    api().get(`${REPO}/git/commits/${BASE_SHA}`).reply(200, { sha: BASE_SHA, tree: { sha: 'd'.repeat(40) }, parents: [] });
    api().post(`${REPO}/git/commits`).reply(201, { sha: SHA, tree: { sha: 'd'.repeat(40) }, parents: [{ sha: BASE_SHA }] });
    api().post(`${REPO}/git/refs`).reply(422, { message: 'Object does not exist', status: '422' });
    await expect(gateway().createRunBranch('autoloop/12/run', BASE_SHA, 'start')).rejects.toThrow('createRunBranch (octo/repo): 422 Object does not exist');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('opens a draft pull request', async () => {
    const options = { head: 'autoloop/12/run', base: 'main', title: 'autoloop: faster', body: 'dashboard', draft: true };
    api().post(`${REPO}/pulls`, options).reply(201, pullPayload({ number: 8, html_url: 'https://github.com/octo/repo/pull/8' }));
    const pull = await gateway().createPullRequest(options);
    expect(pull).toMatchObject({ number: 8, url: 'https://github.com/octo/repo/pull/8', draft: true });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('wraps a GitHub error once, naming the operation, the repository, the status and what GitHub said', async () => {
    api()
      .post(`${REPO}/pulls`)
      .reply(422, {
        message: 'Validation Failed',
        errors: [{ resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for octo:autoloop/12/run.' }],
        documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
      });
    const error = await gateway()
      .createPullRequest({ head: 'autoloop/12/run', base: 'main', title: 't', body: 'b', draft: true })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GitHubError);
    expect(error).toMatchObject({ operation: 'createPullRequest', repository: 'octo/repo', status: 422 });
    expect((error as GitHubError).message).toBe(
      'createPullRequest (octo/repo): 422 Validation Failed: A pull request already exists for octo:autoloop/12/run.',
    );
    expect((error as GitHubError).cause).toMatchObject({ name: 'HttpError', status: 422 });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('answers "a pull request already exists" with a PullRequestExistsError, any other 422 with a plain GitHubError', async () => {
    const exists = { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for octo:autoloop/12/exp-1.' }] };
    api().post(`${REPO}/pulls`).reply(422, exists);
    api().post(`${REPO}/pulls`).reply(422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] });
    const github = gateway();
    const request = { head: 'autoloop/12/exp-1', base: 'autoloop/12/run', title: 't', body: 'b', draft: false };
    const first = await github.createPullRequest(request).catch((caught: unknown) => caught);
    expect(first).toBeInstanceOf(PullRequestExistsError);
    expect(first).toMatchObject({ name: 'PullRequestExistsError', operation: 'createPullRequest', status: 422, subject: { repo: 'octo/repo', operation: 'createPullRequest' } });
    const second = await github.createPullRequest(request).catch((caught: unknown) => caught);
    expect(second).toBeInstanceOf(GitHubError);
    expect(second).not.toBeInstanceOf(PullRequestExistsError);
    expect((second as GitHubError).message).toBe('createPullRequest (octo/repo): 422 Validation Failed: PullRequest head invalid');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('updates only the fields given', async () => {
    api().patch(`${REPO}/pulls/7`, { body: 'new dashboard' }).reply(200, pullPayload());
    await gateway().updatePullRequest(7, { body: 'new dashboard' });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('closes and labels a pull request in one request to its issue, and says how many comments it has', async () => {
    api().patch(`${REPO}/issues/7`, { state: 'closed', labels: ['autoloop', 'autoloop:discarded'] }).reply(200, { number: 7, state: 'closed', comments: 0 });
    api().patch(`${REPO}/issues/8`, { labels: ['autoloop'] }).reply(200, { number: 8, state: 'closed', comments: 2 });
    const github = gateway();
    expect(await github.updateIssue(7, { state: 'closed', labels: ['autoloop', 'autoloop:discarded'] })).toStrictEqual({ comments: 0 });
    expect(await github.updateIssue(8, { labels: ['autoloop'] })).toStrictEqual({ comments: 2 });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('marks a draft ready for review with the GraphQL mutation on its node id', async () => {
    let sent: { query: string; variables: Record<string, unknown> } | undefined;
    api().get(`${REPO}/pulls/7`).reply(200, pullPayload());
    api()
      .post('/graphql', (body) => {
        sent = body;
        return true;
      })
      .reply(200, { data: { markPullRequestReadyForReview: { pullRequest: { isDraft: false } } } });
    await gateway().markReadyForReview(7);
    expect(sent?.variables).toStrictEqual({ pullRequestId: 'PR_kwDOexample' });
    expect(sent?.query).toContain('markPullRequestReadyForReview(input: { pullRequestId: $pullRequestId })');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('leaves a pull request that is already ready, and wraps GraphQL errors', async () => {
    api().get(`${REPO}/pulls/7`).reply(200, pullPayload({ draft: false }));
    api().get(`${REPO}/pulls/8`).reply(200, pullPayload({ number: 8 }));
    api()
      .post('/graphql')
      .reply(200, { data: null, errors: [{ type: 'FORBIDDEN', message: 'Resource not accessible by integration' }] });
    const github = gateway();
    await github.markReadyForReview(7);
    await expect(github.markReadyForReview(8)).rejects.toThrow('markReadyForReview (octo/repo): Resource not accessible by integration');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('requests users and teams as reviewers', async () => {
    api()
      .post(`${REPO}/pulls/7/requested_reviewers`, { reviewers: ['alice', 'bob'], team_reviewers: ['perf'] })
      .reply(201, pullPayload());
    const github = gateway();
    await github.requestReviewers(7, ['alice', '@octo/perf', '@bob']);
    await github.requestReviewers(7, []); // Nothing to ask: no request.
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('adds labels', async () => {
    api().post(`${REPO}/issues/7/labels`, { labels: ['autoloop:discarded'] }).reply(200, [{ name: 'autoloop:discarded' }]);
    await gateway().addLabels(7, ['autoloop:discarded']);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('keeps an experiment by fast-forwarding the run branch to the measured SHA, never forced', async () => {
    const bodies: unknown[] = [];
    api()
      .patch(/\/git\/refs\/heads(%2F|\/)autoloop(%2F|\/)12(%2F|\/)run$/, (body) => bodies.push(body) > 0)
      .reply(200, { ref: 'refs/heads/autoloop/12/run', object: { type: 'commit', sha: SHA } });
    expect(await gateway().fastForward('autoloop/12/run', SHA)).toBe('moved');
    expect(bodies).toStrictEqual([{ sha: SHA, force: false }]);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('tells a refused fast-forward (the branch moved) from one already done (a redelivery), and throws on anything else', async () => {
    const refused = { message: 'Update is not a fast forward', documentation_url: 'https://docs.github.com/rest/git/refs#update-a-reference', status: '422' };
    api().patch(/\/git\/refs\//).reply(422, refused);
    api().get(`${REPO}/git/ref/heads%2Fautoloop%2F12%2Frun`).reply(200, { ref: 'refs/heads/autoloop/12/run', object: { sha: BASE_SHA } });
    api().patch(/\/git\/refs\//).reply(422, refused);
    api().get(`${REPO}/git/ref/heads%2Fautoloop%2F12%2Frun`).reply(200, { ref: 'refs/heads/autoloop/12/run', object: { sha: SHA } });
    api().patch(/\/git\/refs\//).reply(403, { message: 'Resource not accessible by integration' });
    const github = gateway();
    expect(await github.fastForward('autoloop/12/run', SHA)).toBe('not-fast-forward');
    expect(await github.fastForward('autoloop/12/run', SHA)).toBe('already');
    await expect(github.fastForward('autoloop/12/run', SHA)).rejects.toThrow('fastForward (octo/repo): 403');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});

describe('comments', () => {
  const MARKER = '<!-- autoloop:experiment -->';

  it("updates the App's marked comment, not a human's comment quoting the marker", async () => {
    api()
      .get(`${REPO}/issues/7/comments`)
      .query({ per_page: '100' })
      .reply(200, [
        commentPayload(1, `> ${MARKER} why did this fail?`, { login: 'alice', type: 'User' }),
        commentPayload(2, `${MARKER}\nold`, { login: 'other-app[bot]', type: 'Bot' }),
      ], { link: `<${API}${REPO}/issues/7/comments?per_page=100&page=2>; rel="next"` });
    api()
      .get(`${REPO}/issues/7/comments`)
      .query({ per_page: '100', page: '2' })
      .reply(200, [commentPayload(3, `${MARKER}\nold`, { login: 'autoloop[bot]', type: 'Bot' })]);
    api().patch(`${REPO}/issues/comments/3`, { body: `${MARKER}\nnew` }).reply(200, { id: 3 });
    expect(await gateway().upsertComment(7, MARKER, `${MARKER}\nnew`)).toBe(3);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('creates the comment when only a human has used the marker', async () => {
    api()
      .get(`${REPO}/issues/7/comments`)
      .query({ per_page: '100' })
      .reply(200, [commentPayload(1, MARKER, { login: 'alice', type: 'User' })]);
    api().post(`${REPO}/issues/7/comments`, { body: `${MARKER}\nfirst` }).reply(201, { id: 42 });
    expect(await gateway().upsertComment(7, MARKER, `${MARKER}\nfirst`)).toBe(42);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('writes nothing when the App slug is not known: no other bot counts as the App', async () => {
    // No request at all: nock would report any (net connect is disabled).
    await expect(gateway({}).upsertComment(7, MARKER, 'new')).rejects.toBeInstanceOf(UnknownAppIdentityError);
    await expect(gateway({}).setCheckRun({ name: 'autoloop/gate', sha: 'a'.repeat(40), status: 'completed', conclusion: 'success', output: { title: 't', summary: 's' } })).rejects.toThrow(
      "setCheckRun (octo/repo): the App's identity is unknown (GET /app failed)",
    );
    await expect(gateway({}).createComment(7, 'hello')).rejects.toBeInstanceOf(UnknownAppIdentityError);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('creates a plain comment and reacts to one', async () => {
    api().post(`${REPO}/issues/7/comments`, { body: 'Only collaborators with write access can start a run.' }).reply(201, { id: 43 });
    api().post(`${REPO}/issues/comments/11/reactions`, { content: 'eyes' }).reply(201, { id: 1, content: 'eyes' });
    const github = gateway();
    expect(await github.createComment(7, 'Only collaborators with write access can start a run.')).toBe(43);
    await github.reactToComment(11, 'eyes');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});

describe('checks and workflows', () => {
  const output = { title: 'keep: -12.5%', summary: 'Faster by 12.5% (95% CI -15% to -10%).' };

  it("updates the App's existing check run, the newest of its own, and says it updated", async () => {
    api()
      .get(`${REPO}/commits/${SHA}/check-runs`)
      .query({ check_name: 'autoloop/gate', filter: 'all', per_page: '100' })
      .reply(200, {
        total_count: 3,
        check_runs: [
          { id: 9, name: 'autoloop/gate', app: { slug: 'impostor' } },
          { id: 5, name: 'autoloop/gate', app: { slug: 'autoloop' } },
          { id: 2, name: 'autoloop/gate', app: { slug: 'autoloop' } },
        ],
      });
    api()
      .patch(`${REPO}/check-runs/5`, {
        status: 'completed',
        conclusion: 'success',
        output: { ...output, text: 'details' },
        details_url: 'https://github.com/octo/repo/pull/7',
      })
      .reply(200, { id: 5 });
    const written = await gateway().setCheckRun({
      name: 'autoloop/gate',
      sha: SHA,
      status: 'completed',
      conclusion: 'success',
      output: { ...output, text: 'details' },
      detailsUrl: 'https://github.com/octo/repo/pull/7',
    });
    expect(written).toStrictEqual({ written: 'updated', id: 5 });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('creates the check run when the App has none on the commit, and says it created it', async () => {
    api()
      .get(`${REPO}/commits/${SHA}/check-runs`)
      .query(true)
      .reply(200, { total_count: 1, check_runs: [{ id: 1, name: 'autoloop/gate', app: { slug: 'impostor' } }] });
    api()
      .post(`${REPO}/check-runs`, { name: 'autoloop/gate', head_sha: SHA, status: 'in_progress', output })
      .reply(201, { id: 3 });
    expect(await gateway().setCheckRun({ name: 'autoloop/gate', sha: SHA, status: 'in_progress', output })).toStrictEqual({ written: 'created', id: 3 });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('creates the check run without a lookup when the caller knows there is none, and updates one by the id it knows', async () => {
    api().post(`${REPO}/check-runs`, { name: 'autoloop/gate', head_sha: SHA, status: 'completed', conclusion: 'failure', output }).reply(201, { id: 3 });
    api().patch(`${REPO}/check-runs/11`, { status: 'in_progress', output }).reply(200, { id: 11 });
    expect(await gateway().setCheckRun({ name: 'autoloop/gate', sha: SHA, status: 'completed', conclusion: 'failure', output, known: 'none' })).toStrictEqual({ written: 'created', id: 3 });
    expect(await gateway().setCheckRun({ name: 'autoloop/gate', sha: BASE_SHA, status: 'in_progress', output, known: 11 })).toStrictEqual({ written: 'updated', id: 11 });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('looks the check run up after all when GitHub does not know the id it was given', async () => {
    api().patch(`${REPO}/check-runs/11`).reply(404, { message: 'Not Found' });
    api().get(`${REPO}/commits/${SHA}/check-runs`).query(true).reply(200, { total_count: 1, check_runs: [{ id: 12, name: 'autoloop/gate', app: { slug: 'autoloop' } }] });
    api().patch(`${REPO}/check-runs/12`, { status: 'in_progress', output }).reply(200, { id: 12 });
    expect(await gateway().setCheckRun({ name: 'autoloop/gate', sha: SHA, status: 'in_progress', output, known: 11 })).toStrictEqual({ written: 'updated', id: 12 });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('updates a check run it set in the same event by its id, without looking it up again; another commit is looked up', async () => {
    api().get(`${REPO}/commits/${SHA}/check-runs`).query(true).once().reply(200, { total_count: 0, check_runs: [] });
    api().post(`${REPO}/check-runs`, { name: 'autoloop/gate', head_sha: SHA, status: 'completed', conclusion: 'success', output }).reply(201, { id: 3 });
    api().patch(`${REPO}/check-runs/3`, { status: 'completed', conclusion: 'failure', output }).reply(200, { id: 3 });
    api().get(`${REPO}/commits/${BASE_SHA}/check-runs`).query(true).once().reply(200, { total_count: 0, check_runs: [] });
    api().post(`${REPO}/check-runs`, { name: 'autoloop/gate', head_sha: BASE_SHA, status: 'completed', conclusion: 'failure', output }).reply(201, { id: 4 });
    const github = gateway();
    expect(await github.setCheckRun({ name: 'autoloop/gate', sha: SHA, status: 'completed', conclusion: 'success', output })).toMatchObject({ written: 'created' });
    expect(await github.setCheckRun({ name: 'autoloop/gate', sha: SHA, status: 'completed', conclusion: 'failure', output })).toMatchObject({ written: 'updated' });
    expect(await github.setCheckRun({ name: 'autoloop/gate', sha: BASE_SHA, status: 'completed', conclusion: 'failure', output })).toMatchObject({ written: 'created' });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('dispatches a workflow with its inputs', async () => {
    api()
      .post(`${REPO}/actions/workflows/autoloop.yml/dispatches`, { ref: 'autoloop/12/run', inputs: { mode: 'propose', experiment: '1' } })
      .reply(204);
    await gateway().dispatchWorkflow('autoloop.yml', 'autoloop/12/run', { mode: 'propose', experiment: '1' });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});

describe('with the Octokit Probot gives handlers', () => {
  it('works the same over a ProbotOctokit', async () => {
    const probotOctokit = new ProbotOctokit({ auth: { token: 'test' }, retry: { enabled: false }, throttle: { enabled: false } });
    api().get(`${REPO}/collaborators/alice/permission`).matchHeader('authorization', 'token test').reply(200, { permission: 'admin', role_name: 'admin' });
    const github = new OctokitGateway(probotOctokit, { owner: 'octo', repo: 'repo' });
    expect(await github.permission('alice')).toBe('admin');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});
