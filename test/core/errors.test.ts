import { describe, expect, it } from 'vitest';
import { ArtifactUploadError } from '../../src/action/artifacts.js';
import { InputError } from '../../src/action/inputs.js';
import { GitHubError, PullRequestExistsError } from '../../src/app/github-errors.js';
import { StateError } from '../../src/core/app/state-codec.js';
import { ConfigError } from '../../src/core/config/config.js';
import { AutoloopError, EXIT } from '../../src/core/errors.js';
import { MetricsFileError } from '../../src/core/judge/metrics.js';
import { LedgerError, LedgerTamperedError } from '../../src/core/ledger/ledger.js';
import { ProposalError, ProposerConfigError } from '../../src/core/propose/proposer.js';
import { RunSetupError } from '../../src/engine/errors.js';
import { GitError } from '../../src/engine/git.js';
import { TuneError } from '../../src/proposers/tune.js';

describe('AutoloopError', () => {
  it('is the base of every error class, each with the exit code the README documents and the subject it names', () => {
    const cases: [AutoloopError, number, AutoloopError['subject']][] = [
      [new ConfigError('autoloop.yml', [{ file: 'autoloop.yml', path: 'metric', message: 'required', line: 3 }]), EXIT.config, { file: 'autoloop.yml' }],
      [new TuneError('params.json', 'lr', 'not a number'), EXIT.config, { file: 'params.json', key: 'lr' }],
      [new TuneError('autoloop.yml', null, 'missing'), EXIT.config, { file: 'autoloop.yml' }],
      [new ProposerConfigError('the API key was refused'), EXIT.config, {}],
      [new RunSetupError('not a git repository'), EXIT.usage, {}],
      [new LedgerError('ledger.jsonl', 4, 'not JSON'), EXIT.usage, { file: 'ledger.jsonl', line: 4 }],
      [
        new LedgerTamperedError({ ok: false, file: 'ledger.jsonl', line: 2, experiment: 1, kind: 'edited', problem: 'line 2 was edited' }),
        EXIT.tampered,
        { file: 'ledger.jsonl', line: 2 },
      ],
      [new GitError(['commit', '-m', 'x'], '/repo', 'nothing to commit'), EXIT.error, { operation: 'git commit -m x', dir: '/repo' }],
      [new GitHubError('createBranch', 'octo/repo', 404, 'Not Found'), EXIT.error, { repo: 'octo/repo', operation: 'createBranch' }],
      [new PullRequestExistsError('createPullRequest', 'octo/repo', 'Validation Failed'), EXIT.error, { repo: 'octo/repo', operation: 'createPullRequest' }],
      [new InputError('mode', 'expected one of evaluate, propose, loop'), EXIT.error, { input: 'mode' }],
      [new ArtifactUploadError('autoloop-result', 'timed out'), EXIT.error, { artifact: 'autoloop-result' }],
      [new StateError('the state marker is malformed'), EXIT.error, {}],
      [new ProposalError('the patch did not apply'), EXIT.error, {}],
      [new MetricsFileError('not JSON'), EXIT.error, {}],
    ];
    for (const [error, exitCode, subject] of cases) {
      expect(error, error.name).toBeInstanceOf(AutoloopError);
      expect({ name: error.name, exitCode: error.exitCode, subject: error.subject }).toStrictEqual({ name: error.name, exitCode, subject });
    }
  });

  it('keeps the cause only when one is given', () => {
    const cause = new Error('socket hang up');
    expect(new GitHubError('compare', 'octo/repo', 502, 'Bad Gateway', { cause }).cause).toBe(cause);
    expect('cause' in new GitHubError('tree', 'octo/repo', null, 'truncated')).toBe(false);
    expect(new ArtifactUploadError('trace', 'failed', cause).cause).toBe(cause);
    expect('cause' in new ArtifactUploadError('trace', 'failed')).toBe(false);
  });
});
