/**
 * The App heals itself: what lost webhooks, lost answers and racing replicas leave undone, the sweep (on a timer,
 * at start-up, and on `/optimize status`) finds through the Actions API and completes, and every step records its
 * intent before its side effect, so a redelivery completes a step instead of repeating it. Also: a run that is over
 * (its pull request closed) no longer holds its issue.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LABELS } from '../../src/core/protocol/protocol.js';
import { APP_BOT } from '../fixtures/api/github/model.js';
import { FakeGitHub } from '../fixtures/api/github/server.js';
import { AppHarness } from '../fixtures/drivers/harness.js';
import { configYaml, ISSUE, MAINTAINER, repositoryFiles, REVIEWER, runStateOf, SAMPLES } from '../fixtures/drivers/scenario.js';

const RUN_BRANCH = `autoloop/${ISSUE}/run`;
const MINUTE = 60_000;

let fake: FakeGitHub;
let app: AppHarness;

async function started(config = configYaml()): Promise<void> {
  fake = new FakeGitHub({ files: repositoryFiles(config) }).start();
  fake.permissions.set(MAINTAINER, 'write');
  fake.permissions.set(REVIEWER, 'write');
  app = await AppHarness.create(fake);
}

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  await started();
});

afterEach(() => {
  vi.useRealTimers();
  fake.stopChecked();
});

const runState = () => runStateOf(fake);
const states = () => runState().experiments.map((e) => [e.k, e.state]);
const later = (minutes: number) => vi.setSystemTime(Date.now() + minutes * MINUTE);
const dispatched = () => fake.dispatches.map((d) => d.inputs.experiment);

describe('lost webhooks', () => {
  it('opens the experiment pull request of a proposal whose workflow_run webhook never came', async () => {
    await app.comment('/optimize');
    await app.propose(1, { lost: true });
    expect(states()).toStrictEqual([[1, 'proposing']]);

    expect(await app.sweep()).toBe(1);
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`);
    expect(exp1).toBeDefined();
    expect(runState().experiments[0]).toMatchObject({ state: 'evaluating', pullRequest: exp1!.number, headSha: exp1!.head.sha });
    // A second sweep finds nothing to do.
    fake.clearRequests();
    await app.sweep();
    expect(fake.writes()).toStrictEqual([]);
  });

  it('judges and keeps an evaluation whose webhook never came, and dispatches the next experiment once', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!;
    await app.evaluateExperiment(1, { samples: SAMPLES.improved, lost: true });
    expect(states()).toStrictEqual([[1, 'evaluating']]);

    await app.sweep();
    expect(states()).toStrictEqual([
      [1, 'kept'],
      [2, 'proposing'],
    ]);
    expect(fake.refs.get(RUN_BRANCH)).toBe(exp1.head.sha);
    expect(fake.checkRunsFor(exp1.head.sha).map((c) => c.conclusion)).toStrictEqual(['success']);
    await app.sweep();
    expect(dispatched()).toStrictEqual(['1', '2']);
  });

  it('waits for a workflow run that is still in progress', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    const id = await app.evaluateExperiment(1, { samples: SAMPLES.improved, lost: true });
    Object.assign(fake.workflowRuns.get(id)!, { status: 'in_progress', conclusion: null });
    later(120);
    await app.sweep();
    expect(states()).toStrictEqual([[1, 'evaluating']]);
  });

  it('ignores a completed run of a fork on the experiment branch and head, as its webhook would be', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    await app.evaluateExperiment(1, { samples: SAMPLES.improved, lost: true, headRepository: 'mallory/model' });
    await app.sweep();
    expect(states()).toStrictEqual([[1, 'evaluating']]);
    expect(fake.refs.get(RUN_BRANCH)).not.toBe(fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!.head.sha);
  });

  it('finishes a stop whose last experiment was decided by the sweep, and makes the run pull request ready', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    await app.comment('/optimize stop', { id: 4_000_002 });
    expect(runState().status).toBe('stopping');
    await app.evaluateExperiment(1, { samples: SAMPLES.regressed, lost: true });
    await app.sweep();
    expect(runState()).toMatchObject({ status: 'finished', stopReason: `stopped by @${MAINTAINER}` });
    expect(fake.pullByHead(RUN_BRANCH)!.draft).toBe(false);
  });

  it('runs on /optimize status, before it answers', async () => {
    await app.comment('/optimize');
    await app.propose(1, { lost: true });
    await app.comment('/optimize status', { id: 4_000_002 });
    expect(runState().experiments[0]!.state).toBe('evaluating');
    expect(fake.commentsOn(ISSUE).at(-1)!.body).toMatch(/^\*\*autoloop is running/);
  });
});

describe("the run pull request's own evaluation, whose webhook never came", () => {
  /** A run of one experiment, finished: its pull request ready for review, for CI to evaluate it against main. */
  async function finishedRun(samples = SAMPLES.improved): Promise<{ run: number; head: string }> {
    await fake.stop();
    await started(configYaml({ experiments: 1 }));
    await app.comment('/optimize');
    await app.propose(1);
    await app.evaluateExperiment(1, { samples });
    const pull = fake.pullByHead(RUN_BRANCH)!;
    expect(runState().status).toBe('finished');
    expect(pull.draft).toBe(false);
    return { run: pull.number, head: pull.head.sha };
  }

  const gates = (sha: string) => fake.checkRunsFor(sha).map((c) => [c.status, c.conclusion, c.detailsUrl]);
  const urlOf = (id: number) => String(fake.workflowRuns.get(id)!.html_url);

  it('is looked up and judged as its webhook would be: the gate of the run head concludes, the dashboard shows the result', async () => {
    const { run, head } = await finishedRun();
    // The run head is experiment 1's commit: its gate is the experiment's, measured against its parent only.
    const experimentGate = [['completed', 'success', runState().experiments[0]!.evaluationRun]];
    expect(gates(head)).toStrictEqual(experimentGate);
    const id = await app.evaluate(RUN_BRANCH, { samples: SAMPLES.improved, lost: true });
    // The webhook never came: the gate does not report the run's own evaluation.
    expect(gates(head)).toStrictEqual(experimentGate);

    await app.sweep();
    expect(gates(head)).toStrictEqual([['completed', 'success', urlOf(id)]]);
    expect(runState().confirmation).toMatchObject({ headSha: head, verdict: 'improved', baseline: 0.5, candidate: 0.45, evaluationRun: urlOf(id) });
    expect(fake.pull(run).body).toContain('**Result against `main`:** **−0.05 (−10%)**');
    // A second sweep finds nothing left to do.
    fake.clearRequests();
    await app.sweep();
    expect(fake.writes()).toStrictEqual([]);
  });

  it('concludes the gate of a run that kept nothing (its head the run start commit)', async () => {
    const { head } = await finishedRun(SAMPLES.regressed);
    expect(head).toBe(runState().startSha);
    // No gate at all on the run head: a required check would wait for it for ever.
    expect(gates(head)).toStrictEqual([]);
    const id = await app.evaluate(RUN_BRANCH, { samples: SAMPLES.regressed, lost: true });
    await app.sweep();
    expect(gates(head)).toStrictEqual([['completed', 'failure', urlOf(id)]]);
    expect(runState().confirmation).toMatchObject({ headSha: head, verdict: 'regressed' });
  });

  it('waits for an evaluation still in progress, and binds a completed one as its webhook would: a fork\'s run changes nothing', async () => {
    const { head } = await finishedRun(SAMPLES.regressed);
    const running = await app.evaluate(RUN_BRANCH, { samples: SAMPLES.improved, lost: true });
    Object.assign(fake.workflowRuns.get(running)!, { status: 'in_progress', conclusion: null });
    await app.evaluate(RUN_BRANCH, { samples: SAMPLES.improved, lost: true, headRepository: 'mallory/model' });
    later(120);
    await app.sweep();
    expect(gates(head)).toStrictEqual([]);
    expect(runState().confirmation).toBeUndefined();
  });
});

describe('lost dispatches and lost answers', () => {
  it('dispatches a proposal again when no workflow run started, then gives up on it', async () => {
    fake.failures.push({ method: 'POST', path: /\/dispatches$/, status: 502, times: 1 });
    await app.comment('/optimize');
    // The experiment was recorded before its dispatch failed: the state knows it, GitHub has no run.
    expect(states()).toStrictEqual([[1, 'proposing']]);
    expect(dispatched()).toStrictEqual([]);

    await app.sweep();
    expect(dispatched()).toStrictEqual([]);
    later(11);
    await app.sweep();
    expect(dispatched()).toStrictEqual(['1']);
    expect(runState().experiments[0]).toMatchObject({ state: 'proposing', dispatches: 2 });

    // That dispatch is lost too (its run never appears): the experiment is invalid, the next one takes the slot.
    fake.dispatches.length = 0;
    later(11);
    await app.sweep();
    expect(runState().experiments[0]).toMatchObject({ state: 'invalid', reason: expect.stringMatching(/never started, dispatched 2 times/) });
    expect(states()).toStrictEqual([
      [1, 'invalid'],
      [2, 'proposing'],
    ]);
    expect(dispatched()).toStrictEqual(['2']);
  });

  it('dispatches the next experiment once when the answer to its dispatch was lost and GitHub redelivers the evaluation', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    // The dispatch happens; its answer is a 502. Before, the state was written after the dispatch, so the redelivery
    // judged experiment 1 again and dispatched experiment 2 a second time.
    fake.failures.push({ method: 'POST', path: /\/dispatches$/, status: 502, times: 1, afterEffect: true });
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    const { id, payload } = app.lastDelivery();
    await app.receive('workflow_run', payload, id);
    await app.sweep();
    expect(dispatched()).toStrictEqual(['1', '2']);
    expect(states()).toStrictEqual([
      [1, 'kept'],
      [2, 'proposing'],
    ]);
  });

  it('marks an experiment invalid when no evaluation ran for its head, and closes its pull request', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!;
    later(20);
    await app.sweep();
    expect(states()).toStrictEqual([[1, 'evaluating']]);
    later(31);
    await app.sweep();
    expect(runState().experiments[0]).toMatchObject({ state: 'invalid', reason: expect.stringMatching(/^no evaluation ran for its head/) });
    expect(fake.pull(exp1.number)).toMatchObject({ state: 'closed', labels: expect.arrayContaining([LABELS.discarded]) });
  });

  it('makes a finished run ready for review when that failed after the state was saved', async () => {
    await fake.stop();
    await started(configYaml({ experiments: 1 }));
    await app.comment('/optimize');
    await app.propose(1);
    fake.failures.push({ method: 'POST', path: /^\/graphql$/, status: 502, times: 1 });
    await app.evaluateExperiment(1, { samples: SAMPLES.regressed });
    expect(runState().status).toBe('finished');
    expect(fake.pullByHead(RUN_BRANCH)!.draft).toBe(true);
    await app.sweep();
    expect(fake.pullByHead(RUN_BRANCH)!.draft).toBe(false);
    expect(fake.pullByHead(RUN_BRANCH)!.requestedReviewers).toContain(REVIEWER);
  });

  it('says on the run pull request when GitHub refuses the configured reviewers', async () => {
    await fake.stop();
    await started(configYaml({ experiments: 1, reviewers: ['stranger'] }));
    await app.comment('/optimize');
    await app.propose(1);
    await app.evaluateExperiment(1, { samples: SAMPLES.regressed });
    const run = fake.pullByHead(RUN_BRANCH)!;
    expect(run.draft).toBe(false);
    const said = fake.commentsOn(run.number).filter((c) => c.user.login === APP_BOT).map((c) => c.body);
    expect(said.some((body) => body.includes('could not request reviews from `stranger`'))).toBe(true);
  });
});

describe('a run that is over', () => {
  it('no longer holds its issue once its pull request is closed: a new /optimize starts a fresh run', async () => {
    await fake.stop();
    await started(configYaml({ experiments: 1 }));
    await app.comment('/optimize');
    await app.propose(1);
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    const first = fake.pullByHead(RUN_BRANCH)!;
    expect(runState().status).toBe('finished');

    // Finished and open: the new command is told to merge or close it first.
    await app.comment('/optimize again', { id: 4_000_002 });
    expect(fake.commentsOn(ISSUE).at(-1)!.body).toMatch(/has finished, and its .*is open for review/);

    fake.close(first.number, { login: MAINTAINER, type: 'User' });
    await app.flush();
    const main = fake.refs.get('main')!;
    later(1);
    await app.comment('/optimize once more', { id: 4_000_003 });
    const second = fake.pullByHead(RUN_BRANCH)!;
    expect(second.number).not.toBe(first.number);
    expect(second).toMatchObject({ state: 'open', draft: true });
    // A fresh run branch, one empty commit on today's default branch; the old experiment branch is gone.
    expect(fake.commits.get(fake.refs.get(RUN_BRANCH)!)).toMatchObject({ parents: [main] });
    expect(fake.refs.has(`autoloop/${ISSUE}/exp-1`)).toBe(false);
    expect(runState()).toMatchObject({ status: 'running', goalText: 'once more', experiments: [{ k: 1, state: 'proposing' }] });

    // The first run's command, redelivered, has no effect.
    const firstCommand = app.delivered.find((d) => d.name === 'issue_comment')!;
    fake.clearRequests();
    await app.receive('issue_comment', firstCommand.payload, 'redelivered-first');
    // (Its 👀 is asked for again; GitHub answers 200 and keeps the one reaction.)
    expect(fake.writes().map((w) => w.route)).toStrictEqual(['POST /repos/{owner}/{repo}/issues/comments/{id}/reactions']);
    // One status comment (the new run took it over) and the one "open for review" reply.
    expect(fake.commentsOn(ISSUE).filter((c) => c.user.login === APP_BOT)).toHaveLength(2);
  });

  it('acts on nothing for a run whose pull request a human closed, and /optimize status says it is over', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    fake.close(fake.pullByHead(RUN_BRANCH)!.number, { login: MAINTAINER, type: 'User' });
    await app.flush();
    const before = fake.refs.get(RUN_BRANCH);
    fake.clearRequests();
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    await app.sweep();
    expect(fake.writes()).toStrictEqual([]);
    expect(fake.refs.get(RUN_BRANCH)).toBe(before);
    await app.comment('/optimize status', { id: 4_000_002 });
    expect(fake.commentsOn(ISSUE).at(-1)!.body).toMatch(/^The last autoloop run on this issue is over: its pull request #\d+ was closed/);
  });
});

describe('two App instances (replicas without sticky routing)', () => {
  it('lose no decided experiment for good: racing updates of the state are healed by the next sweep', async () => {
    await fake.stop();
    await started(configYaml({ experiments: 4, parallel: 2 }));
    const other = await AppHarness.create(fake);
    await app.comment('/optimize');
    await app.propose(1);
    await app.propose(2);
    // Both evaluations complete at once, one delivered to each instance: each reads the state, and the later write wins.
    await Promise.all([app.evaluateExperiment(1, { samples: SAMPLES.improved }), other.evaluateExperiment(2, { samples: SAMPLES.regressed })]);
    await app.flush();
    await other.sweep();
    await app.sweep();
    const decided = Object.fromEntries(states().filter(([k]) => k === 1 || k === 2));
    expect(decided).toStrictEqual({ 1: 'kept', 2: 'discarded' });
    // Whatever either instance dispatched is in the state: nothing runs that the run does not know of.
    const known = new Set(runState().experiments.map((e) => String(e.k)));
    expect(dispatched().every((k) => known.has(k!))).toBe(true);
  });
});
