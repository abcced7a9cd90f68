import { describe, expect, it } from 'vitest';
import { renderExperimentComment } from '../../../src/core/render/experiment-comment.js';
import { renderGateOutput } from '../../../src/core/render/gate.js';
import { renderResultSummary } from '../../../src/core/render/summary.js';
import { withExperiment } from '../../../src/core/app/state.js';
import { parseResultDocument, UNSANDBOXED_NOTE } from '../../../src/core/result/result.js';
import { makeAppRun } from '../../fixtures/records/app-state.js';
import { makeResultDocument } from '../../fixtures/records/result.js';

describe('a measurement made without a sandbox says so everywhere it is shown', () => {
  const unsandboxed = makeResultDocument({ sandbox: 'none' });
  const sandboxed = makeResultDocument({ sandbox: 'bwrap' });
  const state = withExperiment(makeAppRun(), 1, { baseline: 0.5, candidate: 0.4, delta: -0.1, deltaRelative: -0.2 });
  const comment = (document: typeof sandboxed) => renderExperimentComment({ state, experiment: state.experiments[0]!, document, links: {} });

  it('in the job summary, the gate and the experiment comment', () => {
    expect(renderResultSummary(unsandboxed)).toContain(`**Unsandboxed:** ${UNSANDBOXED_NOTE}.`);
    expect(renderGateOutput({ document: unsandboxed }).summary).toContain(`**Unsandboxed:** ${UNSANDBOXED_NOTE}.`);
    expect(comment(unsandboxed)).toContain(UNSANDBOXED_NOTE);
    for (const text of [renderResultSummary(sandboxed), renderGateOutput({ document: sandboxed }).summary, comment(sandboxed)]) {
      expect(text).not.toContain('nsandboxed');
    }
  });

  it('reads a document that does not say how it was isolated as unsandboxed', () => {
    const { sandbox: _sandbox, ...silent } = JSON.parse(JSON.stringify(sandboxed)) as Record<string, unknown>;
    expect(parseResultDocument(silent).sandbox).toBe('none');
  });
});
