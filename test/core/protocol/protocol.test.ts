import { describe, expect, it } from 'vitest';
import {
  experimentBranch,
  hypothesisOfCommit,
  isAutoloopBranch,
  parseExperimentBranch,
  parseProposalRunName,
  parseRunBranch,
  proposalCommitMessage,
  proposalDispatchInputs,
  proposalRunName,
  runBranch,
  runPullRequestMarker,
  RUN_NAME_PATTERN,
} from '../../../src/core/protocol/protocol.js';

describe('the protocol: what one side builds, the other parses back', () => {
  it('parses the branches it builds, and nothing else', () => {
    expect(runBranch(12)).toBe('autoloop/12/run');
    expect(experimentBranch(12, 3)).toBe('autoloop/12/exp-3');
    expect(parseRunBranch(runBranch(12))).toEqual({ issue: 12 });
    expect(parseExperimentBranch(experimentBranch(12, 3))).toEqual({ issue: 12, k: 3 });
    for (const other of ['autoloop/12/exp-3', 'autoloop/0/run', 'autoloop/x/run', 'autoloop/12/run/', 'main', 'feature/autoloop/12/run']) {
      expect(parseRunBranch(other), other).toBeNull();
    }
    for (const other of ['autoloop/12/run', 'autoloop/12/exp-0', 'autoloop/12/exp-3x', 'autoloop/12/exp-', 'xautoloop/12/exp-3']) {
      expect(parseExperimentBranch(other), other).toBeNull();
    }
    expect(isAutoloopBranch(runBranch('demo'))).toBe(true);
    expect(isAutoloopBranch('main')).toBe(false);
  });

  it('reads the experiment back from the proposal run title and the hypothesis from the proposal commit', () => {
    expect(parseProposalRunName(proposalRunName(12, 7))).toBe(7);
    expect(parseProposalRunName('Fix the parser')).toBeNull();
    expect(hypothesisOfCommit(proposalCommitMessage('lr 0.01 → 0.02', 4))).toBe('lr 0.01 → 0.02');
    expect(hypothesisOfCommit(proposalCommitMessage('', 4))).toBe('');
  });

  it('dispatches the run, the experiment and the parent under the workflow input names', () => {
    expect(proposalDispatchInputs(12, 3, 'a'.repeat(40))).toEqual({ run: '12', experiment: '3', 'parent-sha': 'a'.repeat(40) });
  });

  it('names runs so that they make valid branch and folder names, and markers that cannot close early', () => {
    expect(RUN_NAME_PATTERN.test('20260101-120000')).toBe(true);
    expect(RUN_NAME_PATTERN.test('bad tag')).toBe(false);
    expect(RUN_NAME_PATTERN.test('../x')).toBe(false);
    const marker = runPullRequestMarker('a--b-->');
    expect(marker.startsWith('<!-- autoloop:run:')).toBe(true);
    expect(marker.slice('<!--'.length, -'-->'.length)).not.toContain('--');
  });
});
