import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveStateKey, sealState } from '../../src/core/app/state-codec.js';
import type { AppExperiment } from '../../src/core/app/state.js';
import { parseConfig } from '../../src/core/config/config.js';
import { SIGMA_FAILURE, SIGMA_INITIAL, SIGMA_SUCCESS, type Point } from '../../src/core/propose/tune-search.js';
import { runLoop } from '../../src/engine/loop.js';
import { gitSync, makeQuadraticRepo, quadraticConfig } from '../fixtures/local/repo.js';
import { recordingArtifacts, runAction } from '../fixtures/drivers/runner.js';
import { webhookExample } from '../fixtures/events/webhooks.js';
import { scriptedProposer } from '../fixtures/drivers/scripted-proposer.js';
import type { ActionDependencies } from '../../src/action/dependencies.js';
import { makeAppExperiment, makeAppRunState } from '../fixtures/records/app-state.js';
import { createProposer } from '../../src/proposers/index.js';

/** A repository with a bare `origin`, and the run branch `autoloop/42/run` at main. */
function repoWithOrigin(budget?: string): { repo: string; origin: string; head: string } {
  const repo = makeQuadraticRepo(budget);
  const origin = join(mkdtempSync(join(tmpdir(), 'autoloop-origin-')), 'origin.git');
  execFileSync('git', ['clone', '--quiet', '--bare', repo, origin]);
  gitSync(repo, 'remote', 'add', 'origin', origin);
  gitSync(repo, 'branch', 'autoloop/42/run');
  return { repo, origin, head: gitSync(repo, 'rev-parse', 'HEAD') };
}

const dispatch = webhookExample('workflow_dispatch');

/** The action in propose mode, dispatched as the App would, for experiment `experiment` of run 42 on `parent`. */
function propose(repo: string, parent: string, options: { experiment?: string; ledger?: string; token?: string; artifacts?: ReturnType<typeof recordingArtifacts>; proposer?: ActionDependencies['proposer'] } = {}) {
  return runAction({
    workspace: repo,
    eventName: 'workflow_dispatch',
    event: dispatch,
    inputs: {
      mode: 'propose',
      run: '42',
      experiment: options.experiment ?? '1',
      'parent-sha': parent,
      ...(options.ledger ? { 'ledger-file': options.ledger } : {}),
      ...(options.token ? { token: options.token } : {}),
    },
    dependencies: { artifacts: options.artifacts ?? recordingArtifacts(), ...(options.proposer ? { proposer: options.proposer } : {}) },
  });
}

const API = 'https://api.github.com';

beforeEach(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('action, mode: propose', () => {
  it('proposes inside the scope, commits the hypothesis and pushes the experiment branch', async () => {
    const { repo, origin, head } = repoWithOrigin();
    const artifacts = recordingArtifacts();
    const result = await propose(repo, head, { artifacts });
    expect(result.exitCode).toBe(0);
    expect(result.outputs).toMatchObject({ status: 'proposed', branch: 'autoloop/42/exp-1' });
    const commit = result.outputs.commit!;
    expect(gitSync(origin, 'rev-parse', 'refs/heads/autoloop/42/exp-1')).toBe(commit);
    expect(gitSync(repo, 'rev-parse', `${commit}^`)).toBe(head);
    expect(gitSync(repo, 'log', '-1', '--format=%s', commit)).toBe(result.outputs.hypothesis);
    expect(result.outputs.hypothesis).toMatch(/^[xy] 0 → -?[\d.]+/);
    expect(gitSync(repo, 'diff', '--name-only', head, commit)).toBe('params.json');
    // The user's checkout is untouched.
    expect(gitSync(repo, 'status', '--porcelain')).toBe('');
    expect(artifacts.uploads.map((u) => [u.name, u.files.map((f) => basename(f)).sort()])).toEqual([['autoloop-trace', ['diff.patch', 'proposal.json']]]);
  });

  it('never pushes a proposal outside the scope, and says which paths', async () => {
    const { repo, origin } = repoWithOrigin();
    // An agent that writes outside scope.edit as well as the tuned file: its proposal is out of scope. (The built-in
    // proposers never write there; this is the Action's own check, for one that would.)
    const parent = gitSync(repo, 'rev-parse', 'HEAD');
    const hostile = scriptedProposer([
      (worktree) => {
        writeFileSync(join(worktree, 'notes.txt'), 'note\n');
        writeFileSync(join(worktree, 'params.json'), '{ "x": 1, "y": 1 }\n');
      },
    ]);
    const artifacts = recordingArtifacts();
    const result = await propose(repo, parent, { artifacts, proposer: () => hostile });
    expect(result.outputs.status).toBe('out-of-scope');
    expect(result.exitCode).toBe(1);
    const errors = result.commands.filter((c) => c.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('notes.txt (added) is outside scope.edit (params.json)');
    expect(() => gitSync(origin, 'rev-parse', '--verify', '--quiet', 'refs/heads/autoloop/42/exp-1')).toThrow();
    expect(artifacts.uploads[0]?.name).toBe('autoloop-trace');
  });

  it('reads the run so far from ledger-file and refuses one that was altered', async () => {
    const { repo, head } = repoWithOrigin('{ experiments: 2 }');
    const earlier = await runLoop({ proposer: createProposer, cwd: repo, tag: 'memory' });
    const ledger = earlier.paths.ledger;
    // With a ledger the run pull request is not read (nock refuses any request): the ledger takes precedence.
    const ok = await propose(repo, head, { experiment: '3', ledger: ledger, token: 'test-token' });
    expect(ok.exitCode).toBe(0);
    expect(ok.commands.filter((c) => c.startsWith('::warning'))).toEqual([]);
    // The proposer never repeats a point the ledger says was measured.
    const measured = earlier.experiments.map((e) => JSON.stringify(e.proposer.notes.params ?? null));
    const proposal = JSON.parse(readFileSync(join(repo, '.autoloop/42/traces/exp-0003/proposal.json'), 'utf8')) as { notes: { params: unknown } };
    expect(measured).not.toContain(JSON.stringify(proposal.notes.params));

    await writeFile(ledger, readFileSync(ledger, 'utf8').replace('"metric":10.5', '"metric":0.5'));
    const altered = await propose(repo, head, { experiment: '3', ledger: ledger });
    expect(altered.exitCode).toBe(1);
    expect(altered.commands.find((c) => c.startsWith('::error'))).toContain('was changed after it was written');
  });

  it('names a missing or malformed input', async () => {
    const { repo } = repoWithOrigin();
    const missing = await runAction({ workspace: repo, inputs: { mode: 'propose', run: '42', experiment: '1' }, dependencies: { artifacts: recordingArtifacts() } });
    expect(missing.commands[0]).toContain('input parent-sha: required with mode: propose');
    const bad = await runAction({ workspace: repo, inputs: { mode: 'propose', run: '42', experiment: 'two', 'parent-sha': 'x' }, dependencies: { artifacts: recordingArtifacts() } });
    expect(bad.commands[0]).toContain('input experiment: expected a whole number of at least 1, got \\"two\\"'.replace(/\\"/g, '"'));
  });
});

const config = parseConfig(quadraticConfig(), '.github/autoloop.yml');
const loss = (point: Point) => ((point.x as number) - 3) ** 2 + ((point.y as number) + 1) ** 2 + 0.5;
const json = (point: Point) => `${JSON.stringify(point, null, 2)}\n`;

/** What the tune proposer writes for experiment `k` on `point` when it knows nothing of the run: what a proposal without history gets. */
async function proposalWithoutHistory(point: Point, k: number): Promise<Point> {
  const worktree = mkdtempSync(join(tmpdir(), 'autoloop-tune-'));
  writeFileSync(join(worktree, 'params.json'), json(point));
  const proposal = await createProposer(config).propose({ worktree, config, experiment: k, history: [] });
  return proposal!.notes.params as Point;
}

const POINT_A: Point = { x: 2, y: -1 };

/**
 * Run 42 of the App, two experiments in, as the propose job of experiment 3 finds it: the run branch holds the App's
 * start commit and experiment 1 (point A, kept: the run branch was fast-forwarded to it); experiment 2 (point B, from A,
 * discarded) is on its branch. B is the point tune proposes for experiment 3 from A when it knows nothing of the run,
 * so a proposal without the run's history repeats it.
 */
async function appRun(): Promise<{ repo: string; base: string; start: string; a: string; b: string; pointB: Point; runPullRequest: (experiments?: (exps: AppExperiment[]) => AppExperiment[]) => object }> {
  const { repo, head: base } = repoWithOrigin();
  gitSync(repo, 'checkout', '--quiet', 'autoloop/42/run');
  gitSync(repo, 'commit', '--quiet', '--allow-empty', '-m', 'autoloop: start run #42');
  const start = gitSync(repo, 'rev-parse', 'HEAD');
  writeFileSync(join(repo, 'params.json'), json(POINT_A));
  gitSync(repo, 'commit', '--quiet', '-am', 'x 0 → 2, y 0 → -1');
  const a = gitSync(repo, 'rev-parse', 'HEAD');
  gitSync(repo, 'branch', 'autoloop/42/exp-1');
  const pointB = await proposalWithoutHistory(POINT_A, 3);
  gitSync(repo, 'checkout', '--quiet', '-b', 'autoloop/42/exp-2');
  writeFileSync(join(repo, 'params.json'), json(pointB));
  gitSync(repo, 'commit', '--quiet', '-am', 'experiment 2');
  const b = gitSync(repo, 'rev-parse', 'HEAD');
  gitSync(repo, 'checkout', '--quiet', 'autoloop/42/run');
  const deltaB = loss(pointB) - loss(POINT_A);
  const experiments: AppExperiment[] = [
    makeAppExperiment({ k: 1, state: 'kept', parentSha: start, branch: 'autoloop/42/exp-1', headSha: a, baseline: 10.5, candidate: 1.5, delta: -9, deltaRelative: -9 / 10.5, verdict: 'improved' }),
    makeAppExperiment({ k: 2, state: 'discarded', parentSha: a, branch: 'autoloop/42/exp-2', headSha: b, baseline: 1.5, candidate: loss(pointB), delta: deltaB, verdict: deltaB > 0 ? 'regressed' : 'no-change' }),
    { k: 3, state: 'proposing', parentSha: a, dispatchedAt: '2025-01-01T00:10:00.000Z' },
  ];
  const runPullRequest = (edit: (exps: AppExperiment[]) => AppExperiment[] = (exps) => exps) => {
    const state = makeAppRunState({ issue: 42, runBranch: 'autoloop/42/run', baseSha: base, startSha: start, pullRequest: 50, metric: { name: 'loss', goal: 'minimize' }, experiments: edit(experiments) });
    const marker = sealState(state, { key: deriveStateKey('webhook-secret'), repository: 'octo-org/optimised', pullRequest: 50 });
    return { number: 50, state: 'open', head: { ref: 'autoloop/42/run' }, body: `## autoloop run #42\n\nThe dashboard.\n\n${marker}` };
  };
  return { repo, base, start, a, b, pointB, runPullRequest };
}

/** The run pull request, as the propose job asks for it. */
function runPullRequestQuery() {
  return nock(API).get('/repos/octo-org/optimised/pulls').query({ head: 'octo-org:autoloop/42/run', state: 'all', sort: 'created', direction: 'desc', per_page: '1' });
}

type TuneNotes = { params: Point; from: Point; sigma: number };

function proposed(repo: string, k: number): TuneNotes {
  return (JSON.parse(readFileSync(join(repo, `.autoloop/42/traces/exp-${String(k).padStart(4, '0')}/proposal.json`), 'utf8')) as { notes: TuneNotes }).notes;
}

describe('action, mode: propose, in an App run', () => {
  it("gives the proposer the run's history from the run pull request's state and the experiment commits", async () => {
    const { repo, a, pointB, runPullRequest } = await appRun();
    runPullRequestQuery().reply(200, [runPullRequest()]);
    const result = await propose(repo, a, { experiment: '3', token: 'test-token' });
    expect(result.exitCode, result.commands.join('\n')).toBe(0);
    expect(nock.pendingMocks()).toStrictEqual([]);
    expect(result.commands.filter((c) => c.startsWith('::warning'))).toEqual([]);
    expect(result.outputs.status).toBe('proposed');
    const notes = proposed(repo, 3);
    // It starts from A, the kept point, and proposes neither A, nor B (measured and discarded), nor the base again.
    expect(notes.from).toEqual(POINT_A);
    expect([POINT_A, pointB, { x: 0, y: 0 }]).not.toContainEqual(notes.params);
    // The step size is replayed from both: experiment 1's keep grew it, experiment 2's regression shrank it.
    expect(loss(pointB)).toBeGreaterThan(loss(POINT_A));
    expect(notes.sigma).toBeCloseTo(SIGMA_INITIAL * SIGMA_SUCCESS * SIGMA_FAILURE, 10);
  });

  it('without pull-requests: read (403), says so and proposes without history', async () => {
    const { repo, a, pointB } = await appRun();
    runPullRequestQuery().reply(403, { message: 'Resource not accessible by integration' });
    const result = await propose(repo, a, { experiment: '3', token: 'test-token' });
    expect(result.exitCode, result.commands.join('\n')).toBe(0);
    expect(nock.pendingMocks()).toStrictEqual([]);
    const warnings = result.commands.filter((c) => c.startsWith('::warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('403');
    expect(warnings[0]).toContain('pull-requests: read');
    expect(result.outputs.status).toBe('proposed');
    expect(proposed(repo, 3).params).toEqual(pointB);
  });

  it('skips an experiment whose head commit is not in the repository, and learns from the others', async () => {
    const { repo, a, pointB, runPullRequest } = await appRun();
    const missing = 'e'.repeat(40);
    runPullRequestQuery().reply(200, [runPullRequest((exps) => exps.map((e) => (e.k === 2 ? { ...e, headSha: missing } : e)))]);
    const result = await propose(repo, a, { experiment: '3', token: 'test-token' });
    expect(result.exitCode, result.commands.join('\n')).toBe(0);
    const warnings = result.commands.filter((c) => c.startsWith('::warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`experiment 2 (${missing.slice(0, 12)})`);
    expect(warnings[0]).toContain('not in the checkout');
    // Experiment 1's keep grew the step, and nothing else reached the search.
    const notes = proposed(repo, 3);
    expect(notes.from).toEqual(POINT_A);
    expect(notes.sigma).toBeCloseTo(SIGMA_INITIAL * SIGMA_SUCCESS, 10);
    expect(notes.params).not.toEqual(pointB);
  });

  it('says so and proposes without history when the state is altered beyond reading, or is of another dispatch', async () => {
    const { repo, a, pointB, runPullRequest } = await appRun();
    const pull = runPullRequest() as { body: string };
    runPullRequestQuery().reply(200, [{ ...pull, body: pull.body.replace(/v1 (\S{20})/, 'v1 $1!!') }]);
    const altered = await propose(repo, a, { experiment: '3', token: 'test-token' });
    expect(altered.exitCode, altered.commands.join('\n')).toBe(0);
    expect(altered.commands.filter((c) => c.startsWith('::warning'))).toEqual([expect.stringContaining('state marker is malformed')]);
    expect(proposed(repo, 3).params).toEqual(pointB);

    // A state that did not dispatch experiment 3 from this parent is not this proposal's run.
    runPullRequestQuery().reply(200, [runPullRequest((exps) => exps.filter((e) => e.k !== 3))]);
    const other = await propose(repo, a, { experiment: '3', token: 'test-token' });
    expect(other.exitCode, other.commands.join('\n')).toBe(0);
    expect(other.commands.filter((c) => c.startsWith('::warning'))).toEqual([expect.stringContaining('the state lists no experiment 3')]);
    expect(proposed(repo, 3).params).toEqual(pointB);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});
