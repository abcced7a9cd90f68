/**
 * The keep/discard decision, made once: the judge's answer in, what happens to the experiment out. The
 * judge's `keep`, the local loop's ledger status, the App's merge or close and the `autoloop/gate`
 * conclusion all read it from here.
 */
import type { Config } from '../config/config-schema.js';
import { formatEffect, formatNumber, formatPercent, type Effect } from '../config/units.js';
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

/** An effect from the config (`min_effect`, `suspicious_effect`, `max_regression`) in the metric's own unit, relative to `reference`. */
export function effectInUnits(effect: Effect, reference: number): number {
  return effect.kind === 'relative' ? effect.value * Math.abs(reference) : effect.value;
}

/** A judgement with the parts {@link againstRunBase} reads and may change. */
export type RunBaseInput = DecisionInput & Pick<Judgement, 'keep' | 'reasons'> & { candidate: { mean: number } };

/**
 * `suspicious_effect` against the run's base as well as against the step's parent, so that steps each
 * below it cannot add up to a gain beyond it unseen (three steps of −40% are −78% together). A judgement
 * that would be kept ({@link decideExperiment}) and whose candidate is better than `runBaseline` (the base
 * commit's metric: experiment 0's in the local loop, the first measured baseline in an App run) by more
 * than `suspicious_effect` comes back marked suspicious and not kept, with the reason, `beyond`, added to its
 * reasons; the decision then treats it as a suspicious step (`review`, or `keep` with `--accept-suspicious`).
 * Anything else, or no usable `runBaseline`, comes back as it was, with `beyond` null. Pure.
 */
export function againstRunBase<J extends RunBaseInput>(judgement: J, runBaseline: number | null, config: Pick<Config, 'metric'>): { judgement: J; beyond: string | null } {
  const { goal, suspicious_effect: effect } = config.metric;
  if (runBaseline === null || !Number.isFinite(runBaseline) || decideExperiment(judgement) !== 'keep') return { judgement, beyond: null };
  const candidate = judgement.candidate.mean;
  const gain = (goal === 'minimize' ? -1 : 1) * (candidate - runBaseline);
  if (!(gain > effectInUnits(effect, runBaseline))) return { judgement, beyond: null };
  const relative = runBaseline === 0 ? Math.sign(candidate - runBaseline) * Infinity : (candidate - runBaseline) / Math.abs(runBaseline);
  const beyond =
    `gain beyond suspicious_effect against the run's base (${formatPercent(relative)}: ${formatNumber(runBaseline)} → ${formatNumber(candidate)}, ` +
    `more than ${formatEffect(effect)}): a human must look before it is kept`;
  return { judgement: { ...judgement, suspicious: true, keep: false, reasons: [...judgement.reasons, beyond] }, beyond };
}
