import type { Config, Goal } from '../config/config-schema.js';
import type { GuardJudgement, Judgement, RunSample, Verdict } from '../ledger/records.js';
import { decideExperiment, effectInUnits } from './decision.js';
import { mean, pairedTInterval, welchTInterval } from './stats.js';
import { formatEffect, formatNumber, formatPercent, type Effect } from '../config/units.js';
import { alphaAt, isInterimLook, stopAtLook, type LookEvidence, type SequentialPlan } from './sequential.js';

/**
 * Error rate of each one-sided decision. A candidate with no true effect is called `improved` (a
 * false keep) with at most this probability, and `regressed` with at most this probability.
 */
export const ONE_SIDED_ALPHA = 0.05;
/**
 * Confidence level of the two-sided interval the judge reports: 1 − 2 × ONE_SIDED_ALPHA = 90%, so
 * each end is a one-sided 95% bound and "the interval clears zero" is a one-sided 5% test.
 */
export const CONFIDENCE_LEVEL = 1 - 2 * ONE_SIDED_ALPHA;
/** Names the interval's method, as shown next to it, for a test at one-sided level `alpha`. */
export function intervalMethod(kind: 'paired' | 'welch', alpha = ONE_SIDED_ALPHA): string {
  return `${kind === 'paired' ? 'paired t' : "Welch's t"}; each end a one-sided ${formatLevelPercent(1 - alpha)} bound`;
}
/** The methods at the default level. */
export const INTERVAL_METHOD = { paired: intervalMethod('paired'), welch: intervalMethod('welch') } as const;

/** A confidence level as a percentage: whole when it is one (95%), else to one decimal (99.3%). */
export function formatLevelPercent(level: number): string {
  const percent = level * 100;
  return Math.abs(percent - Math.round(percent)) < 0.05 ? `${Math.round(percent)}%` : `${percent.toFixed(1)}%`;
}
/** Said wherever a verdict rests on baseline samples measured earlier, not beside the candidate. */
export const UNPAIRED_NOTE = 'unpaired: baseline samples cached from an earlier measurement';
/** Said wherever a verdict rests on one run per side. */
export const SINGLE_RUN_NOTE = 'single run, no noise estimate';

export interface GuardSamples {
  name: string;
  goal: Goal;
  maxRegression: Effect;
  baseline: number[];
  candidate: number[];
}

export interface JudgeInput {
  goal: Goal;
  minEffect: Effect;
  suspiciousEffect: Effect;
  /** Primary metric, one value per run; paired by index when both sides have the same count (B C B C …). */
  baseline: number[];
  candidate: number[];
  guards?: GuardSamples[];
  /**
   * Whether the runs were measured interleaved in pairs (B C B C …), the default. `false` for a
   * baseline measured at another time (a cached baseline): the judge then uses Welch's t, since
   * index pairs share no machine state.
   */
  paired?: boolean;
  /**
   * The one-sided level of the test, ONE_SIDED_ALPHA unless a sequential design gives this look a smaller share of it
   * (see ./sequential.ts); the reported interval is the two-sided 1 − 2·alpha one.
   */
  alpha?: number;
}

/**
 * Interval of candidate − baseline at CONFIDENCE_LEVEL: a paired t interval on the per-pair
 * differences when the runs were interleaved in equal numbers, Welch's t interval otherwise; null
 * with fewer than two runs on a side. The method follows from how the runs were measured, never from
 * the data, so the false-keep rate stays at ONE_SIDED_ALPHA.
 */
function deltaInterval(baseline: number[], candidate: number[], paired: boolean, alpha: number): Judgement['interval'] {
  const level = 1 - 2 * alpha;
  if (paired && baseline.length === candidate.length && baseline.length >= 2) {
    const { low, high } = pairedTInterval(baseline, candidate, level);
    return { low, high, level, method: intervalMethod('paired', alpha) };
  }
  if (baseline.length >= 2 && candidate.length >= 2) {
    const { low, high } = welchTInterval(baseline, candidate, level);
    return { low, high, level, method: intervalMethod('welch', alpha) };
  }
  return null;
}

function judgeGuard(guard: GuardSamples): GuardJudgement {
  const baseline = mean(guard.baseline);
  const candidate = mean(guard.candidate);
  const worse = guard.goal === 'minimize' ? candidate - baseline : baseline - candidate;
  const tolerance = effectInUnits(guard.maxRegression, baseline);
  return {
    name: guard.name,
    goal: guard.goal,
    baseline,
    candidate,
    regression: baseline === 0 ? (worse === 0 ? 0 : Math.sign(worse) * Infinity) : worse / Math.abs(baseline),
    held: Number.isFinite(worse) && worse <= tolerance,
  };
}

function invalidJudgement(input: JudgeInput, reason: string): Judgement {
  return {
    verdict: 'invalid',
    keep: false,
    suspicious: false,
    baseline: { mean: Number.NaN, samples: input.baseline },
    candidate: { mean: Number.NaN, samples: input.candidate },
    delta: Number.NaN,
    deltaRelative: Number.NaN,
    interval: null,
    singleRun: input.baseline.length < 2 || input.candidate.length < 2,
    paired: input.paired ?? true,
    guards: [],
    reasons: [reason],
  };
}

/**
 * The judgement of one experiment: pure, from the samples of both sides and the config's rules.
 * `improved` needs the estimate to beat `min_effect` and, with repeats, the interval to clear zero
 * in the right direction (a one-sided test at ONE_SIDED_ALPHA: with no true effect, at most 5% of
 * candidates are kept); `keep` is {@link decideExperiment}'s answer (guards held, not implausibly large).
 * With one run per side it decides on `min_effect` alone and says SINGLE_RUN_NOTE.
 */
export function judgeExperiment(input: JudgeInput): Judgement {
  const all = [...input.baseline, ...input.candidate, ...(input.guards ?? []).flatMap((g) => [...g.baseline, ...g.candidate])];
  if (input.baseline.length === 0 || input.candidate.length === 0) {
    return invalidJudgement(input, `no valid ${input.baseline.length === 0 ? 'baseline' : 'candidate'} samples`);
  }
  if (!all.every(Number.isFinite)) return invalidJudgement(input, 'a sample is NaN or infinite');

  const baselineMean = mean(input.baseline);
  const candidateMean = mean(input.candidate);
  const delta = candidateMean - baselineMean;
  const deltaRelative = baselineMean === 0 ? (delta === 0 ? 0 : Math.sign(delta) * Infinity) : delta / Math.abs(baselineMean);
  // Work in "gain" (positive = better) so minimise and maximise share one rule.
  const direction = input.goal === 'minimize' ? -1 : 1;
  const gain = direction * delta;
  const threshold = effectInUnits(input.minEffect, baselineMean);
  const paired = input.paired ?? true;
  const alpha = input.alpha ?? ONE_SIDED_ALPHA;
  const interval = deltaInterval(input.baseline, input.candidate, paired, alpha);
  const singleRun = interval === null;
  const reasons: string[] = paired ? [] : [UNPAIRED_NOTE];

  let verdict: Verdict;
  if (singleRun) {
    verdict = gain > threshold ? 'improved' : gain < -threshold ? 'regressed' : 'no-change';
    reasons.push(`${SINGLE_RUN_NOTE}: decided on min_effect (${formatEffect(input.minEffect)}) alone`);
  } else {
    const gainLow = Math.min(direction * interval.low, direction * interval.high);
    const gainHigh = Math.max(direction * interval.low, direction * interval.high);
    if (gainLow > 0 && gain > threshold) verdict = 'improved';
    else if (gainHigh < 0 && -gain > threshold) verdict = 'regressed';
    else verdict = 'no-change';
    if (verdict === 'no-change') {
      reasons.push(
        gainLow <= 0 && gainHigh >= 0
          ? `the ${formatLevelPercent(1 - 2 * alpha)} interval of the delta includes zero (one-sided ${formatLevelPercent(alpha)} test): within the noise`
          : `the effect ${formatPercent(deltaRelative)} is smaller than min_effect ${formatEffect(input.minEffect)}`,
      );
    }
  }
  if (verdict === 'improved') reasons.push(`better by ${formatNumber(Math.abs(delta))} (${formatPercent(deltaRelative)})`);
  if (verdict === 'regressed') reasons.push(`worse by ${formatNumber(Math.abs(delta))} (${formatPercent(deltaRelative)})`);

  const suspiciousThreshold = effectInUnits(input.suspiciousEffect, baselineMean);
  const suspicious = verdict === 'improved' && gain > suspiciousThreshold;
  if (suspicious) reasons.push(`gain beyond suspicious_effect (${formatEffect(input.suspiciousEffect)}): a human must look before it is kept`);

  const guards = (input.guards ?? []).map(judgeGuard);
  for (const guard of guards.filter((g) => !g.held)) {
    reasons.push(`guard ${guard.name} regressed by ${formatPercent(guard.regression)} (${formatNumber(guard.baseline)} → ${formatNumber(guard.candidate)})`);
  }

  return {
    verdict,
    keep: decideExperiment({ verdict, suspicious, guards }) === 'keep',
    suspicious,
    baseline: { mean: baselineMean, samples: input.baseline },
    candidate: { mean: candidateMean, samples: input.candidate },
    delta,
    deltaRelative,
    interval,
    singleRun,
    paired,
    guards,
    reasons,
  };
}

/** One metric's values from the valid runs of one side, in run order. */
export function sampleValues(samples: readonly RunSample[], side: RunSample['side'], name: string): number[] {
  return samples.filter((s) => s.side === side && s.ok && s.metrics[name] !== undefined).map((s) => s.metrics[name]!);
}

/** Runs per side after which a metric that has not varied on either side is taken as deterministic. */
export const DETERMINISTIC_AFTER = 2;

/** True when some metric in `names` took two different values among the valid runs of one of `sides`. */
export function hasVaried(samples: readonly RunSample[], names: readonly string[], sides: readonly RunSample['side'][] = ['baseline', 'candidate']): boolean {
  return sides.some((side) => names.some((name) => new Set(sampleValues(samples, side, name)).size > 1));
}

/**
 * True when each of `sides` has at least {@link DETERMINISTIC_AFTER} valid runs and every metric in `names` took
 * one value on each side: more runs would only repeat the same numbers. Each measurement checks it for itself,
 * so a candidate that makes the metric noisy is measured at the full `repeats`.
 */
export function isDeterministic(samples: readonly RunSample[], names: readonly string[], sides: readonly RunSample['side'][] = ['baseline', 'candidate']): boolean {
  const enough = sides.every((side) => names.every((name) => sampleValues(samples, side, name).length >= DETERMINISTIC_AFTER));
  return enough && !hasVaried(samples, names, sides);
}

/**
 * The judge's reason when a measurement stopped early on a deterministic metric: after one run per side when the
 * metric never moved before and the candidate was not better, else once each side repeated its value.
 */
export function deterministicNote(runsPerSide: number, repeats: number): string {
  if (runsPerSide === 1) {
    return `deterministic: the metric has not moved in any run so far and the candidate is not better after one run per side, so one was enough (evaluate.repeats is ${repeats})`;
  }
  return `deterministic: every run of each side gave the same value, so ${runsPerSide} runs per side were enough (evaluate.repeats is ${repeats})`;
}

/**
 * Judges under the config: the one mapping from the config's rules (`min_effect`, `suspicious_effect`, the
 * guards' `max_regression`) to the judge's input. `values` gives one metric's samples of one side; `paired`
 * says whether the sides were measured interleaved (B C B C …).
 */
export function judgeUnderConfig(config: Config, values: (side: RunSample['side'], name: string) => number[], paired: boolean, alpha = ONE_SIDED_ALPHA): Judgement {
  return judgeExperiment({
    paired,
    alpha,
    goal: config.metric.goal,
    minEffect: config.metric.min_effect,
    suspiciousEffect: config.metric.suspicious_effect,
    baseline: values('baseline', config.metric.name),
    candidate: values('candidate', config.metric.name),
    guards: config.guards.map((g) => ({
      name: g.name,
      goal: g.goal,
      maxRegression: g.max_regression,
      baseline: values('baseline', g.name),
      candidate: values('candidate', g.name),
    })),
  });
}

/**
 * What an interim look of a sequential measurement found (see ./sequential.ts): the verdict at the look's level
 * `alpha`, and the primary metric's estimated gain (positive is better), its standard error and `min_effect` in its units.
 */
export function lookEvidence(config: Config, values: (side: RunSample['side'], name: string) => number[], alpha: number): LookEvidence {
  const judgement = judgeUnderConfig(config, values, true, alpha);
  const baseline = values('baseline', config.metric.name);
  const candidate = values('candidate', config.metric.name);
  const direction = config.metric.goal === 'minimize' ? -1 : 1;
  const se = baseline.length === candidate.length && baseline.length >= 2 ? pairedTInterval(baseline, candidate, 0.9).se : 0;
  return { verdict: judgement.verdict, gain: direction * judgement.delta, se, threshold: effectInUnits(config.metric.min_effect, judgement.baseline.mean) };
}

/**
 * Whether a sequential measurement under `plan` stops after `pairs` pairs: at an interim look where the verdict is
 * decided or futile ({@link stopAtLook}), or at the last look. The evaluator asks it after each pair; so do the
 * calibration benchmark and tests, so what they measure is what runs.
 */
export function sequentialStop(config: Config, plan: SequentialPlan, pairs: number, values: (side: RunSample['side'], name: string) => number[]): boolean {
  if (pairs >= plan.looks.at(-1)!) return true;
  return isInterimLook(plan, pairs) && stopAtLook(lookEvidence(config, values, alphaAt(plan, pairs)));
}
