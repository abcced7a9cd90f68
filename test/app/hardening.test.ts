/**
 * Hardening of the App end to end (through Probot, against the stateful fake GitHub): whom it trusts, what
 * it starts a run from, what survives a restart, and what a hostile comment can make it do.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeState } from '../../src/core/app/state-codec.js';
import { APP_BOT } from '../fixtures/api/github/model.js';
import type { FakeGitHub } from '../fixtures/api/github/server.js';
import { AppHarness } from '../fixtures/drivers/harness.js';
import { ISSUE, MAINTAINER, runStateOf, SAMPLES } from '../fixtures/drivers/scenario.js';
import { commentPayload } from '../fixtures/events/payloads.js';
import { STATUS_MARKER } from '../../src/core/protocol/protocol.js';

const RUN_BRANCH = `autoloop/${ISSUE}/run`;

let fake: FakeGitHub;
let app: AppHarness;

beforeEach(async () => {
  ({ fake, app } = await AppHarness.started());
});

afterEach(() => fake.stopChecked());

const runState = () => runStateOf(fake);

const botComments = (issue = ISSUE) => fake.commentsOn(issue).filter((c) => c.user.login === APP_BOT);
const createdBranches = () => fake.history().filter((r) => r.route === 'POST /repos/{owner}/{repo}/git/refs');

/** A person's comment whose payload claims `association`; the comment is in the fake and its webhook delivered. */
async function commentAs(user: string, association: string, body: string, id: number): Promise<void> {
  const payload = commentPayload(fake, body, { user, id });
  (payload.comment as Record<string, unknown>).author_association = association;
  fake.addComment(ISSUE, body, { login: user, type: 'User' }, id);
  await app.receive('issue_comment', payload);
}

describe('whom the App trusts: the permission API, never the payload', () => {
  it('starts a run for a private-org member the payload calls CONTRIBUTOR but who has write permission', async () => {
    fake.permissions.set('hidden-member', 'write');
    await commentAs('hidden-member', 'CONTRIBUTOR', '/optimize', 4_100_001);
    expect(fake.history().some((r) => r.route === 'GET /repos/{owner}/{repo}/collaborators/{user}/permission' && r.path.endsWith('/hidden-member/permission'))).toBe(true);
    // One empty commit on main: the run branch has a commit of its own, with main's tree.
    expect(fake.commits.get(fake.refs.get(RUN_BRANCH)!)!.parents).toStrictEqual([fake.refs.get('main')]);
    const run = fake.pullByHead(RUN_BRANCH);
    expect(run).toMatchObject({ state: 'open', draft: true, base: { ref: 'main' } });
    expect(runState()).toMatchObject({ status: 'running', startedBy: 'hidden-member', experiments: [{ k: 1, state: 'proposing' }] });
    expect(fake.dispatches).toHaveLength(1);
  });

  it('refuses a user the payload calls OWNER whose permission is read: one reply, no branch, no dispatch', async () => {
    fake.permissions.set('claims-owner', 'read');
    fake.clearRequests();
    await commentAs('claims-owner', 'OWNER', '/optimize', 4_100_002);
    expect(fake.writes().map((w) => w.route)).toStrictEqual(['POST /repos/{owner}/{repo}/issues/{number}/comments']);
    expect(botComments()).toHaveLength(1);
    expect(botComments()[0]!.body).toContain('claims-owner has `read` permission');
    expect(fake.refs.has(RUN_BRANCH)).toBe(false);
    expect(createdBranches()).toStrictEqual([]);
    expect(fake.pulls).toStrictEqual([]);
    expect(fake.dispatches).toStrictEqual([]);
  });
});

describe('/optimize on a pull request from a fork', () => {
  it('starts the run from the default branch, and never reads the fork head', async () => {
    const main = fake.refs.get('main')!;
    // The fork's commit: known to GitHub (fork commits are reachable through the pull request), on no branch here.
    const forkHead = fake.commit(main, { 'eval.js': "console.log('METRIC val_loss=0.0001');\n", 'params.json': '{ "lr": 9 }\n' }, 'innocent change');
    const number = fake.newIssueNumber();
    fake.pulls.push({
      number,
      title: 'Improve things',
      body: '/optimize',
      state: 'open',
      merged: false,
      draft: false,
      head: { ref: 'patch-1', sha: forkHead },
      base: { ref: 'main', sha: main },
      labels: [],
      requestedReviewers: [],
      teamReviewers: [],
      user: 'outsider',
      headRepo: 'outsider/model',
    });
    const payload = commentPayload(fake, '/optimize', { issue: number, id: 4_100_003 });
    Object.assign(payload.issue as Record<string, unknown>, {
      pull_request: {
        url: `https://api.github.com/repos/${fake.owner}/${fake.repo}/pulls/${number}`,
        html_url: `https://github.com/${fake.owner}/${fake.repo}/pull/${number}`,
        diff_url: `https://github.com/${fake.owner}/${fake.repo}/pull/${number}.diff`,
        patch_url: `https://github.com/${fake.owner}/${fake.repo}/pull/${number}.patch`,
        merged_at: null,
      },
    });
    fake.addComment(number, '/optimize', { login: MAINTAINER, type: 'User' }, 4_100_003);
    await app.receive('issue_comment', payload);

    const runBranch = `autoloop/${number}/run`;
    const created = createdBranches();
    expect(created).toHaveLength(1);
    // The run starts one empty commit ahead of main (main's tree, main its parent), never from the fork's head.
    const runStart = fake.refs.get(runBranch)!;
    expect(created[0]!.body).toStrictEqual({ ref: `refs/heads/${runBranch}`, sha: runStart });
    expect(fake.commits.get(runStart)!.parents).toStrictEqual([main]);
    expect(fake.treeSha(runStart)).toBe(fake.treeSha(main));
    expect(fake.pullByHead(runBranch)).toMatchObject({ base: { ref: 'main', sha: main }, head: { ref: runBranch, sha: runStart } });
    expect(fake.dispatches.map((d) => d.inputs['parent-sha'])).toStrictEqual([runStart]);
    const state = decodeState(fake.pullByHead(runBranch)!.body)!;
    expect(state).toMatchObject({ baseBranch: 'main', baseSha: main });
    // Not one request names the fork's head, by SHA or by branch, in its path or its query.
    const touched = fake.history().filter((r) => {
      const text = `${decodeURIComponent(r.path)}?${Object.values(r.query).join('&')}`;
      return text.includes(forkHead) || text.includes('patch-1');
    });
    expect(touched).toStrictEqual([]);
    expect(JSON.stringify(fake.writes().map((w) => w.body))).not.toContain(forkHead);
  });
});

describe('the App restarts mid-run', () => {
  it('picks the run up from GitHub alone: judges, merges, dispatches the next, and answers status', async () => {
    await app.comment('/optimize lower the loss');
    await app.propose(1);
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!;
    const run = runState().pullRequest!;
    expect(runState().experiments).toMatchObject([{ k: 1, state: 'evaluating', pullRequest: exp1.number }]);

    // A new process: a new Probot, the App loaded afresh, nothing carried over but what GitHub holds.
    const restarted = await app.restarted();
    expect(restarted).not.toBe(app);
    expect(restarted.probot).not.toBe(app.probot);
    await restarted.evaluateExperiment(1, { samples: SAMPLES.improved });

    expect(fake.pull(exp1.number)).toMatchObject({ state: 'closed', merged: true });
    expect(fake.checkRunsFor(exp1.head.sha).map((c) => c.conclusion)).toStrictEqual(['success']);
    const afterMerge = fake.refs.get(RUN_BRANCH)!;
    expect(fake.dispatches.map((d) => d.inputs)).toStrictEqual([
      { run: String(ISSUE), experiment: '1', 'parent-sha': exp1.base.sha },
      { run: String(ISSUE), experiment: '2', 'parent-sha': afterMerge },
    ]);
    expect(runState().experiments.map((e) => [e.k, e.state])).toStrictEqual([
      [1, 'kept'],
      [2, 'proposing'],
    ]);
    // Exactly one run PR, one status comment, one experiment PR (opened by the first instance only).
    expect(fake.pulls.filter((p) => p.head.ref === RUN_BRANCH)).toHaveLength(1);
    expect(fake.pulls.filter((p) => p.head.ref === `autoloop/${ISSUE}/exp-1`)).toHaveLength(1);
    expect(fake.pulls).toHaveLength(2);
    const status = botComments();
    expect(status).toHaveLength(1);
    expect(status[0]!.id).toBe(runState().statusComment);
    // It says what changes at a step of the run, not each experiment (the dashboard does): still running, as it was written.
    expect(status[0]!.body).toMatch(/^<!-- autoloop:status -->\n\*\*autoloop is running\.\*\*/);
    expect(fake.pull(run).body).toContain('1 kept');
    expect(fake.commentsOn(exp1.number).filter((c) => c.user.login === APP_BOT)).toHaveLength(1);
    // GitHub's echoes of the merge, to the new instance: nothing more.
    fake.clearRequests();
    await restarted.flush();
    expect(fake.writes()).toStrictEqual([]);

    // /optimize status to the new instance: where the run stands now.
    await restarted.comment('/optimize status', { id: 4_100_004 });
    const replies = botComments();
    expect(replies).toHaveLength(2);
    const reply = replies.at(-1)!;
    expect(reply.id).not.toBe(status[0]!.id);
    // The reply carries no status marker: only the status comment may be found by it.
    expect(reply.body).not.toContain(STATUS_MARKER);
    expect(reply.body).toContain('1 of 3 experiments done, 1 in flight');
    expect(reply.body).toContain(`run pull request #${run}`);
    expect(reply.body).toContain('Best so far **0.45** (experiment 1)');
    expect(fake.pulls).toHaveLength(2);
    expect(fake.dispatches).toHaveLength(2);
  });
});

describe('a huge comment', () => {
  it('does nothing for a 1 MB /optimize comment: no branch, no dispatch, at most one reply', async () => {
    const body = `/optimize ${'x'.repeat(1024 * 1024 - 10)}`;
    expect(body.length).toBe(1024 * 1024);
    await app.comment(body, { id: 4_100_005 });
    expect(botComments().length).toBeLessThanOrEqual(1);
    expect(fake.refs.has(RUN_BRANCH)).toBe(false);
    expect(createdBranches()).toStrictEqual([]);
    expect(fake.pulls).toStrictEqual([]);
    expect(fake.dispatches).toStrictEqual([]);
    // The reply, if any, does not echo the comment back.
    for (const reply of botComments()) expect(reply.body.length).toBeLessThan(2_000);
  });

  it('does nothing for a 1 MB comment whose /optimize line comes last', async () => {
    const command = '/optimize 3';
    const body = `${'x\n'.repeat((1024 * 1024 - command.length) / 2)}${command}`.padStart(1024 * 1024, 'y');
    expect(body.length).toBe(1024 * 1024);
    await app.comment(body, { id: 4_100_006 });
    expect(botComments().length).toBeLessThanOrEqual(1);
    expect(createdBranches()).toStrictEqual([]);
    expect(fake.dispatches).toStrictEqual([]);
  });
});
