import { describe, expect, it } from 'vitest';
import { renderRunStatus, renderStatusComment } from '../../../src/core/render/status-comment.js';
import { withExperiment } from '../../../src/core/app/state.js';
import { STATUS_MARKER } from '../../../src/core/protocol/protocol.js';
import { makeAppRun, makeAppRunState, makeRunConfirmation } from '../../fixtures/records/app-state.js';
import { fakeSha } from '../../fixtures/records/ledger.js';

const PR_URL = 'https://github.com/octo/model/pull/20';

describe('renderRunStatus (the /optimize status reply)', () => {
  it('says the state, the experiments done, the best against the baseline and the run pull request', () => {
    expect(renderRunStatus(makeAppRun(), PR_URL)).toBe(
      [
        '**autoloop is running.** Minimize `val_loss`: 4 of 5 experiments done, 1 in flight.',
        '',
        'Best so far **0.4** (experiment 4) against the baseline 0.5: −0.1 (−20%).',
        '',
        `Progress, every experiment and its evidence: [run pull request #20](${PR_URL}).`,
        '',
        'Comment `/optimize stop` to stop after the experiments in flight.',
        '',
      ].join('\n'),
    );
  });

  it('reads well before the first measurement and once finished', () => {
    const starting = renderRunStatus(makeAppRunState({ pullRequest: null }), null);
    expect(starting).toContain('**autoloop is running.** Minimize `val_loss`: 0 of 5 experiments done.\n\nNo measurement yet.\n\nThe run pull request is being opened.\n');
    const finished = renderRunStatus(makeAppRun({ status: 'finished', stopReason: 'stopped by @octocat <b>' }), PR_URL);
    expect(finished.split('\n')[0]).toBe('**autoloop is finished (stopped by @\u200boctocat &lt;b>).** Minimize `val_loss`: 4 of 5 experiments done, 1 in flight.');
    expect(finished).not.toContain('/optimize stop');
  });

  it("shows CI's evaluation of the run against the base branch, with its interval", () => {
    const head = fakeSha(9, 'e');
    const state = {
      ...makeAppRun({ status: 'finished', stopReason: 'budget spent: 5 experiments' }),
      runHead: { sha: head },
      confirmation: makeRunConfirmation(head),
    };
    expect(renderRunStatus(state, PR_URL)).toContain(
      `Against \`main\`, as CI measured the run: **−0.1 (−20%)**, 90% [−0.12, −0.08] (improved): \`val_loss\` 0.5 → 0.4, the run head \`${head.slice(0, 7)}\` against \`main\` at \`b000000\` ([evaluation](https://github.com/octo/model/actions/runs/900)).`,
    );
  });
});

describe('renderStatusComment', () => {
  it('starts with its marker and, while the run goes on, says only what changes at a step of the run', () => {
    expect(renderStatusComment(makeAppRun(), PR_URL)).toBe(
      [
        STATUS_MARKER,
        '**autoloop is running.** Minimize `val_loss`, 5 experiments at most, 1 at a time.',
        '',
        `Progress, every experiment and its evidence: [run pull request #20](${PR_URL}).`,
        '',
        'Comment `/optimize status` for the experiments done and the best so far, or `/optimize stop` to stop after the experiments in flight.',
        '',
      ].join('\n'),
    );
  });

  it('is the same whatever experiments are decided while the run goes on, so deciding one does not rewrite it', () => {
    const run = makeAppRun();
    const decided = withExperiment(run, 5, { state: 'kept', candidate: 0.3, baseline: 0.4, delta: -0.1, deltaRelative: -0.25, verdict: 'improved' });
    expect(renderStatusComment(decided, PR_URL)).toBe(renderStatusComment(run, PR_URL));
    const stopping = renderStatusComment({ ...run, status: 'stopping', stopReason: 'stopped by @octocat' }, PR_URL);
    expect(stopping).not.toBe(renderStatusComment(run, PR_URL));
    expect(stopping.split('\n')[1]).toBe('**autoloop is stopping (stopped by @\u200boctocat).** Minimize `val_loss`, 5 experiments at most, 1 at a time.');
  });

  it('once finished, says where the run ended: what the status reply says, with its marker', () => {
    const finished = makeAppRun({ status: 'finished', stopReason: 'budget spent: 5 experiments' });
    expect(renderStatusComment(finished, PR_URL)).toBe(`${STATUS_MARKER}\n${renderRunStatus(finished, PR_URL)}`);
    expect(renderStatusComment(finished, PR_URL)).toContain('Best so far **0.4** (experiment 4)');
  });
});
