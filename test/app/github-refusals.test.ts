/**
 * What GitHub refuses, and the App living with it: the fake GitHub refuses what GitHub refuses (checked here
 * through the App's own gateway, so each refusal is the one the App would get), and the App starts runs, keeps
 * improvements and recovers from redeliveries on a GitHub that refuses them.
 */
import { Octokit } from '@octokit/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OctokitGateway } from '../../src/app/octokit-gateway.js';
import { LABELS } from '../../src/core/protocol/protocol.js';
import { INSTALLATION_TOKEN } from '../fixtures/api/github/model.js';
import type { FakeGitHub } from '../fixtures/api/github/server.js';
import { AppHarness } from '../fixtures/drivers/harness.js';
import { ISSUE, MAINTAINER, runStateOf, SAMPLES } from '../fixtures/drivers/scenario.js';

const RUN_BRANCH = `autoloop/${ISSUE}/run`;

let fake: FakeGitHub;
let app: AppHarness;

beforeEach(async () => {
  ({ fake, app } = await AppHarness.started());
});

afterEach(() => fake.stopChecked());

/** The App's gateway over the fake, with the installation token (as the App's handlers build it). */
function gateway(): OctokitGateway {
  const octokit = new Octokit({ auth: INSTALLATION_TOKEN, retry: { enabled: false }, throttle: { enabled: false } });
  return new OctokitGateway(octokit, { owner: fake.owner, repo: fake.repo }, { appSlug: 'autoloop' });
}

const runState = () => runStateOf(fake);

describe('the fake refuses what GitHub refuses', () => {
  it('opens no pull request whose head has no commit beyond its base (422 "No commits between")', async () => {
    fake.refs.set('feature', fake.refs.get('main')!);
    await expect(gateway().createPullRequest({ head: 'feature', base: 'main', title: 't', body: '', draft: true })).rejects.toThrow(
      'createPullRequest (octo/model): 422 Validation Failed: No commits between main and feature',
    );
  });

  it('refuses a merge method the repository disallows (405)', async () => {
    fake.settings.allowMergeCommit = false;
    fake.push('feature', fake.commit(fake.refs.get('main')!, { 'params.json': '{ "lr": 0.5 }\n' }));
    const pull = await gateway().createPullRequest({ head: 'feature', base: 'main', title: 't', body: '', draft: false });
    const octokit = new Octokit({ auth: INSTALLATION_TOKEN, retry: { enabled: false }, throttle: { enabled: false } });
    await expect(octokit.rest.pulls.merge({ owner: fake.owner, repo: fake.repo, pull_number: pull.number, merge_method: 'merge' })).rejects.toMatchObject({
      status: 405,
      message: expect.stringContaining('Merge commits are not allowed on this repository.'),
    });
    const squashed = await octokit.rest.pulls.merge({ owner: fake.owner, repo: fake.repo, pull_number: pull.number, merge_method: 'squash' });
    expect(squashed.data.merged).toBe(true);
    expect(fake.commits.get(fake.refs.get('main')!)!.parents).toHaveLength(1);
  });

  it('dispatches only a workflow that runs on workflow_dispatch, with the inputs it declares (422 otherwise)', async () => {
    const github = gateway();
    await expect(github.dispatchWorkflow('autoloop.yml', 'main', { run: '12', experiment: '1', mode: 'propose' })).rejects.toThrow(
      'dispatchWorkflow (octo/model): 422 Unexpected inputs provided: ["mode"]',
    );
    await expect(github.dispatchWorkflow('autoloop.yml', 'main', { run: '12' })).rejects.toThrow("422 Required input 'experiment' not provided");
    fake.push('main', fake.commit(fake.refs.get('main')!, { '.github/workflows/autoloop.yml': 'name: autoloop\non: pull_request\n' }));
    await expect(github.dispatchWorkflow('autoloop.yml', 'main', { run: '12', experiment: '1', 'parent-sha': 'x' })).rejects.toThrow(
      "422 Workflow does not have 'workflow_dispatch' trigger",
    );
    expect(fake.dispatches).toStrictEqual([]);
  });

  it('asks only collaborators for a review (422 otherwise)', async () => {
    fake.push('feature', fake.commit(fake.refs.get('main')!, { 'params.json': '{ "lr": 0.5 }\n' }));
    const github = gateway();
    const pull = await github.createPullRequest({ head: 'feature', base: 'main', title: 't', body: '', draft: false });
    await expect(github.requestReviewers(pull.number, ['octocat', 'stranger'])).rejects.toThrow('422 Reviews may only be requested from collaborators.');
    await expect(github.requestReviewers(pull.number, ['octo/perf'])).rejects.toThrow('422 Reviews may only be requested from collaborators.');
    await github.requestReviewers(pull.number, ['octocat']);
    expect(fake.pull(pull.number).requestedReviewers).toStrictEqual(['octocat']);
  });

  it('lists at most 300 files in a comparison; the gateway then diffs the trees and misses none', async () => {
    const main = fake.refs.get('main')!;
    const many = Object.fromEntries(Array.from({ length: 301 }, (_, i) => [`data/${String(i).padStart(3, '0')}.txt`, `${i}\n`]));
    const head = fake.commit(main, many);
    const octokit = new Octokit({ auth: INSTALLATION_TOKEN, retry: { enabled: false }, throttle: { enabled: false } });
    const listed = await octokit.rest.repos.compareCommitsWithBasehead({ owner: fake.owner, repo: fake.repo, basehead: `${main}...${head}` });
    expect(listed.data.files).toHaveLength(300);
    expect(await gateway().compare(main, head)).toHaveLength(301);
  });

  it('refuses a fast-forward to a commit the branch does not lead to (422 "Update is not a fast forward")', async () => {
    const main = fake.refs.get('main')!;
    const side = fake.commit(main, { 'params.json': '{ "lr": 0.7 }\n' });
    fake.push('main', fake.commit(main, { 'README.md': '# moved\n' }));
    expect(await gateway().fastForward('main', side)).toBe('not-fast-forward');
    expect(await gateway().fastForward('main', fake.refs.get('main')!)).toBe('moved');
  });

  it('checks every request and response against GitHub\'s REST description, and names the operation and the first error', async () => {
    const octokit = new Octokit({ auth: INSTALLATION_TOKEN, retry: { enabled: false }, throttle: { enabled: false } });
    // A body the schema rejects (`draft` must be a boolean), and an operation GitHub does not have.
    await expect(octokit.request('POST /repos/{owner}/{repo}/pulls', { owner: fake.owner, repo: fake.repo, head: 'a', base: 'main', draft: 'yes' as unknown as boolean })).rejects.toMatchObject({ status: 422 });
    await expect(octokit.request('GET /repos/{owner}/{repo}/no-such-thing', { owner: fake.owner, repo: fake.repo })).rejects.toMatchObject({ status: 404 });
    expect(fake.specViolations).toStrictEqual([
      expect.stringMatching(/^request pulls\/create \(POST \/repos\/octo\/model\/pulls\): body \/draft should be boolean/),
      "GET /repos/octo/model/no-such-thing: GitHub's REST API has no such operation",
    ]);
    // A response the fake gets wrong is caught too: a pull request whose `state` GitHub never sends.
    fake.push('feature', fake.commit(fake.refs.get('main')!, { 'params.json': '{ "lr": 0.5 }\n' }));
    const pull = await gateway().createPullRequest({ head: 'feature', base: 'main', title: 't', body: '', draft: false });
    (fake.pulls.find((p) => p.number === pull.number)! as { state: string }).state = 'merged';
    await gateway().getPullRequest(pull.number);
    expect(fake.specViolations[2]).toMatch(/^response of pulls\/get \(GET \/repos\/octo\/model\/pulls\/\d+\): 200 body \/state should be equal to one of the allowed values/);
    expect(() => fake.stopChecked()).toThrow(/against GitHub's REST description: request pulls\/create/);
    fake.specViolations.length = 0;
    fake.start();
  });
});

describe('the App on a GitHub that refuses', () => {
  it('starts a run: the run branch gets an empty commit of its own before the run pull request is opened', async () => {
    const main = fake.refs.get('main')!;
    await app.comment('/optimize lower the loss');
    const start = fake.refs.get(RUN_BRANCH)!;
    expect(start).not.toBe(main);
    expect(fake.commits.get(start)).toMatchObject({ parents: [main], message: expect.stringMatching(/^autoloop: start run #12\n/) });
    expect(fake.treeSha(start)).toBe(fake.treeSha(main));
    expect(fake.pullByHead(RUN_BRANCH)).toMatchObject({ state: 'open', draft: true, head: { sha: start }, base: { ref: 'main', sha: main } });
    expect(runState()).toMatchObject({ baseSha: main, startSha: start, experiments: [{ k: 1, state: 'proposing', parentSha: start }] });
    // Nothing refused on the way (the doctor's reads of an unprotected branch answer 404, as GitHub does).
    expect(fake.requests().filter((r) => r.status >= 400 && r.status !== 404)).toStrictEqual([]);
  });

  it('keeps an improvement on a squash-only repository: the run branch is fast-forwarded to the measured commit', async () => {
    Object.assign(fake.settings, { allowMergeCommit: false, allowRebaseMerge: false, allowSquashMerge: true });
    await app.comment('/optimize');
    await app.propose(1);
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!;
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    expect(runState().experiments.map((e) => [e.k, e.state])).toStrictEqual([
      [1, 'kept'],
      [2, 'proposing'],
    ]);
    // Exactly the measured commit is the run head; GitHub shows the experiment pull request as merged.
    expect(fake.refs.get(RUN_BRANCH)).toBe(exp1.head.sha);
    expect(fake.pull(exp1.number)).toMatchObject({ state: 'closed', merged: true });
    expect(fake.history().some((r) => r.route.endsWith('/merge'))).toBe(false);
    expect(fake.dispatches[1]!.inputs['parent-sha']).toBe(exp1.head.sha);
  });

  it('does not keep an improvement measured on a run branch that has moved since: not a fast-forward, discarded with that reason', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!;
    // Someone pushes to the run branch after experiment 1 was proposed on it.
    const moved = fake.commit(fake.refs.get(RUN_BRANCH)!, { 'README.md': '# edited on the run branch\n' });
    fake.push(RUN_BRANCH, moved, { login: MAINTAINER, type: 'User' });
    await app.flush();
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    expect(fake.refs.get(RUN_BRANCH)).toBe(moved);
    expect(runState().experiments[0]).toMatchObject({ state: 'invalid', reason: 'the run branch moved since it was measured (no fast-forward to it); discarded' });
    expect(fake.pull(exp1.number)).toMatchObject({ state: 'closed', merged: false, labels: expect.arrayContaining([LABELS.discarded]) });
    // Closed, so no gate; its comment says why it was not kept.
    expect(fake.checkRunsFor(exp1.head.sha)).toStrictEqual([]);
    expect(fake.commentsOn(exp1.number).at(-1)!.body).toContain('the run branch moved since it was measured');
  });

  it('counts a redelivered evaluation after a fast-forward that succeeded as kept, not as a failure', async () => {
    await app.comment('/optimize');
    await app.propose(1);
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!;
    // The fast-forward lands, then the next write fails (a 502): the state still says "evaluating".
    fake.failures.push({ method: 'POST', path: new RegExp(`/issues/${exp1.number}/comments$`), status: 502, times: 1 });
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    expect(fake.refs.get(RUN_BRANCH)).toBe(exp1.head.sha);
    expect(runState().experiments[0]!.state).toBe('evaluating');

    // GitHub redelivers the evaluation: the run branch is at the measured commit already, which is a success.
    const { id, payload } = app.lastDelivery();
    await app.receive('workflow_run', payload, id);
    expect(runState().experiments.map((e) => [e.k, e.state])).toStrictEqual([
      [1, 'kept'],
      [2, 'proposing'],
    ]);
    expect(fake.pull(exp1.number)).toMatchObject({ merged: true, labels: ['autoloop'] });
    expect(fake.dispatches.map((d) => d.inputs.experiment)).toStrictEqual(['1', '2']);
  });
});
