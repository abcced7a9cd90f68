import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLoop } from '../../src/engine/loop.js';
import { gitSync, makeQuadraticRepo } from '../fixtures/local/repo.js';
import { recordingArtifacts, runAction } from '../fixtures/drivers/runner.js';
import { webhookExample } from '../fixtures/events/webhooks.js';
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
function propose(repo: string, parent: string, options: { experiment?: string; ledger?: string; artifacts?: ReturnType<typeof recordingArtifacts> } = {}) {
  return runAction({
    workspace: repo,
    eventName: 'workflow_dispatch',
    event: dispatch,
    inputs: { mode: 'propose', run: '42', experiment: options.experiment ?? '1', 'parent-sha': parent, ...(options.ledger ? { 'ledger-file': options.ledger } : {}) },
    dependencies: { artifacts: options.artifacts ?? recordingArtifacts() },
  });
}

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
    // The tuned file is not editable: every proposal of this config is out of scope.
    const config = join(repo, '.github/autoloop.yml');
    await writeFile(config, readFileSync(config, 'utf8').replace('edit: [params.json]', 'edit: [src/**]'));
    gitSync(repo, 'commit', '--quiet', '-am', 'narrow scope');
    const parent = gitSync(repo, 'rev-parse', 'HEAD');
    const artifacts = recordingArtifacts();
    const result = await propose(repo, parent, { artifacts });
    expect(result.exitCode).toBe(1);
    expect(result.outputs.status).toBe('out-of-scope');
    const errors = result.commands.filter((c) => c.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('params.json (modified) is outside scope.edit (src/**)');
    expect(() => gitSync(origin, 'rev-parse', '--verify', '--quiet', 'refs/heads/autoloop/42/exp-1')).toThrow();
    expect(artifacts.uploads[0]?.name).toBe('autoloop-trace');
  });

  it('reads the run so far from ledger-file and refuses one that was altered', async () => {
    const { repo, head } = repoWithOrigin('{ experiments: 2 }');
    const earlier = await runLoop({ proposer: createProposer, cwd: repo, tag: 'memory' });
    const ledger = earlier.paths.ledger;
    const ok = await propose(repo, head, { experiment: '3', ledger: ledger });
    expect(ok.exitCode).toBe(0);
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
