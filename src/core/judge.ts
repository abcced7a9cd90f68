import type { Goal } from './config-schema.js';
import type { GuardJudgement, Judgement, Verdict } from './records.js';
import { mean, studentTQuantile, variance } from './stats.js';
import { formatEffect, formatNumber, formatPercent, type Effect } from './units.js';

/** Confidence level of the interval the judge reports. */
export const CONFIDENCE_LEVEL = 0.95;
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
}

/** `min_effect`-style threshold in the metric's own unit. */
function effectInUnits(effect: Effect, reference: number): number {
  return effect.kind === 'relative' ? effect.value * Math.abs(reference) : effect.value;
}

/**
 * Interval of candidate − baseline: a paired t interval on the per-pair differences when the
 * runs were interleaved in equal numbers, Welch's t interval otherwise.
 */
function deltaInterval(baseline: number[], candidate: number[]): Judgement['interval'] {
  const alpha = 1 - CONFIDENCE_LEVEL;
  if (baseline.length === candidate.length && baseline.length >= 2) {
    const differences = candidate.map((value, i) => value - baseline[i]!);
    const n = differences.length;
    const centre = mean(differences);
    const half = studentTQuantile(1 - alpha / 2, n - 1) * Math.sqrt(variance(differences) / n);
    return { low: centre - half, high: centre + half, level: CONFIDENCE_LEVEL, method: 'paired t' };
  }
  if (baseline.length >= 2 && candidate.length >= 2) {
    const vb = variance(baseline) / baseline.length;
    const vc = variance(candidate) / candidate.length;
    const se = Math.sqrt(vb + vc);
    const df = se === 0 ? 1 : (vb + vc) ** 2 / (vb ** 2 / (baseline.length - 1) + vc ** 2 / (candidate.length - 1));
    const centre = mean(candidate) - mean(baseline);
    const half = studentTQuantile(1 - alpha / 2, Math.max(df, 1)) * se;
    return { low: centre - half, high: centre + half, level: CONFIDENCE_LEVEL, method: "Welch's t" };
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
    guards: [],
    reasons: [reason],
  };
}

/**
 * The keep/discard decision: pure, from the samples of both sides and the config.
 * `improved` needs the estimate to beat `min_effect` and, with repeats, the interval to clear zero
 * in the right direction; guards must hold and the gain must not be implausibly large to be kept.
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
  const interval = deltaInterval(input.baseline, input.candidate);
  const singleRun = interval === null;
  const reasons: string[] = [];

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
          ? `the ${Math.round(CONFIDENCE_LEVEL * 100)}% interval of the delta includes zero: within the noise`
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
    keep: verdict === 'improved' && !suspicious && guards.every((g) => g.held),
    suspicious,
    baseline: { mean: baselineMean, samples: input.baseline },
    candidate: { mean: candidateMean, samples: input.candidate },
    delta,
    deltaRelative,
    interval,
    singleRun,
    guards,
    reasons,
  };
}
