import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPullRequestMarker } from '../../src/core/protocol/protocol.js';
import { gitSync, makeQuadraticRepo } from '../fixtures/local/repo.js';
import { recordingArtifacts, runAction } from '../fixtures/drivers/runner.js';
import { webhookExample } from '../fixtures/events/webhooks.js';

function repoWithOrigin(): { repo: string; origin: string } {
  const repo = makeQuadraticRepo('{ experiments: 3 }', {}, 6);
  const origin = join(mkdtempSync(join(tmpdir(), 'autoloop-origin-')), 'origin.git');
  execFileSync('git', ['clone', '--quiet', '--bare', repo, origin]);
  gitSync(repo, 'remote', 'add', 'origin', origin);
  return { repo, origin };
}

const API = 'https://api.github.com';

beforeEach(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('action, mode: loop', () => {
  it('runs the loop, pushes the run branch and opens one pull request with the results', async () => {
    const { repo, origin } = repoWithOrigin();
    let created: Record<string, string> = {};
    const api = nock(API)
      .get('/repos/octo-org/optimised/pulls')
      .query({ head: 'octo-org:autoloop/t1/run', state: 'open' })
      .reply(200, [])
      .post('/repos/octo-org/optimised/pulls', (body: Record<string, string>) => {
        created = body;
        return true;
      })
      .reply(201, { number: 7, html_url: 'https://github.com/octo-org/optimised/pull/7' });
    const artifacts = recordingArtifacts();
    const result = await runAction({
      workspace: repo,
      eventName: 'workflow_dispatch',
      event: webhookExample('workflow_dispatch'),
      inputs: { mode: 'loop', tag: 't1', token: 'test-token' },
      env: { GITHUB_REF_NAME: 'main' },
      dependencies: { artifacts },
    });
    expect(result.exitCode, result.commands.join('\n')).toBe(0);
    expect(nock.pendingMocks()).toStrictEqual([]);
    api.done();
    expect(result.outputs).toMatchObject({ branch: 'autoloop/t1/run', 'pull-request': 'https://github.com/octo-org/optimised/pull/7' });
    expect(gitSync(origin, 'rev-parse', 'refs/heads/autoloop/t1/run')).toBe(result.outputs.commit);
    expect(created).toMatchObject({ head: 'autoloop/t1/run', base: 'main' });
    // The title carries the confirmation: the run head measured against the base once more at the end.
    expect(created.title).toMatch(/^autoloop: loss 10\.5 → [\d.]+ \(−[\d.]+%, confirmed\) in 3 experiments$/);
    expect(created.body!.split('\n')[0]).toBe(runPullRequestMarker('t1'));
    expect(created.body).toContain('```mermaid');
    expect(created.body).toContain('https://github.com/octo-org/optimised/actions/runs/777/artifacts/4201');
    expect(artifacts.uploads[0]!.name).toBe('autoloop-run');
    expect(artifacts.uploads[0]!.files.map((f) => basename(f))).toEqual(expect.arrayContaining(['ledger.jsonl', 'results.tsv', 'progress.svg', 'report.md', 'diff.patch']));
    expect(result.summary).toContain('| # | status | metric |');
  });

  it('updates the pull request of a re-run instead of opening another', async () => {
    const { repo } = repoWithOrigin();
    let patched: Record<string, string> = {};
    nock(API)
      .get('/repos/octo-org/optimised/pulls')
      .query(true)
      .reply(200, [{ number: 7 }])
      .patch('/repos/octo-org/optimised/pulls/7', (body: Record<string, string>) => {
        patched = body;
        return true;
      })
      .reply(200, { number: 7, html_url: 'https://github.com/octo-org/optimised/pull/7' });
    const result = await runAction({
      workspace: repo,
      eventName: 'workflow_dispatch',
      inputs: { mode: 'loop', tag: 't2', token: 'test-token' },
      env: { GITHUB_REF_NAME: 'main' },
      dependencies: { artifacts: recordingArtifacts() },
    });
    expect(result.exitCode, result.commands.join('\n')).toBe(0);
    expect(nock.pendingMocks()).toStrictEqual([]);
    expect(patched.body!.split('\n')[0]).toBe(runPullRequestMarker('t2'));
  });

  it('opens no pull request when nothing beat the baseline', async () => {
    const repo = makeQuadraticRepo('{ experiments: 2 }', { 'eval.mjs': 'console.log("METRIC loss=1")\n' });
    const result = await runAction({
      workspace: repo,
      eventName: 'workflow_dispatch',
      inputs: { mode: 'loop', tag: 't3', token: 'test-token' },
      dependencies: { artifacts: recordingArtifacts() },
    });
    expect(result.exitCode).toBe(0);
    expect(result.commands.some((c) => c.startsWith('::notice') && c.includes('no experiment beat the baseline'))).toBe(true);
    expect(result.outputs['pull-request']).toBeUndefined();
  });
});
