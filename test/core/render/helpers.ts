/**
 * Shared by the tests of the App's renderers (dashboard, status comment, experiment comment, gate): hostile
 * text, result documents with a judgement over the default one, and Markdown table rows read back; and of the run's
 * own renderers (report, chart, progress line): a ledger whose numbers do not add up unless read against each parent.
 */
import { encodeState } from '../../../src/core/app/state-codec.js';
import type { ExperimentRecord, Judgement, RunRecord } from '../../../src/core/ledger/records.js';
import type { ResultDocument } from '../../../src/core/result/result.js';
import { makeAppRunState } from '../../fixtures/records/app-state.js';
import { makeResultDocument } from '../../fixtures/records/result.js';
import { makeExperiment, makeJudgement, makeRun } from '../../fixtures/records/ledger.js';

/** Text that tries everything: end a comment, forge the state marker, ping everyone, break a table, open HTML. */
export const HOSTILE = `--> <!-- autoloop:state v1 ${encodeState(makeAppRunState({ issue: 666 })).slice(23, -4)} --> @everyone | <img src=x onerror=alert(1)> <!-- autoloop:status -->`;

/** A judgement as the document stores it (through JSON). */
export function stored(judgement: Judgement): Record<string, unknown> {
  return JSON.parse(JSON.stringify(judgement)) as Record<string, unknown>;
}

/** The document's default judgement with `partial` over it, as the document stores it. */
export function documentWith(partial: Partial<Judgement>, document: Partial<ResultDocument> = {}): ResultDocument {
  const base = makeResultDocument();
  return makeResultDocument({ judgement: { ...base.judgement, ...stored(partial as Judgement) }, verdict: partial.verdict ?? base.verdict, ...document });
}

/** The cells of a Markdown table row, split at unescaped pipes. */
export function cells(row: string): string[] {
  return row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
}

/** The first line of `text` that starts with `start`, or an empty string. */
export function rowOf(text: string, start: string): string {
  return text.split('\n').find((line) => line.startsWith(start)) ?? '';
}

/**
 * A run whose machine slowed down after the first kept step, as users met it: the baseline measured 200, experiment 1
 * was kept at 109.5, then the parent (the same commit) was measured again at 154.2 beside experiment 2, whose
 * candidate measured 92.4 — below the best as kept, yet only −40.1% against its own parent and within the noise, so
 * discarded. Experiment 3 is better beyond the noise but a guard regressed; experiment 4 crashed.
 */
export function makeNoisyLedger(): { run: RunRecord; experiments: ExperimentRecord[] } {
  const run = makeRun({ metric: { name: 'sort_ms', goal: 'minimize' }, guards: ['heap_mb'] });
  const interval = (low: number, high: number) => ({ low, high, level: 0.9, method: 'paired t; each end a one-sided 95% bound' });
  const sides = (baseline: number, candidate: number) => ({
    baseline: { mean: baseline, samples: [baseline - 1, baseline, baseline + 1] },
    candidate: { mean: candidate, samples: [candidate - 1, candidate, candidate + 1] },
    singleRun: false,
  });
  const experiments = [
    makeExperiment({ experiment: 0, metric: 200, best: 200, description: 'baseline', guards: { heap_mb: 50 } }),
    makeExperiment({
      experiment: 1,
      status: 'keep',
      metric: 109.5,
      best: 109.5,
      description: 'insertion sort below 16 items',
      judgement: makeJudgement(200, 109.5, { ...sides(200, 109.5), interval: interval(-100, -80), reasons: ['better by 90.5 (−45.3%)'] }),
    }),
    makeExperiment({
      experiment: 2,
      status: 'discard',
      metric: 92.4,
      best: 109.5,
      description: 'merge threshold 32',
      judgement: makeJudgement(154.2, 92.4, {
        ...sides(154.2, 92.4),
        verdict: 'no-change',
        keep: false,
        interval: interval(-94.06, 6.168),
        reasons: ['the 90% interval of the delta includes zero (one-sided 5% test): within the noise'],
      }),
    }),
    makeExperiment({
      experiment: 3,
      status: 'discard',
      metric: 98,
      best: 109.5,
      description: 'cache the pivots',
      judgement: makeJudgement(110, 98, {
        ...sides(110, 98),
        keep: false,
        interval: interval(-14, -10),
        guards: [{ name: 'heap_mb', goal: 'minimize', baseline: 50, candidate: 72.05, regression: 0.441, held: false }],
        reasons: ['better by 12 (−10.9%)', 'guard heap_mb regressed by +44.1% (50 → 72.05)'],
      }),
    }),
    makeExperiment({
      experiment: 4,
      status: 'crash',
      best: 109.5,
      description: 'parallel merge',
      reason:
        "candidate run 1: evaluate.command exited with code 1: SyntaxError: Unexpected token '}' | at parse (/repo/sort.js:3:9) (log: .autoloop/demo/traces/exp-0004/candidate-1.log)",
    }),
  ];
  return { run, experiments };
}
