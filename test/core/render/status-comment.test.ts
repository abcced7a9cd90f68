import { describe, expect, it } from 'vitest';
import { renderStatusComment } from '../../../src/core/render/status-comment.js';
import { STATUS_MARKER } from '../../../src/core/protocol/protocol.js';
import { makeAppRun, makeAppRunState } from '../../fixtures/records/app-state.js';

const PR_URL = 'https://github.com/octo/model/pull/20';

describe('renderStatusComment', () => {
  it('starts with its marker and says the state, the experiments done, the best against the baseline and the run pull request', () => {
    expect(renderStatusComment(makeAppRun(), PR_URL)).toBe(
      [
        STATUS_MARKER,
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
    const starting = renderStatusComment(makeAppRunState({ pullRequest: null }), null);
    expect(starting).toContain('**autoloop is running.** Minimize `val_loss`: 0 of 5 experiments done.\n\nNo measurement yet.\n\nThe run pull request is being opened.\n');
    const finished = renderStatusComment(makeAppRun({ status: 'finished', stopReason: 'stopped by @octocat <b>' }), PR_URL);
    expect(finished.split('\n')[1]).toBe('**autoloop is finished (stopped by @\u200boctocat &lt;b>).** Minimize `val_loss`: 4 of 5 experiments done, 1 in flight.');
    expect(finished).not.toContain('/optimize stop');
  });
});
