/**
 * The keep/discard decision, made once: the judge's answer in, what happens to the experiment out. The
 * judge's `keep`, the local loop's ledger status, the App's merge or close and the `autoloop/gate`
 * conclusion all read it from here.
 */
import type { ExperimentStatus, Judgement } from '../ledger/records.js';

/**
 * What happens to a judged experiment: `keep` (better beyond the noise and `min_effect`, every guard held,
 * not suspicious), `review` (such a gain, but beyond `suspicious_effect`: a human decides), `discard` (not
 * better, or a guard regressed), or `invalid` (nothing can be concluded).
 */
export type Decision = 'keep' | 'review' | 'discard' | 'invalid';

/** The parts of a judgement the decision reads. */
export type DecisionInput = Pick<Judgement, 'verdict' | 'suspicious'> & { guards: readonly { held: boolean }[] };

export interface DecisionOptions {
  /** The user accepted gains beyond `suspicious_effect` for this run (`--accept-suspicious`): they are kept. */
  acceptSuspicious?: boolean;
}

/** Decides an experiment from its judgement (null: no valid judgement). Pure. */
export function decideExperiment(judgement: DecisionInput | null, options: DecisionOptions = {}): Decision {
  if (!judgement || judgement.verdict === 'invalid') return 'invalid';
  if (judgement.verdict !== 'improved' || !judgement.guards.every((guard) => guard.held)) return 'discard';
  if (!judgement.suspicious) return 'keep';
  return options.acceptSuspicious ? 'keep' : 'review';
}

/**
 * The decision as the ledger's status (autoresearch's `results.tsv` vocabulary): a gain waiting for review is
 * not kept by the local loop, so it is recorded as discarded, with the reason saying why.
 */
export const LEDGER_STATUS: Record<Decision, ExperimentStatus> = { keep: 'keep', review: 'discard', discard: 'discard', invalid: 'invalid' };
