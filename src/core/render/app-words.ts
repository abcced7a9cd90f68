/**
 * Words the App's renderers share about a run: where an experiment stands, and the best so far against the
 * baseline. Pure.
 */
import { bestExperiment, bestValue, runBaseline, type AppExperiment, type AppRunState } from '../app/state.js';
import { change, code, formatInterval, link, oneLine, shortSha, value } from './markdown.js';

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

/**
 * The run pull request's own evaluation (the run head measured against the base branch), in one sentence without the
 * final period: the run's headline figure, with its interval; null before CI evaluated the run. Says so when it measured
 * an earlier head than the run branch's now.
 */
export function confirmationSentence(state: AppRunState): string | null {
  const confirmation = state.confirmation;
  if (!confirmation) return null;
  const measured = `${code(shortSha(confirmation.headSha))} against ${code(state.baseBranch)} at ${code(shortSha(confirmation.baseSha))}`;
  const evidence = confirmation.evaluationRun ? ` (${link('evaluation', confirmation.evaluationRun)})` : '';
  const stale = state.runHead !== undefined && state.runHead.sha !== confirmation.headSha ? '; the run branch has moved since, so CI measures its new head' : '';
  if (confirmation.verdict === 'invalid' || confirmation.delta === null || confirmation.delta === undefined) {
    return `the evaluation of the run head ${measured} is invalid${confirmation.reason ? `: ${oneLine(confirmation.reason, 300)}` : ''}${evidence}${stale}`;
  }
  const bounds = confirmation.interval;
  // The interval of the delta as the judge gave it (its method left out, the evaluation names it), or why there is none.
  const interval = bounds === undefined ? '' : `, ${formatInterval(bounds && { low: bounds.low ?? Number.NaN, high: bounds.high ?? Number.NaN, level: bounds.level, method: '' })}`;
  return (
    `**${change(confirmation.delta, confirmation.deltaRelative)}**${interval} (${confirmation.verdict}): ` +
    `${code(state.metric.name)} ${value(confirmation.baseline)} → ${value(confirmation.candidate)}, the run head ${measured}${evidence}${stale}`
  );
}
