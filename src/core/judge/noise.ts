/**
 * What an A/A measurement (a commit against itself, `autoloop eval --aa`) says about a benchmark's noise: how much
 * each side varies (CV), how much the paired difference varies, and the smallest true effect the judge would find
 * with 80% power at a given number of runs per side — what Bencher calls calibrating a threshold. Pure.
 */
import { mean, studentTQuantile, variance } from './stats.js';
import { ONE_SIDED_ALPHA } from './judge.js';
import { sequentialPlan } from './sequential.js';

/** The power the smallest detectable effect is stated at. */
export const DETECTION_POWER = 0.8;

export interface DetectableEffect {
  /** How the runs are taken, for people: `fixed 5`, `auto (3 to 8)`. */
  label: string;
  runsPerSide: number;
  /** The smallest true effect found with {@link DETECTION_POWER}, in the metric's units and relative to its mean. */
  effect: number;
  relative: number;
}

export interface NoiseReport {
  mean: number;
  /** Coefficient of variation of the runs of each side. */
  cv: { baseline: number; candidate: number };
  /** Standard deviation of the per-pair differences: what the paired test sees. */
  sdDifference: number;
  detectable: DetectableEffect[];
}

/**
 * The smallest effect a one-sided paired t test at level `alpha` over `n` pairs finds with {@link DETECTION_POWER},
 * for per-pair differences of standard deviation `sd`: (t_{1−α} + t_{power}) · sd / √n, with n − 1 degrees of freedom
 * (the usual approximation of the noncentral t).
 */
export function detectableEffect(sd: number, n: number, alpha: number): number {
  if (n < 2) return Number.POSITIVE_INFINITY;
  const df = n - 1;
  return (studentTQuantile(1 - alpha, df) + studentTQuantile(DETECTION_POWER, df)) * (sd / Math.sqrt(n));
}

/**
 * The noise of an A/A measurement (`baseline` and `candidate` the same code, paired by index), and the effect
 * detectable with fixed 3 and 5 runs per side and with sequential measurement up to `maxRepeats` (judged at its last
 * look's level, which is where a small effect is found). Null with fewer than 2 pairs.
 */
export function noiseReport(baseline: readonly number[], candidate: readonly number[], maxRepeats: number): NoiseReport | null {
  const n = Math.min(baseline.length, candidate.length);
  if (n < 2) return null;
  const differences = candidate.slice(0, n).map((value, i) => value - baseline[i]!);
  const sdDifference = Math.sqrt(variance(differences));
  const centre = mean([...baseline, ...candidate]);
  const cv = (values: readonly number[]) => (mean(values) === 0 ? 0 : Math.sqrt(variance(values)) / Math.abs(mean(values)));
  const plan = sequentialPlan(maxRepeats);
  const rows: Array<[string, number, number]> = [
    ['fixed 3', 3, ONE_SIDED_ALPHA],
    ['fixed 5', 5, ONE_SIDED_ALPHA],
    [`auto (3 to ${maxRepeats})`, maxRepeats, plan.alphas.at(-1)!],
  ];
  return {
    mean: centre,
    cv: { baseline: cv(baseline), candidate: cv(candidate) },
    sdDifference,
    detectable: rows.map(([label, runs, alpha]) => {
      const effect = detectableEffect(sdDifference, runs, alpha);
      return { label, runsPerSide: runs, effect, relative: centre === 0 ? Number.POSITIVE_INFINITY : effect / Math.abs(centre) };
    }),
  };
}
