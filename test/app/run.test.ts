/**
 * The App end to end, through Probot: real webhook payloads (@octokit/webhooks-examples, adjusted by small
 * builders), GitHub's HTTP API served by a stateful fake on nock, and the repository's Actions runner
 * simulated between webhooks. Each test asserts the requests the App made, above all its writes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/core/protocol/protocol.js';
import { APP_BOT, type FakeRequest } from '../fixtures/api/github/model.js';
import { clearImmutableReads } from '../../src/app/octokit-gateway.js';
import { FakeGitHub } from '../fixtures/api/github/server.js';
import { AppHarness } from '../fixtures/drivers/harness.js';
import { configYaml, ISSUE, MAINTAINER, repositoryFiles, REVIEWER, runStateOf, SAMPLES } from '../fixtures/drivers/scenario.js';
import { commentPayload } from '../fixtures/events/payloads.js';

const RUN_BRANCH = `autoloop/${ISSUE}/run`;
const REPO_PATH = /^\/repos\/[^/]+\/[^/]+\//;

let fake: FakeGitHub;
let app: AppHarness;

beforeEach(async () => {
  // Each test starts as a fresh App process would, with nothing read at a SHA remembered: its request counts are a new process's.
  clearImmutableReads();
  fake = new FakeGitHub({ files: repositoryFiles() }).start();
  fake.permissions.set(MAINTAINER, 'write');
  fake.permissions.set('reader', 'read');
  fake.permissions.set(REVIEWER, 'write');
  app = await AppHarness.create(fake);
});

afterEach(() => fake.stopChecked());

const short = (sha: string): string => sha.slice(0, 7);

/** A write in a few words, so a test can state the whole sequence it expects. */
function describeWrite(request: FakeRequest): string {
  const body = request.body as Record<string, unknown>;
  // `pulls/7`, `issues/7/comments`, `issues/comments/42`, `actions/workflows/autoloop.yml/dispatches`.
  const segments = request.path.replace(REPO_PATH, '').split('/').map(decodeURIComponent);
  const number = segments[1];
  switch (request.route) {
    case 'POST /repos/{owner}/{repo}/issues/comments/{id}/reactions':
      return `react ${String(body.content)}`;
    case 'POST /repos/{owner}/{repo}/git/refs':
      return `create branch ${String(body.ref).replace('refs/heads/', '')}`;
    case 'POST /repos/{owner}/{repo}/git/commits':
      return `commit "${String(body.message).split('\n')[0]}" on ${short(String((body.parents as string[])[0]))}`;
    case 'PATCH /repos/{owner}/{repo}/git/refs/{ref}':
      return `fast-forward ${decodeURIComponent(segments[2]!).replace('heads/', '')} to ${short(String(body.sha))}${body.force === false ? '' : ' (force?)'}`;
    case 'POST /repos/{owner}/{repo}/pulls':
      return `open ${body.draft ? 'draft ' : ''}PR ${String(body.head)} -> ${String(body.base)}`;
    case 'PATCH /repos/{owner}/{repo}/pulls/{number}':
      return body.state === 'closed' ? `close #${number}` : `update #${number} body`;
    case 'POST /repos/{owner}/{repo}/issues/{number}/comments':
      return `comment on #${number}`;
    case 'PATCH /repos/{owner}/{repo}/issues/comments/{id}':
      return `edit comment on #${fake.comments.find((c) => String(c.id) === segments[2])?.issue}`;
    case 'POST /repos/{owner}/{repo}/issues/{number}/labels':
      return `label #${number} ${(body.labels as string[]).join(', ')}`;
    case 'PATCH /repos/{owner}/{repo}/issues/{number}':
      return `${body.state === 'closed' ? 'close' : 'update'} #${number}${body.labels ? `, labels ${(body.labels as string[]).join(', ')}` : ''}`;
    case 'POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches':
      return `dispatch ${segments[2]} exp ${(body.inputs as Record<string, string>).experiment}`;
    case 'POST /repos/{owner}/{repo}/check-runs':
      return `gate ${String(body.conclusion ?? body.status)} on ${short(String(body.head_sha))}`;
    case 'PATCH /repos/{owner}/{repo}/check-runs/{id}':
      return `gate update ${String(body.conclusion ?? body.status)}`;
    case 'PUT /repos/{owner}/{repo}/pulls/{number}/merge':
      return `merge #${number}`;
    case 'POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers':
      return `request review on #${number} from ${(body.reviewers as string[]).join(', ')}`;
    case 'POST /graphql':
      return `graphql ${/mutation[^{]*\{\s*(\w+)/.exec(String(body.query))?.[1]}`;
    default:
      return `${request.route} ${JSON.stringify(body)}`;
  }
}

/** Runs `action` and returns the writes it caused, in words. */
async function writesOf(action: () => Promise<unknown>): Promise<string[]> {
  fake.clearRequests();
  await action();
  return fake.writes().map(describeWrite);
}

/** Delivers the webhooks GitHub sends after the App's own merges, closes and pushes; returns the writes they caused. */
async function echoes(): Promise<{ delivered: number; writes: string[] }> {
  fake.clearRequests();
  const delivered = await app.flush();
  return { delivered, writes: fake.writes().map(describeWrite) };
}

const runState = () => runStateOf(fake);

/** Starts a run on the issue and lets experiment 1 be proposed: it is evaluating. Returns the experiment PR number. */
async function startAndPropose(): Promise<number> {
  await app.comment('/optimize lower the loss');
  await app.propose(1);
  return fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!.number;
}

describe('a run of three experiments, from /optimize to the ready run pull request', () => {
  it('keeps an improvement, discards a regression, marks a crashed evaluation invalid, and finishes', async () => {
    const main = fake.refs.get('main')!;

    // 1. /optimize: one branch with an empty commit of its own, one draft run PR, one status comment (written once:
    //    the dispatch changes nothing it shows), the first dispatch, the state saved.
    const started = await writesOf(() => app.comment('/optimize lower the loss'));
    const run = fake.pullByHead(RUN_BRANCH)!.number;
    const runStart = fake.refs.get(RUN_BRANCH)!;
    expect(started).toStrictEqual([
      'react eyes',
      `commit "autoloop: start run #${ISSUE}" on ${short(main)}`,
      `create branch ${RUN_BRANCH}`,
      `open draft PR ${RUN_BRANCH} -> main`,
      `comment on #${ISSUE}`,
      `update #${run} body`,
      'dispatch autoloop.yml exp 1',
    ]);
    // The run's start commit changes nothing (main's tree, main its parent); experiments start from it, the state
    // keeps main as the run's base.
    expect(fake.commits.get(runStart)).toMatchObject({ parents: [main] });
    expect(fake.treeSha(runStart)).toBe(fake.treeSha(main));
    expect(fake.dispatches[0]).toStrictEqual({ workflow: 'autoloop.yml', ref: RUN_BRANCH, inputs: { run: '12', experiment: '1', 'parent-sha': runStart }, sha: runStart });
    expect(fake.pull(run)).toMatchObject({ draft: true, base: { ref: 'main', sha: main }, head: { ref: RUN_BRANCH, sha: runStart } });
    expect(runState()).toMatchObject({ status: 'running', baseSha: main, pullRequest: run, commandComment: 4_000_001, experiments: [{ k: 1, state: 'proposing', parentSha: runStart }] });

    // 2. Experiment 1 proposed: its PR (hypothesis from the commit message; labelled when decided), the dashboard refreshed.
    const proposed1 = await writesOf(() => app.propose(1, { hypothesis: 'raise lr to 0.02' }));
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!;
    expect(proposed1).toStrictEqual([`open PR autoloop/${ISSUE}/exp-1 -> ${RUN_BRANCH}`, `update #${run} body`]);
    expect(exp1.title).toBe('autoloop #12, experiment 1: raise lr to 0.02');
    expect(exp1.body).toMatch(/\*\*Hypothesis:\*\* raise lr to 0\.02/);
    expect(exp1.body).toMatch(/\[this workflow run\]\(https:\/\/github\.com\/octo\/model\/actions\/runs\/\d+\)/);
    expect(runState().experiments[0]).toMatchObject({ state: 'evaluating', pullRequest: exp1.number, headSha: exp1.head.sha, hypothesis: 'raise lr to 0.02' });

    // 3. Experiment 1 improved: the run branch fast-forwarded to the measured head (no merge commit), labelled, its
    //    comment, gate success, experiment 2 dispatched from the head the state now records. Nothing is looked up: the
    //    pull request had no comment, so no earlier attempt wrote one (or, after it, a gate). The status comment is not
    //    rewritten: the dashboard shows the experiment.
    const evaluated1 = await writesOf(() => app.evaluateExperiment(1, { samples: SAMPLES.improved }));
    expect(evaluated1).toStrictEqual([
      `fast-forward ${RUN_BRANCH} to ${short(exp1.head.sha)}`,
      `update #${exp1.number}, labels autoloop`,
      `comment on #${exp1.number}`,
      `gate success on ${short(exp1.head.sha)}`,
      `update #${run} body`,
      'dispatch autoloop.yml exp 2',
    ]);
    expect(fake.requests().filter((r) => r.method === 'GET').map((r) => r.route)).toStrictEqual([
      'GET /repos/{owner}/{repo}/pulls',
      'GET /repos/{owner}/{repo}/actions/runs/{id}/artifacts',
      'GET /repos/{owner}/{repo}/actions/artifacts/{id}/{format}',
      'GET https://artifacts.example/blobs/{file}',
    ]);
    expect(fake.writes().find((w) => w.route === 'PATCH /repos/{owner}/{repo}/git/refs/{ref}')!.body).toStrictEqual({ sha: exp1.head.sha, force: false });
    const afterMerge = fake.refs.get(RUN_BRANCH)!;
    expect(afterMerge).toBe(exp1.head.sha);
    expect(fake.pull(exp1.number)).toMatchObject({ state: 'closed', merged: true });
    expect(fake.dispatches[1]!.inputs).toStrictEqual({ run: '12', experiment: '2', 'parent-sha': afterMerge });
    // GitHub then tells the App about its own fast-forward (experiment 1 closed as merged, a push to the run PR): nothing more happens.
    expect(await echoes()).toStrictEqual({ delivered: 2, writes: [] });

    // 4. Experiment 2 regressed: closed and labelled discarded in one request, its comment (no gate: a closed pull
    //    request's would gate nothing), experiment 3 dispatched from the same head, which the state knows: the run
    //    branch is not read.
    await app.propose(2);
    const exp2 = fake.pullByHead(`autoloop/${ISSUE}/exp-2`)!;
    expect(exp2.base).toStrictEqual({ ref: RUN_BRANCH, sha: afterMerge });
    const evaluated2 = await writesOf(() => app.evaluateExperiment(2, { samples: SAMPLES.regressed }));
    expect(evaluated2).toStrictEqual([
      `close #${exp2.number}, labels autoloop, autoloop:discarded`,
      `comment on #${exp2.number}`,
      `update #${run} body`,
      'dispatch autoloop.yml exp 3',
    ]);
    expect(fake.requests().filter((r) => r.route === 'GET /repos/{owner}/{repo}/git/ref/{ref}')).toStrictEqual([]);
    expect(fake.dispatches[2]!.inputs).toStrictEqual({ run: '12', experiment: '3', 'parent-sha': afterMerge });
    expect(await echoes()).toStrictEqual({ delivered: 1, writes: [] });

    // 5. Experiment 3's evaluation crashed (no result artifact): invalid, closed; the budget is spent, so the
    //    run finishes: the status comment says so, the run PR is ready for review and the reviewers are asked.
    await app.propose(3);
    const exp3 = fake.pullByHead(`autoloop/${ISSUE}/exp-3`)!;
    const evaluated3 = await writesOf(() => app.evaluateExperiment(3, { noArtifact: true }));
    expect(evaluated3).toStrictEqual([
      `close #${exp3.number}, labels autoloop, autoloop:discarded`,
      `comment on #${exp3.number}`,
      `update #${run} body`,
      `edit comment on #${ISSUE}`,
      'graphql markPullRequestReadyForReview',
      `request review on #${run} from octocat`,
    ]);
    expect(await echoes()).toStrictEqual({ delivered: 1, writes: [] });

    // The books: three dispatches, a gate on the kept head only, one sticky comment per PR, one status comment.
    expect(fake.dispatches.map((d) => d.inputs.experiment)).toStrictEqual(['1', '2', '3']);
    expect([exp1, exp2, exp3].map((pull) => fake.checkRunsFor(pull.head.sha).map((c) => [c.name, c.conclusion, c.output.title]))).toStrictEqual([
      [['autoloop/gate', 'success', 'val_loss −10% (improved)']],
      [],
      [],
    ]);
    expect(fake.commentsOn(exp2.number)[0]!.body).toContain('experiment 2 of 3: discarded');
    for (const pull of [exp1, exp2, exp3]) {
      expect(fake.commentsOn(pull.number).map((c) => c.user.login)).toStrictEqual([APP_BOT]);
      expect(fake.commentsOn(pull.number)[0]!.body).toMatch(/^<!-- autoloop:experiment -->/);
    }
    expect(fake.commentsOn(exp1.number)[0]!.body).toContain('experiment 1 of 3: kept');
    expect(fake.commentsOn(exp3.number)[0]!.body).toContain('verification failed: the evaluation workflow ended: failure');
    const status = fake.commentsOn(ISSUE).filter((c) => c.user.login === APP_BOT);
    expect(status).toHaveLength(1);
    expect(status[0]!.body).toMatch(/^<!-- autoloop:status -->\n\*\*autoloop is finished \(budget spent: 3 experiments\)\.\*\*/);
    expect([exp1, exp2, exp3].map((pull) => fake.pull(pull.number))).toMatchObject([
      { state: 'closed', merged: true, labels: ['autoloop'] },
      { state: 'closed', merged: false, labels: ['autoloop', 'autoloop:discarded'] },
      { state: 'closed', merged: false, labels: ['autoloop', 'autoloop:discarded'] },
    ]);
    expect(fake.pull(run)).toMatchObject({ state: 'open', draft: false, requestedReviewers: ['octocat'] });

    // The state in the final run PR body, decoded.
    const state = runState();
    expect(state).toMatchObject({ status: 'finished', stopReason: 'budget spent: 3 experiments', baseSha: main, statusComment: status[0]!.id });
    expect(state.experiments.map((e) => [e.k, e.state, e.verdict, e.pullRequest, e.parentSha])).toStrictEqual([
      [1, 'kept', 'improved', exp1.number, runStart],
      [2, 'discarded', 'regressed', exp2.number, afterMerge],
      [3, 'invalid', 'invalid', exp3.number, afterMerge],
    ]);
    expect(state.experiments[0]).toMatchObject({ baseline: 0.5, candidate: 0.45 });
    expect(state.experiments[2]!.reason).toBe('the evaluation workflow ended: failure');
    expect(fake.pull(run).body).toContain('**Status:** finished: budget spent: 3 experiments.');

    // Ready for review, CI measures the whole run against main: the gate on the run head reports the cumulative delta,
    // and the dashboard shows it as the run's result, with its interval. The run head is experiment 1's measured commit
    // itself (fast-forwarded), so its one gate is updated in place, by the id the state keeps (no lookup).
    const cumulative = await writesOf(() => app.evaluate(RUN_BRANCH, { samples: SAMPLES.improved }));
    expect(cumulative).toStrictEqual(['gate update success', `update #${run} body`, `edit comment on #${ISSUE}`]);
    expect(fake.requests().some((r) => r.route === 'GET /repos/{owner}/{repo}/commits/{ref}/check-runs')).toBe(false);
    expect(runState().confirmation).toMatchObject({ headSha: afterMerge, baseSha: main, verdict: 'improved', baseline: 0.5, candidate: 0.45 });
    expect(fake.pull(run).body).toMatch(/\*\*Result against `main`:\*\* \*\*−0\.05 \(−10%\)\*\*, 90% \[−0\.\d+, −0\.\d+\] \(improved\)/);
    expect(fake.commentsOn(ISSUE).find((c) => c.id === state.statusComment)!.body).toContain('Against `main`, as CI measured the run: **−0.05 (−10%)**');
    expect(fake.checkRunsFor(afterMerge).map((c) => [c.conclusion, c.output.title, c.detailsUrl])).toStrictEqual([
      ['success', 'val_loss −10% (improved)', app.lastDelivery().payload.workflow_run && (app.lastDelivery().payload.workflow_run as { html_url: string }).html_url],
    ]);

    // Every request to the repository used the installation token; only the token request and the App's slug used
    // the JWT; the artifact downloads reached the blob storage without any token.
    const byAuth = (auth: FakeRequest['auth']) => [...new Set(fake.history().filter((r) => r.auth === auth).map((r) => r.route))];
    expect(byAuth('app')).toStrictEqual(['GET /app', 'POST /app/installations/{id}/access_tokens']);
    expect(byAuth('none')).toStrictEqual(['GET https://artifacts.example/blobs/{file}']);
    expect(byAuth('other')).toStrictEqual([]);
    expect(fake.history().filter((r) => r.auth === 'installation').every((r) => r.host === 'api' && r.route !== 'GET /app')).toBe(true);
  });

  it('marks an experiment invalid when its proposal workflow fails, and dispatches the next', async () => {
    await app.comment('/optimize');
    const writes = await writesOf(() => app.propose(1, { conclusion: 'failure' }));
    expect(writes).toStrictEqual([`update #${runState().pullRequest} body`, 'dispatch autoloop.yml exp 2']);
    expect(fake.pullByHead(`autoloop/${ISSUE}/exp-1`)).toBeUndefined();
    expect(runState().experiments.map((e) => [e.k, e.state, e.reason])).toStrictEqual([
      [1, 'invalid', 'the proposal workflow ended: failure'],
      [2, 'proposing', undefined],
    ]);
  });
});

describe('refusals', () => {
  it('answers a user without write permission once, and writes nothing else', async () => {
    const writes = await writesOf(() => app.comment('/optimize', { user: 'reader', id: 4_000_010 }));
    expect(writes).toStrictEqual([`comment on #${ISSUE}`]);
    expect(fake.commentsOn(ISSUE).at(-1)!.body).toContain('reader has `read` permission');
    expect(fake.refs.has(RUN_BRANCH)).toBe(false);
    expect(fake.dispatches).toStrictEqual([]);
  });

  it('ignores a comment by a bot without a single request', async () => {
    fake.permissions.set('deploy-bot[bot]', 'admin');
    await app.comment('/optimize', { user: 'deploy-bot[bot]', type: 'Bot' });
    await app.comment('/optimize', { user: APP_BOT, type: 'Bot', id: 4_000_011 });
    expect(fake.requests()).toStrictEqual([]);
  });

  it('ignores an edited comment without a single request', async () => {
    await app.comment('/optimize', { action: 'edited' });
    expect(fake.requests()).toStrictEqual([]);
  });

  it('quotes an invalid config (file:line: key) in one reply, with no branch and no pull request', async () => {
    const broken = configYaml().replace('evaluate: { command: node eval.js, repeats: 3, timeout: 5m }', 'evaluate: { command: node eval.js, repeats: 3, tmeout: 5m }');
    fake.push('main', fake.commit(fake.refs.get('main')!, { '.github/autoloop.yml': broken }));
    const writes = await writesOf(() => app.comment('/optimize'));
    expect(writes).toStrictEqual(['react eyes', `comment on #${ISSUE}`]);
    const reply = fake.commentsOn(ISSUE).at(-1)!;
    expect(reply.user.login).toBe(APP_BOT);
    expect(reply.body).toContain('.github/autoloop.yml:3: evaluate.tmeout: unknown key "tmeout"; did you mean "timeout"?');
    expect(fake.refs.has(RUN_BRANCH)).toBe(false);
    expect(fake.pulls).toStrictEqual([]);
  });

  it('fails closed when the permission API fails: one reply, no run', async () => {
    fake.failures.push({ method: 'GET', path: /\/collaborators\/[^/]+\/permission$/, status: 500 });
    const writes = await writesOf(() => app.comment('/optimize'));
    expect(writes).toStrictEqual([`comment on #${ISSUE}`]);
    expect(fake.commentsOn(ISSUE).at(-1)!.body).toContain('could not check your permission');
    expect(fake.requests().filter((r) => r.status === 500)).toHaveLength(1);
    expect(fake.refs.has(RUN_BRANCH)).toBe(false);
    expect(fake.pulls).toStrictEqual([]);
    expect(fake.dispatches).toStrictEqual([]);
  });
});

describe('/optimize stop', () => {
  it('dispatches nothing more, judges the experiment in flight, then finishes and marks the run ready', async () => {
    const exp1 = await startAndPropose();
    const run = runState().pullRequest!;

    const stopped = await writesOf(() => app.comment('/optimize stop', { id: 4_000_020 }));
    expect(stopped).toStrictEqual(['react eyes', `update #${run} body`, `edit comment on #${ISSUE}`]);
    expect(runState()).toMatchObject({ status: 'stopping', stopReason: `stopped by @${MAINTAINER}` });

    const evaluated = await writesOf(() => app.evaluateExperiment(1, { samples: SAMPLES.improved }));
    expect(evaluated).toStrictEqual([
      `fast-forward ${RUN_BRANCH} to ${short(fake.pull(exp1).head.sha)}`,
      `update #${exp1}, labels autoloop`,
      `comment on #${exp1}`,
      `gate success on ${short(fake.pull(exp1).head.sha)}`,
      `update #${run} body`,
      `edit comment on #${ISSUE}`,
      'graphql markPullRequestReadyForReview',
      `request review on #${run} from octocat`,
    ]);
    expect(fake.dispatches.map((d) => d.inputs.experiment)).toStrictEqual(['1']);
    expect(runState()).toMatchObject({ status: 'finished', stopReason: `stopped by @${MAINTAINER}`, experiments: [{ k: 1, state: 'kept' }] });
    expect(fake.pull(run).draft).toBe(false);
  });
});

describe('redelivered webhooks', () => {
  it('starts one run from a /optimize delivered twice: one branch, one run PR, one dispatch, no busy reply', async () => {
    const payload = await app.comment('/optimize');
    const first = fake.writes().length;
    // Redelivered to a restarted App, which remembers no delivery ids (the same App drops it unseen): the run
    // logic itself must not start a second run.
    app = await app.restarted();
    fake.clearRequests();
    await app.receive('issue_comment', payload, 'delivery-1');
    // The only write is the reaction, which GitHub answers 200 (already there) rather than 201.
    expect(fake.writes().map((w) => [describeWrite(w), w.status])).toStrictEqual([['react eyes', 200]]);
    expect(first).toBeGreaterThan(1);
    expect(fake.pulls).toHaveLength(1);
    expect(fake.dispatches).toHaveLength(1);
    expect(fake.reactions).toHaveLength(1);
    expect(fake.commentsOn(ISSUE).filter((c) => c.user.login === APP_BOT)).toHaveLength(1);

    // A new /optimize comment while the run is active is another matter: it gets the busy reply.
    const busy = await writesOf(() => app.comment('/optimize 5', { id: 4_000_030 }));
    expect(busy).toStrictEqual(['react eyes', `comment on #${ISSUE}`]);
    expect(fake.commentsOn(ISSUE).at(-1)!.body).toMatch(/^A run is already active here/);
  });

  it('starts one run when the same /optimize arrives twice at once', async () => {
    const payload = commentPayload(fake, '/optimize');
    fake.addComment(ISSUE, '/optimize', { login: MAINTAINER, type: 'User' }, (payload.comment as { id: number }).id);
    await Promise.all([app.receive('issue_comment', payload, 'delivery-x'), app.receive('issue_comment', payload, 'delivery-x')]);
    expect(fake.writes().filter((w) => w.route === 'POST /repos/{owner}/{repo}/git/refs')).toHaveLength(1);
    expect(fake.pulls).toHaveLength(1);
    expect(fake.dispatches).toHaveLength(1);
    expect(fake.commentsOn(ISSUE).filter((c) => c.user.login === APP_BOT)).toHaveLength(1);
  });

  it('writes nothing for a redelivered proposal or evaluation', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    const proposal = app.lastDelivery();
    expect(await writesOf(() => app.receive('workflow_run', proposal.payload, proposal.id))).toStrictEqual([]);
    expect(fake.pulls).toHaveLength(2);

    await app.evaluateExperiment(1);
    const evaluation = app.lastDelivery();
    expect(await writesOf(() => app.receive('workflow_run', evaluation.payload, evaluation.id))).toStrictEqual([]);
    expect(fake.checkRuns).toHaveLength(1);
    expect(fake.dispatches).toHaveLength(2);
  });
  it('writes one sticky comment when an evaluation is redelivered after its comment was posted but the state was not saved', async () => {
    const exp1 = await startAndPropose();
    const head = fake.pull(exp1).head.sha;
    const run = runState().pullRequest!;
    fake.failures.push({ method: 'PATCH', path: new RegExp(`/pulls/${run}$`), status: 502, times: 1 });
    fake.clearRequests();
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    // The first attempt found the pull request without comments, so no earlier attempt had commented: it did not list them.
    expect(fake.requests().filter((r) => r.route.includes('/comments')).map((r) => r.route)).toStrictEqual([
      'POST /repos/{owner}/{repo}/issues/{number}/comments',
    ]);
    expect(fake.commentsOn(exp1).filter((c) => c.user.login === APP_BOT)).toHaveLength(1);
    expect(runState().experiments[0]!.state).toBe('evaluating');

    // Redelivered: the pull request has a comment now, so the comment is looked for and edited in place, not posted again,
    // and the gate is looked up and updated.
    const { id, payload } = app.lastDelivery();
    const writes = await writesOf(() => app.receive('workflow_run', payload, id));
    expect(writes.slice(0, 4)).toStrictEqual([`fast-forward ${RUN_BRANCH} to ${short(head)}`, `update #${exp1}, labels autoloop`, `edit comment on #${exp1}`, 'gate update success']);
    expect(fake.commentsOn(exp1).filter((c) => c.user.login === APP_BOT)).toHaveLength(1);
    expect(fake.checkRunsFor(head)).toHaveLength(1);
    expect(runState().experiments.map((e) => [e.k, e.state, e.commentId])).toStrictEqual([
      [1, 'kept', fake.commentsOn(exp1)[0]!.id],
      [2, 'proposing', undefined],
    ]);
    expect(fake.dispatches.map((d) => d.inputs.experiment)).toStrictEqual(['1', '2']);
  });

  it('writes one sticky comment and no gate when a discard is redelivered after its comment was posted but the state was not saved', async () => {
    const exp1 = await startAndPropose();
    const head = fake.pull(exp1).head.sha;
    const run = runState().pullRequest!;
    fake.failures.push({ method: 'PATCH', path: new RegExp(`/pulls/${run}$`), status: 502, times: 1 });
    await app.evaluateExperiment(1, { samples: SAMPLES.regressed });
    expect(runState().experiments[0]!.state).toBe('evaluating');
    expect(fake.commentsOn(exp1).filter((c) => c.user.login === APP_BOT)).toHaveLength(1);

    const { id, payload } = app.lastDelivery();
    const writes = await writesOf(() => app.receive('workflow_run', payload, id));
    // Closing it again changes nothing; its answer says the pull request has a comment: it is looked for, and edited.
    expect(writes.slice(0, 3)).toStrictEqual([`close #${exp1}, labels autoloop, autoloop:discarded`, `edit comment on #${exp1}`, `update #${run} body`]);
    expect(fake.commentsOn(exp1).filter((c) => c.user.login === APP_BOT)).toHaveLength(1);
    expect(fake.checkRunsFor(head)).toStrictEqual([]);
    expect(runState().experiments.map((e) => [e.k, e.state])).toStrictEqual([
      [1, 'discarded'],
      [2, 'proposing'],
    ]);
  });

  it("looks for its comment and gate when someone commented on the experiment pull request, and writes each once", async () => {
    const exp1 = await startAndPropose();
    const head = fake.pull(exp1).head.sha;
    fake.addComment(exp1, 'looks promising', { login: MAINTAINER, type: 'User' });
    fake.clearRequests();
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    expect(fake.requests().filter((r) => r.method === 'GET' && /\/comments$|\/check-runs$/.test(r.route)).map((r) => r.route)).toStrictEqual([
      'GET /repos/{owner}/{repo}/issues/{number}/comments',
      'GET /repos/{owner}/{repo}/commits/{ref}/check-runs',
    ]);
    expect(fake.commentsOn(exp1).map((c) => c.user.login)).toStrictEqual([MAINTAINER, APP_BOT]);
    expect(fake.checkRunsFor(head).map((c) => c.conclusion)).toStrictEqual(['success']);
  });
});

describe('the run branch head the state records', () => {
  it('is forgotten when someone else pushes to the run branch: the next experiment starts from the pushed head, read once', async () => {
    const exp1 = await startAndPropose();
    const runStart = fake.refs.get(RUN_BRANCH)!;
    expect(runState().runHead).toStrictEqual({ sha: runStart });
    const pushed = fake.commit(runStart, { 'README.md': '# model, by hand\n' });
    fake.push(RUN_BRANCH, pushed, { login: MAINTAINER, type: 'User' });
    const synchronized = await echoes();
    // The pushed head's gate fails (it was not measured), and the state no longer claims to know the head.
    expect(synchronized.writes).toStrictEqual([`gate failure on ${short(pushed)}`, `update #${runState().pullRequest} body`]);
    expect(runState().runHead).toBeUndefined();

    fake.clearRequests();
    await app.evaluateExperiment(1, { samples: SAMPLES.regressed });
    expect(fake.requests().filter((r) => r.route === 'GET /repos/{owner}/{repo}/git/ref/{ref}')).toHaveLength(1);
    expect(fake.dispatches.at(-1)!.inputs).toMatchObject({ experiment: '2', 'parent-sha': pushed });
    expect(runState().runHead).toStrictEqual({ sha: pushed });
    expect(fake.pull(exp1).state).toBe('closed');
  });

  it('is what a dispatch after a discard starts from, with no read of the branch; after a keep, the kept head', async () => {
    await startAndPropose();
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    const kept = fake.refs.get(RUN_BRANCH)!;
    expect(runState().runHead).toMatchObject({ sha: kept, gate: fake.checkRunsFor(kept)[0]!.id });
    await app.propose(2);
    fake.clearRequests();
    await app.evaluateExperiment(2, { samples: SAMPLES.regressed });
    expect(fake.requests().filter((r) => r.route === 'GET /repos/{owner}/{repo}/git/ref/{ref}')).toStrictEqual([]);
    expect(fake.dispatches.at(-1)!.inputs).toMatchObject({ experiment: '3', 'parent-sha': kept });
  });
});

describe('the gate holds what was not measured', () => {
  it('fails the gate of a head a human pushed to an experiment, counts no evaluation of it, and lands only the proposed commit', async () => {
    const exp1 = await startAndPropose();
    const proposed = fake.pull(exp1).head.sha;
    expect(runState().experiments[0]!.headSha).toBe(proposed);
    const pushed = fake.commit(proposed, { 'params.json': '{ "lr": 0.5 }\n' });
    fake.push(`autoloop/${ISSUE}/exp-1`, pushed, { login: MAINTAINER, type: 'User' });

    const synchronized = await echoes();
    expect(synchronized).toStrictEqual({ delivered: 1, writes: [`gate failure on ${short(pushed)}`] });
    expect(fake.checkRunsFor(pushed)[0]!.output.title).toBe('changed after evaluation');

    // CI measures the pushed head, and it looks better: but it is not the commit the App proposed and recorded, so it is not
    // this experiment's evaluation. Nothing is written, nothing is merged, and its gate stays failed.
    const other = await writesOf(() => app.evaluateExperiment(1, { samples: SAMPLES.improved }));
    expect(other).toStrictEqual([]);
    expect(fake.requests().map((r) => r.route)).toStrictEqual(['GET /repos/{owner}/{repo}/pulls']);
    expect(fake.checkRunsFor(pushed).map((c) => c.conclusion)).toStrictEqual(['failure']);
    expect(fake.refs.get(RUN_BRANCH)).toBe(runState().startSha);
    expect(runState().experiments[0]!.state).toBe('evaluating');

    // The evaluation of the proposed commit is the experiment's: what lands is exactly that commit, never the push on top.
    const measured = await writesOf(() => app.evaluateExperiment(1, { headSha: proposed, samples: SAMPLES.improved }));
    expect(measured.slice(0, 4)).toStrictEqual([`fast-forward ${RUN_BRANCH} to ${short(proposed)}`, `update #${exp1}, labels autoloop`, `comment on #${exp1}`, `gate success on ${short(proposed)}`]);
    expect(fake.refs.get(RUN_BRANCH)).toBe(proposed);
    expect(runState().experiments[0]).toMatchObject({ state: 'kept', headSha: proposed });
    // The pushed commit was never measured: it stays on its pull request, for a human (GitHub does not mark it merged).
    expect(fake.pull(exp1)).toMatchObject({ state: 'open', merged: false, head: { sha: pushed } });
    expect(fake.checkRunsFor(pushed).map((c) => c.conclusion)).toStrictEqual(['failure']);
  });

  it('leaves the gate of the proposed commit to its evaluation when a person pushes the experiment back to it: one gate', async () => {
    const exp1 = await startAndPropose();
    const proposed = fake.pull(exp1).head.sha;
    const pushed = fake.commit(proposed, { 'params.json': '{ "lr": 0.5 }\n' });
    fake.push(`autoloop/${ISSUE}/exp-1`, pushed, { login: MAINTAINER, type: 'User' });
    expect((await echoes()).writes).toStrictEqual([`gate failure on ${short(pushed)}`]);
    fake.push(`autoloop/${ISSUE}/exp-1`, proposed, { login: MAINTAINER, type: 'User' });
    expect(await echoes()).toStrictEqual({ delivered: 1, writes: [] });
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    expect(fake.checkRunsFor(proposed).map((c) => c.conclusion)).toStrictEqual(['success']);
    expect(runState().experiments[0]).toMatchObject({ state: 'kept', headSha: proposed });
  });

  it('rejects a result whose head SHA is not the pull request head: invalid, closed, not merged, its comment naming why', async () => {
    const exp1 = await startAndPropose();
    const head = fake.pull(exp1).head.sha;
    const other = fake.commit(fake.refs.get('main')!, { 'params.json': '{ "lr": 0.9 }\n' });

    const writes = await writesOf(() => app.evaluateExperiment(1, { document: { head: other } }));
    expect(writes).toStrictEqual([
      `close #${exp1}, labels autoloop, autoloop:discarded`,
      `comment on #${exp1}`,
      `update #${runState().pullRequest} body`,
      'dispatch autoloop.yml exp 2',
    ]);
    const reason = `the result measured ${short(other)}, but the pull request head is ${short(head)}`;
    expect(fake.commentsOn(exp1)[0]!.body).toContain(`verification failed: ${reason}`);
    expect(fake.checkRunsFor(head)).toStrictEqual([]);
    expect(runState().experiments[0]).toMatchObject({ state: 'invalid', verdict: 'invalid', reason });
    expect(fake.pull(exp1)).toMatchObject({ state: 'closed', merged: false });
    expect(fake.writes().some((w) => w.route.endsWith('/merge'))).toBe(false);
  });
  it('rejects a result measured against another commit than the run branch head the experiment was proposed on', async () => {
    const exp1 = await startAndPropose();
    const head = fake.pull(exp1).head.sha;
    const parent = runState().experiments[0]!.parentSha;
    const other = fake.commit(fake.refs.get('main')!, { 'README.md': '# another base\n' });
    await app.evaluateExperiment(1, { samples: SAMPLES.improved, document: { base: other } });
    const reason = `the result measured against ${short(other)}, but the pull request base is ${short(parent)}`;
    expect(fake.commentsOn(exp1)[0]!.body).toContain(`verification failed: ${reason}`);
    expect(fake.checkRunsFor(head)).toStrictEqual([]);
    expect(runState().experiments[0]).toMatchObject({ state: 'invalid', reason });
    expect(fake.refs.get(RUN_BRANCH)).toBe(parent);
  });

  it('lands a kept experiment on its run branch only, even when its pull request was retargeted at the default branch', async () => {
    const exp1 = await startAndPropose();
    const main = fake.refs.get('main')!;
    const runStart = fake.refs.get(RUN_BRANCH)!;
    const head = fake.pull(exp1).head.sha;
    // Someone with write access edits the experiment pull request's base to main (its base SHA follows) while CI
    // evaluates it against the run branch head it was opened on.
    Object.assign(fake.pulls.find((p) => p.number === exp1)!, { base: { ref: 'main', sha: main } });
    const writes = await writesOf(() => app.evaluateExperiment(1, { samples: SAMPLES.improved, document: { base: runStart } }));
    expect(writes.slice(0, 4)).toStrictEqual([`fast-forward ${RUN_BRANCH} to ${short(head)}`, `update #${exp1}, labels autoloop`, `comment on #${exp1}`, `gate success on ${short(head)}`]);
    // The default branch never moves: the App fast-forwards only its own run branch.
    expect(fake.refs.get('main')).toBe(main);
    expect(fake.refs.get(RUN_BRANCH)).toBe(head);
    expect(fake.writes().filter((w) => w.route === 'PATCH /repos/{owner}/{repo}/git/refs/{ref}').map((w) => decodeURIComponent(w.path.replace(REPO_PATH, '')))).toStrictEqual([`git/refs/heads/${RUN_BRANCH}`]);
    expect(runState().experiments[0]!.state).toBe('kept');
  });
});

describe('experiments in parallel, and people closing them', () => {
  it('dispatches two at once, keeps the first, and discards the second when the moved run branch no longer fast-forwards to it', async () => {
    fake.push('main', fake.commit(fake.refs.get('main')!, { '.github/autoloop.yml': configYaml({ experiments: 2, parallel: 2 }) }));
    const started = await writesOf(() => app.comment('/optimize'));
    const runStart = fake.refs.get(RUN_BRANCH)!;
    expect(started.filter((w) => w.startsWith('dispatch'))).toStrictEqual(['dispatch autoloop.yml exp 1', 'dispatch autoloop.yml exp 2']);
    expect(fake.dispatches.map((d) => d.inputs['parent-sha'])).toStrictEqual([runStart, runStart]);
    await app.propose(1);
    await app.propose(2);
    const [exp1, exp2] = [1, 2].map((k) => fake.pullByHead(`autoloop/${ISSUE}/exp-${k}`)!.number) as [number, number];
    const run = runState().pullRequest!;

    const first = await writesOf(() => app.evaluateExperiment(1));
    const head1 = fake.pull(exp1).head.sha;
    expect(first).toStrictEqual([`fast-forward ${RUN_BRANCH} to ${short(head1)}`, `update #${exp1}, labels autoloop`, `comment on #${exp1}`, `gate success on ${short(head1)}`, `update #${run} body`]);

    // Experiment 2 was measured on the run start, which the run branch has left: GitHub refuses the fast-forward
    // (422), so the App discards it rather than land a tree that was never measured.
    const head2 = fake.pull(exp2).head.sha;
    const second = await writesOf(() => app.evaluateExperiment(2));
    expect(second).toStrictEqual([
      `fast-forward ${RUN_BRANCH} to ${short(head2)}`,
      `close #${exp2}, labels autoloop, autoloop:discarded`,
      `comment on #${exp2}`,
      // No gate: it is closed, and its comment says why it was not kept.
      `update #${run} body`,
      `edit comment on #${ISSUE}`,
      'graphql markPullRequestReadyForReview',
      `request review on #${run} from octocat`,
    ]);
    expect(fake.writes().find((w) => w.route === 'PATCH /repos/{owner}/{repo}/git/refs/{ref}')!.status).toBe(422);
    expect(fake.refs.get(RUN_BRANCH)).toBe(head1);
    expect(fake.checkRunsFor(head2)).toStrictEqual([]);
    expect(fake.commentsOn(exp2)[0]!.body).toContain('the run branch moved since it was measured');
    expect(runState().experiments.map((e) => [e.k, e.state, e.reason])).toStrictEqual([
      [1, 'kept', undefined],
      [2, 'invalid', 'the run branch moved since it was measured (no fast-forward to it); discarded'],
    ]);
    expect(runState().status).toBe('finished');
  });

  it('loses no update when two experiments complete at the same moment (one event at a time per repository)', async () => {
    fake.push('main', fake.commit(fake.refs.get('main')!, { '.github/autoloop.yml': configYaml({ experiments: 2, parallel: 2 }) }));
    await app.comment('/optimize');
    await Promise.all([app.propose(1), app.propose(2)]);
    expect(runState().experiments.map((e) => [e.k, e.state])).toStrictEqual([
      [1, 'evaluating'],
      [2, 'evaluating'],
    ]);
    await Promise.all([app.evaluateExperiment(1, { samples: SAMPLES.improved }), app.evaluateExperiment(2, { samples: SAMPLES.regressed })]);
    expect(runState()).toMatchObject({ status: 'finished', experiments: [{ k: 1, state: 'kept' }, { k: 2, state: 'discarded' }] });
    expect(fake.pull(runState().pullRequest!).draft).toBe(false);
  });

  it('discards an experiment a person closes, and dispatches the next', async () => {
    const exp1 = await startAndPropose();
    fake.close(exp1, { login: MAINTAINER, type: 'User' });
    const closed = await echoes();
    expect(closed).toStrictEqual({ delivered: 1, writes: [`label #${exp1} autoloop, autoloop:discarded`, `update #${runState().pullRequest} body`, 'dispatch autoloop.yml exp 2'] });
    expect(fake.pull(exp1).labels).toStrictEqual([LABELS.experiment, LABELS.discarded]);
    expect(runState().experiments.map((e) => [e.k, e.state, e.reason])).toStrictEqual([
      [1, 'discarded', 'closed by a human'],
      [2, 'proposing', undefined],
    ]);
  });
});
