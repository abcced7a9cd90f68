/**
 * Attacks on the App's binding of events to its run, end to end through Probot over the fake GitHub: a fork's pull
 * request on an autoloop branch name, a fork's evaluation run with a forged result, a failed evaluation, an edited
 * run state, an App that cannot tell who it is. Each test performs the attack and asserts that nothing changed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppRunState } from '../../src/core/app/state.js';
import { ARTIFACTS, GATE_CHECK_NAME, RESULT_FILE, STATE_MARKER_PREFIX } from '../../src/core/protocol/protocol.js';
import { APP_BOT } from '../fixtures/api/github/model.js';
import type { FakeGitHub } from '../fixtures/api/github/server.js';
import { AppHarness } from '../fixtures/drivers/harness.js';
import { ISSUE, MAINTAINER, resultFor, runStateOf, SAMPLES } from '../fixtures/drivers/scenario.js';
import { workflowRunPayload } from '../fixtures/events/payloads.js';
import { deflateRawSync } from 'node:zlib';

const RUN_BRANCH = `autoloop/${ISSUE}/run`;
const EXP1 = `autoloop/${ISSUE}/exp-1`;
const FORK = 'outsider/model';
const OUTSIDER = { login: 'outsider', type: 'User' as const };

let fake: FakeGitHub;
let app: AppHarness;

beforeEach(async () => {
  ({ fake, app } = await AppHarness.started());
});

afterEach(() => fake.stopChecked());

const runState = () => runStateOf(fake);

const states = () => runState().experiments.map((e) => [e.k, e.state]);

/** A run with experiment 1 proposed: its pull request open, CI about to evaluate it. */
async function experimentOneEvaluating(): Promise<{ number: number; head: string }> {
  await app.comment('/optimize');
  await app.propose(1);
  const pull = fake.pullByHead(EXP1)!;
  expect(states()).toStrictEqual([[1, 'evaluating']]);
  return { number: pull.number, head: pull.head.sha };
}

describe('pull request events bound to the recorded pull requests of this repository', () => {
  it('a fork pull request on a branch named autoloop/12/exp-1, opened and closed, neither discards experiment 1 nor dispatches experiment 2', async () => {
    const exp1 = await experimentOneEvaluating();
    const fork = fake.openForkPull({ fork: FORK, ref: EXP1, sha: fake.commit(exp1.head, { 'README.md': '# hi\n' }), base: RUN_BRANCH });
    fake.close(fork.number, OUTSIDER);
    fake.clearRequests();
    await app.flush();
    expect(states()).toStrictEqual([[1, 'evaluating']]);
    expect(fake.dispatches).toHaveLength(1);
    expect(fake.writes()).toStrictEqual([]);
  });

  it('a fork branch autoloop/12/run at the run head SHA does not flip the run pull request\'s gate', async () => {
    await app.comment('/optimize');
    const runHead = fake.refs.get(RUN_BRANCH)!;
    const fork = fake.openForkPull({ fork: FORK, ref: RUN_BRANCH, sha: runHead, base: 'main' });
    fake.pendingEvents.push({ name: 'pull_request', action: 'synchronize', pull: fork.number, sender: OUTSIDER, before: fake.refs.get('main')! });
    fake.clearRequests();
    await app.flush();
    expect(fake.checkRunsFor(runHead)).toStrictEqual([]);
    expect(fake.writes()).toStrictEqual([]);
  });

  it('a push by a person to the real experiment pull request still holds its gate', async () => {
    const exp1 = await experimentOneEvaluating();
    const pushed = fake.commit(exp1.head, { 'params.json': '{ "lr": 0.9 }\n' });
    fake.push(EXP1, pushed, { login: MAINTAINER, type: 'User' });
    await app.flush();
    expect(fake.checkRunsFor(pushed).map((c) => [c.name, c.conclusion, c.output.title])).toStrictEqual([[GATE_CHECK_NAME, 'failure', 'changed after evaluation']]);
  });
});

describe('workflow runs bound to this repository, the experiment pull request, its head and a success', () => {
  it("a fork's workflow run with the real head SHA and a forged autoloop-result is not kept", async () => {
    const exp1 = await experimentOneEvaluating();
    fake.clearRequests();
    await app.evaluateExperiment(1, { samples: SAMPLES.improved, headRepository: FORK });
    expect(fake.refs.get(RUN_BRANCH)).not.toBe(exp1.head);
    expect(fake.pull(exp1.number)).toMatchObject({ state: 'open', merged: false });
    expect(states()).toStrictEqual([[1, 'evaluating']]);
    expect(fake.checkRunsFor(exp1.head)).toStrictEqual([]);
    expect(fake.dispatches).toHaveLength(1);
    // Not even its artifact was read.
    expect(fake.requests().filter((r) => r.route.includes('artifacts'))).toStrictEqual([]);
  });

  it('a run of this repository that names no pull request (or another one) is not the evaluation of experiment 1', async () => {
    const exp1 = await experimentOneEvaluating();
    await app.evaluateExperiment(1, { samples: SAMPLES.improved, pullRequests: [] });
    await app.evaluateExperiment(1, { samples: SAMPLES.improved, pullRequests: [fake.pullByHead(RUN_BRANCH)!.number] });
    expect(states()).toStrictEqual([[1, 'evaluating']]);
    expect(fake.refs.get(RUN_BRANCH)).not.toBe(exp1.head);
  });

  it('a failed evaluation run (conclusion failure) with a matching artifact is not kept: invalid, the conclusion as reason', async () => {
    const exp1 = await experimentOneEvaluating();
    await app.evaluateExperiment(1, { samples: SAMPLES.improved, conclusion: 'failure' });
    expect(fake.refs.get(RUN_BRANCH)).not.toBe(exp1.head);
    expect(runState().experiments[0]).toMatchObject({ state: 'invalid', reason: 'the evaluation workflow ended: failure' });
    expect(fake.pull(exp1.number)).toMatchObject({ state: 'closed', merged: false });
    expect(fake.commentsOn(exp1.number).at(-1)!.body).toContain('verification failed: the evaluation workflow ended: failure');
    expect(fake.checkRunsFor(exp1.head)).toStrictEqual([]);
  });

  it('the artifact comes from that run only: another run\'s result is not read for it', async () => {
    const exp1 = await experimentOneEvaluating();
    // A result for the right head, uploaded by some other run (id 1): the evaluation run itself uploaded none.
    fake.addArtifact(1, ARTIFACTS.result, { [RESULT_FILE]: JSON.stringify(resultFor(fake, fake.pull(exp1.number).base.sha, exp1.head, SAMPLES.improved)) });
    await app.evaluateExperiment(1, { noArtifact: true, conclusion: 'success' });
    expect(runState().experiments[0]).toMatchObject({ state: 'invalid', reason: 'no autoloop-result artifact in the evaluation run' });
    expect(fake.requests().filter((r) => r.route === 'GET /repos/{owner}/{repo}/actions/runs/{id}/artifacts').map((r) => r.path)).not.toContainEqual(expect.stringContaining('/runs/1/'));
  });

  it('a proposal run is bound by its name, the run branch, workflow_dispatch and the head it was dispatched on', async () => {
    await app.comment('/optimize');
    const dispatch = app.dispatchOf(1);
    // A dispatch by someone else, on another commit, named as experiment 1: not the App's proposal.
    const elsewhere = fake.commit(dispatch.sha, { 'README.md': '# other\n' });
    fake.push(`autoloop/${ISSUE}/exp-1`, fake.commit(elsewhere, { 'params.json': '{ "lr": 0.7 }\n' }, 'x\n\nautoloop experiment 1 (candidate)'));
    await app.receive('workflow_run', workflowRunPayload(fake, { id: 6_001, event: 'workflow_dispatch', conclusion: 'success', headBranch: RUN_BRANCH, headSha: elsewhere, displayTitle: `autoloop ${ISSUE} exp 1` }));
    expect(fake.pullByHead(EXP1)).toBeUndefined();
    expect(states()).toStrictEqual([[1, 'proposing']]);
  });
});

/** The run pull request's body with the state replaced by `edit(state)`, the marker's signature (if any) kept. */
function tamper(edit: (state: AppRunState) => AppRunState): void {
  const stored = fake.pulls.find((p) => p.head.ref === RUN_BRANCH && p.headRepo === undefined)!;
  const start = stored.body.lastIndexOf(STATE_MARKER_PREFIX);
  const marker = stored.body.slice(start, stored.body.indexOf('-->', start) + 3);
  const [version, payload, ...rest] = marker.slice(STATE_MARKER_PREFIX.length).trim().split(/\s+/);
  const forged = deflateRawSync(Buffer.from(JSON.stringify(edit(runState())))).toString('base64url');
  expect(payload).toBeDefined();
  stored.body = stored.body.replace(marker, [STATE_MARKER_PREFIX, version, forged, ...rest].join(' '));
}

describe('a run state only the App can write', () => {
  it('an edited state marker (41 experiments, best 0.0001) is refused with one comment, and nothing is dispatched or judged', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    await app.propose(2);
    expect(states()).toStrictEqual([
      [1, 'kept'],
      [2, 'evaluating'],
    ]);
    const run = fake.pullByHead(RUN_BRANCH)!;
    const exp2 = fake.pullByHead(`autoloop/${ISSUE}/exp-2`)!;
    tamper((state) => ({
      ...state,
      budget: { ...state.budget, experiments: 41, parallel: 8 },
      experiments: state.experiments.map((e) => (e.k === 1 ? { ...e, candidate: 0.0001 } : e)),
    }));
    const runHead = fake.refs.get(RUN_BRANCH);
    await app.evaluateExperiment(2, { samples: SAMPLES.improved });
    await app.evaluateExperiment(2, { samples: SAMPLES.improved });

    expect(fake.dispatches).toHaveLength(2);
    expect(fake.refs.get(RUN_BRANCH)).toBe(runHead);
    expect(fake.checkRunsFor(exp2.head.sha)).toStrictEqual([]);
    expect(fake.pull(exp2.number)).toMatchObject({ state: 'open', merged: false });
    const refusals = fake.commentsOn(run.number).filter((c) => c.user.login === APP_BOT);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.body).toMatch(/altered/);
    expect(refusals[0]!.body).toMatch(/paused/);
    // The body still holds what was written there: the App did not re-sign the edit.
    expect(runState().budget.experiments).toBe(41);
  });

  it('a state marker without a signature (an edit, or a state written before states were signed) is refused too', async () => {
    await app.comment('/optimize');
    const stored = fake.pulls.find((p) => p.head.ref === RUN_BRANCH)!;
    stored.body = stored.body.replace(/ [A-Za-z0-9_-]+ -->\n?$/, ' -->\n');
    await app.propose(1);
    expect(fake.pullByHead(EXP1)).toBeUndefined();
    expect(fake.commentsOn(stored.number).filter((c) => c.user.login === APP_BOT).map((c) => c.body)).toStrictEqual([expect.stringMatching(/altered/)]);
  });

  it('a state copied from another repository or another pull request does not verify', async () => {
    await app.comment('/optimize');
    const stored = fake.pulls.find((p) => p.head.ref === RUN_BRANCH)!;
    const marker = stored.body.slice(stored.body.lastIndexOf(STATE_MARKER_PREFIX));
    // The run pull request re-opened as a new one (same issue, same branch): the old signed state pasted into it.
    const copy = { ...stored, number: fake.newIssueNumber(), body: `copied\n\n${marker}` };
    stored.state = 'closed';
    fake.pulls.push(copy);
    await app.propose(1);
    expect(fake.pullByHead(EXP1)).toBeUndefined();
    expect(fake.commentsOn(copy.number).filter((c) => c.user.login === APP_BOT)).toHaveLength(1);
  });
});

describe('an App that does not know who it is', () => {
  it('does nothing when GET /app fails, and asks again at the next event', async () => {
    fake.failures.push({ method: 'GET', path: /^\/app$/, status: 500, times: 1 });
    await app.comment('/optimize', { id: 4_200_001 });
    expect(fake.writes()).toStrictEqual([]);
    expect(fake.refs.has(RUN_BRANCH)).toBe(false);
    await app.comment('/optimize', { id: 4_200_002 });
    expect(fake.history().filter((r) => r.method === 'GET' && r.path === '/app').map((r) => r.status)).toStrictEqual([500, 200]);
    expect(states()).toStrictEqual([[1, 'proposing']]);
  });
});
