import { describe, expect, it } from 'vitest';
import { renderExperimentComment } from '../../../src/core/render/experiment-comment.js';
import { EXPERIMENT_MARKER } from '../../../src/core/protocol/protocol.js';
import { withExperiment, type AppExperiment } from '../../../src/core/app/state.js';
import { SINGLE_RUN_NOTE, UNPAIRED_NOTE } from '../../../src/core/judge/judge.js';
import { makeAppExperiment, makeAppRun } from '../../fixtures/records/app-state.js';
import { makeJudgement } from '../../fixtures/records/ledger.js';
import { makeResultDocument } from '../../fixtures/records/result.js';
import { documentWith, HOSTILE, rowOf, stored } from './helpers.js';

const LINKS = { proposalRun: 'https://github.com/octo/model/actions/runs/101', evaluationRun: 'https://github.com/octo/model/actions/runs/201', artifact: 'https://github.com/octo/model/actions/runs/201/artifacts/301' };

describe('renderExperimentComment', () => {
  const state = makeAppRun();
  const kept = withExperiment(state, 1, { baseline: 0.5, candidate: 0.4, delta: -0.1, deltaRelative: -0.2 });
  const comment = (partial: Partial<Parameters<typeof renderExperimentComment>[0]> = {}) =>
    renderExperimentComment({ state: kept, experiment: kept.experiments[0]!, document: makeResultDocument(), links: LINKS, ...partial });

  it('shows baseline, candidate, delta, interval, guards, runs, verdict, what the App did and the links', () => {
    expect(comment()).toBe(
      [
        EXPERIMENT_MARKER,
        '### autoloop experiment 1 of 5: kept',
        '',
        '> lr 0.01 → 0.02',
        '',
        '`val_loss` (lower is better), head `c000002` against base `b000001`.',
        '',
        '| | baseline | candidate | delta |',
        '| --- | ---: | ---: | ---: |',
        '| **val_loss** (mean) | 0.5 | 0.4 | −0.1 (−20%) |',
        '| interval | | | 90% [−0.12, −0.08] (paired t; each end a one-sided 95% bound) |',
        '| peak_mem_mb (guard, minimize) | 100 | 105 | +5 (+5%), held |',
        '| runs (3 per side) | 3 of 3 valid | 3 of 3 valid | paired |',
        '',
        '**Verdict:** improved.',
        '',
        '**Why:** better by 0.1 (−20%).',
        '',
        '**What autoloop did:** kept: merged into `autoloop/12/run`; the next experiments start from it.',
        '',
        `[proposal trace](${LINKS.proposalRun}) · [evaluation run](${LINKS.evaluationRun}) · [result and logs](${LINKS.artifact})`,
        '',
      ].join('\n'),
    );
  });

  it('says "single run, no noise estimate" and unpaired when so measured', () => {
    const single = makeResultDocument({
      repeats: 1,
      baseline: 'cached',
      judgement: stored(makeJudgement(0.5, 0.4, { paired: false })),
      samples: { baseline: { val_loss: [0.5] }, candidate: { val_loss: [0.4] } },
      runs: [],
      guards: [],
    });
    const text = comment({ document: single });
    expect(rowOf(text, '| interval')).toBe(`| interval | | | ${SINGLE_RUN_NOTE} |`);
    expect(rowOf(text, '| runs')).toBe(`| runs (1 per side) | 1 valid (cached) | 1 valid | ${UNPAIRED_NOTE} |`);
    expect(text).toContain(`**Verdict:** improved (${SINGLE_RUN_NOTE}).`);
  });

  it('says what the App did for each outcome', () => {
    const did = (experiment: AppExperiment) => rowOf(comment({ experiment }), '**What autoloop did:**');
    const base = kept.experiments[0]!;
    expect(did({ ...base, state: 'discarded' })).toBe('**What autoloop did:** discarded: closed without merging; `autoloop/12/run` is unchanged.');
    expect(did({ ...base, state: 'invalid' })).toBe('**What autoloop did:** not kept (invalid): closed without merging; `autoloop/12/run` is unchanged.');
    expect(did({ ...base, state: 'needs-review' })).toBe('**What autoloop did:** needs review: left open for a human to merge into `autoloop/12/run` or close.');
    expect(did({ ...base, state: 'evaluating' })).toBe('**What autoloop did:** nothing yet: evaluating….');
  });

  it('shows a regressed guard, a suspicious gain, scope violations and the verdict override', () => {
    const document = documentWith(
      { suspicious: true, guards: [{ name: 'peak_mem_mb', goal: 'minimize', baseline: 100, candidate: 130, regression: 0.3, held: false }], reasons: ['guard peak_mem_mb regressed by +30%'] },
      { scopeViolations: [{ path: 'eval/run.py', change: 'modified', rule: 'protected', pattern: 'eval/**' }] },
    );
    const experiment: AppExperiment = { ...kept.experiments[0]!, state: 'invalid', verdict: 'invalid', reason: 'out of scope: eval/run.py' };
    const text = comment({ document, experiment, verdictOverride: 'verification failed: changed after evaluation' });
    expect(rowOf(text, '| peak_mem_mb')).toBe('| peak_mem_mb (guard, minimize) | 100 | 130 | +30 (+30%), regressed |');
    expect(text).toContain('**Verdict:** verification failed: changed after evaluation (suspicious: the gain is beyond `suspicious_effect`, a human must look).');
    expect(text).toContain('**Why:** guard peak_mem_mb regressed by +30%; out of scope: eval/run.py.');
    expect(text).toContain('**Out of scope:** 1 path the proposal may not change:\n\n- `eval/run.py` (modified): protected by `eval/**`\n');
  });

  it("prefers the App's own judgement to the document's", () => {
    const judgement = makeJudgement(0.5, 0.49, { verdict: 'no-change', keep: false, reasons: ['within the noise'] });
    const experiment: AppExperiment = { ...kept.experiments[0]!, state: 'discarded', verdict: undefined };
    const text = comment({ judgement, experiment });
    expect(rowOf(text, '| **val_loss**')).toBe('| **val_loss** (mean) | 0.5 | 0.49 | −0.01 (−2%) |');
    expect(text).toContain(`**Verdict:** no-change (${SINGLE_RUN_NOTE}).`);
    expect(text).toContain('**Why:** within the noise.');
  });

  it('neutralises a hostile hypothesis and reasons, and works without a document or links', () => {
    const experiment = makeAppExperiment({ k: 2, state: 'invalid', hypothesis: HOSTILE, reason: HOSTILE, verdict: 'invalid' });
    const text = renderExperimentComment({ state, experiment, document: null, links: {} });
    expect(text.match(/<!--/g)).toEqual(['<!--']);
    expect(text.startsWith(EXPERIMENT_MARKER)).toBe(true);
    expect(text).not.toMatch(/<img|@everyone|<!-- autoloop:state/);
    expect(text).not.toContain('[proposal trace]');
    expect(rowOf(text, '| **val_loss**')).toBe('| **val_loss** (mean) | — | — | — |');
    expect(text).toContain('**Verdict:** invalid');
  });
});
