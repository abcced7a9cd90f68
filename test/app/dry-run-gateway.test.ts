import { Octokit } from '@octokit/rest';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DryRunGateway } from '../../src/app/dry-run-gateway.js';
import { OctokitGateway } from '../../src/app/octokit-gateway.js';

const REPO = '/repos/octo/repo';
const SHA = 'abc1234def5678abc1234def5678abc1234def56';

/** A dry run over the real gateway: nock answers only the reads, so any write would fail the test. */
function dryRun(): DryRunGateway {
  const octokit = new Octokit({ auth: 'test', retry: { enabled: false }, throttle: { enabled: false } });
  return new DryRunGateway(new OctokitGateway(octokit, { owner: 'octo', repo: 'repo' }, { appSlug: 'autoloop' }));
}

/** Requests nock had no interceptor for: a write that slipped through would land here. */
let unmatched: string[] = [];
const onNoMatch = (request: { method?: string; path?: string }): void => {
  unmatched.push(`${request.method} ${request.path}`);
};

beforeEach(() => {
  nock.disableNetConnect();
  unmatched = [];
  nock.emitter.on('no match', onNoMatch);
});

afterEach(() => {
  nock.emitter.removeListener('no match', onNoMatch);
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('DryRunGateway', () => {
  it('still reads from GitHub', async () => {
    nock('https://api.github.com')
      .get(`${REPO}/collaborators/alice/permission`)
      .reply(200, { permission: 'write', role_name: 'write' })
      .get(REPO)
      .reply(200, { default_branch: 'main' })
      .get(`${REPO}/git/ref/heads%2Fmain`)
      .reply(200, { ref: 'refs/heads/main', object: { sha: SHA } })
      .get(`${REPO}/contents/.autoloop%2Fconfig.yml`)
      .query({ ref: 'main' })
      .reply(200, { type: 'file', encoding: 'base64', sha: SHA, content: Buffer.from('metric: loss\n').toString('base64') });
    const github = dryRun();
    expect(github.ref).toStrictEqual({ owner: 'octo', repo: 'repo' });
    expect(await github.permission('alice')).toBe('write');
    expect(await github.defaultBranch()).toStrictEqual({ name: 'main', sha: SHA });
    expect(await github.readFile('.autoloop/config.yml', 'main')).toBe('metric: loss\n');
    expect(github.actions()).toStrictEqual([]);
    expect(github.describe()).toBe('- nothing would be changed');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('records every write without a request, answering with placeholders', async () => {
    const github = dryRun();
    await github.reactToComment(11, 'eyes');
    const start = await github.createRunBranch('autoloop/12/run', SHA, 'autoloop: start run #12');
    const pull = await github.createPullRequest({ head: 'autoloop/12/run', base: 'main', title: 'autoloop: faster', body: 'dashboard', draft: true });
    await github.updatePullRequest(7, { body: 'new dashboard' });
    await github.markReadyForReview(7);
    await github.requestReviewers(7, ['alice', 'octo/perf']);
    await github.addLabels(8, ['autoloop:discarded']);
    const issue = await github.updateIssue(8, { state: 'closed', labels: ['autoloop', 'autoloop:discarded'] });
    const landed = await github.fastForward('autoloop/12/run', SHA);
    const stickyId = await github.upsertComment(12, '<!-- autoloop:status -->', 'status');
    const commentId = await github.createComment(12, 'refused');
    const gate = await github.setCheckRun({ name: 'autoloop/gate', sha: SHA, status: 'completed', conclusion: 'success', output: { title: 'keep: -12.5%', summary: 's' } });
    await github.dispatchWorkflow('autoloop.yml', 'autoloop/12/run', { mode: 'propose', experiment: '1' });

    expect(pull).toStrictEqual({
      number: 0,
      url: '(dry run)',
      state: 'open',
      merged: false,
      draft: true,
      head: { ref: 'autoloop/12/run', sha: '' },
      base: { ref: 'main', sha: '' },
      body: 'dashboard',
      labels: [],
    });
    expect([start, landed]).toStrictEqual([SHA, 'moved']);
    expect([stickyId, commentId]).toStrictEqual([0, 0]);
    // The cautious answers: as if someone had commented, and as if a check run was there; a caller then looks before it writes.
    expect([issue, gate]).toStrictEqual([{ comments: 1 }, { written: 'updated', id: 0 }]);
    expect(github.actions().map((action) => action.operation)).toStrictEqual([
      'reactToComment',
      'createRunBranch',
      'createPullRequest',
      'updatePullRequest',
      'markReadyForReview',
      'requestReviewers',
      'addLabels',
      'updateIssue',
      'fastForward',
      'upsertComment',
      'createComment',
      'setCheckRun',
      'dispatchWorkflow',
    ]);
    expect(github.actions()[1]).toStrictEqual({ operation: 'createRunBranch', details: { branch: 'autoloop/12/run', baseSha: SHA, message: 'autoloop: start run #12' } });
    expect(github.actions()[12]).toStrictEqual({
      operation: 'dispatchWorkflow',
      details: { workflowFile: 'autoloop.yml', ref: 'autoloop/12/run', inputs: { mode: 'propose', experiment: '1' } },
    });
    expect(github.describe()).toBe(
      [
        '- react with `eyes` to comment 11',
        '- create branch `autoloop/12/run` one empty commit ahead of `abc1234` ("autoloop: start run #12")',
        '- open draft pull request `autoloop/12/run` → `main`: "autoloop: faster"',
        '- update pull request #7 (body)',
        '- mark pull request #7 ready for review',
        '- request reviews on #7 from @alice, @octo/perf',
        '- label #8 `autoloop:discarded`',
        '- close #8, its labels set to `autoloop`, `autoloop:discarded`',
        '- fast-forward `autoloop/12/run` to `abc1234`',
        '- create or update the `<!-- autoloop:status -->` comment on #12',
        '- comment on #12',
        '- set check `autoloop/gate` on `abc1234`: completed (success), "keep: -12.5%"',
        '- dispatch workflow `autoloop.yml` on `autoloop/12/run` with mode=propose, experiment=1',
      ].join('\n'),
    );
    expect(unmatched).toStrictEqual([]);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('hands out copies, so the log cannot be edited from outside', async () => {
    const github = dryRun();
    await github.addLabels(8, ['a']);
    const [action] = github.actions();
    action!.details.labels = ['b'];
    expect(github.actions()[0]!.details).toStrictEqual({ issueNumber: 8, labels: ['a'] });
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});
