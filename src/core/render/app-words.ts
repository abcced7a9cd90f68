/**
 * Words the App's renderers share about a run: where an experiment stands, and the best so far against the
 * baseline. Pure.
 */
import { bestExperiment, bestValue, runBaseline, type AppExperiment, type AppRunState } from '../app/state.js';
import { change, value } from './markdown.js';

/** Words for where an experiment stands; in-flight ones end with an ellipsis. */
export const STATE_WORDS: Record<AppExperiment['state'], string> = {
  proposing: 'proposing…',
  evaluating: 'evaluating…',
  kept: 'kept',
  discarded: 'discarded',
  invalid: 'invalid',
  'needs-review': 'needs review',
};

/** Best so far against the baseline, in one sentence without the final period; null before any measurement. */
export function bestSentence(state: AppRunState): string | null {
  const baseline = runBaseline(state);
  const best = bestValue(state);
  const bestK = bestExperiment(state)?.k;
  if (baseline === null) {
    return best === null ? null : `best so far **${value(best)}** (experiment ${bestK}); the baseline was not measured`;
  }
  if (best === null || bestK === undefined || best === baseline) return `baseline ${value(baseline)}, no experiment kept yet`;
  const delta = best - baseline;
  return `best so far **${value(best)}** (experiment ${bestK}) against the baseline ${value(baseline)}: ${change(delta, baseline === 0 ? null : delta / Math.abs(baseline))}`;
}
