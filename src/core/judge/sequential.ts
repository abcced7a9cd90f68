/**
 * Sequential measurement (`evaluate.repeats: auto`, the default): a few pairs, then more only while the verdict is
 * undecided. A group-sequential design: the judge looks at the paired comparison after 3 pairs, after 5, then every 3
 * more up to `evaluate.max_repeats`, and each look tests at its share of the one-sided 5% error rate.
 *
 * - **Alpha spending** (Lan & DeMets 1983, "Discrete sequential boundaries for clinical trials", Biometrika 70(3):
 *   659–663), with the power family α(t) = α·t^ρ, ρ = 1.5 (Kim & DeMets 1987, "Design and analysis of group sequential
 *   tests based on the type I error spending rate function", Biometrika 74(1):149–154): at information fraction
 *   t = pairs / max pairs, the rate spent so far is α(t); look k tests at α(t_k) − α(t_{k−1}).
 * - Each look's test is a paired t test at that level, and the looks are combined by Boole's inequality: the chance of a
 *   false keep at any look is at most the sum of the levels, α(1) = 5%, whatever the correlation between looks. That is
 *   conservative (exact group-sequential boundaries integrate the joint distribution of the looks, Armitage, McPherson
 *   & Rowe 1969), and holds for the t statistic, not only asymptotically.
 * - **Futility**, non-binding (Jennison & Turnbull 2000, Group Sequential Methods with Applications to Clinical Trials,
 *   §7.2): before the last look, measuring stops when the candidate's gain is under one standard error, or under
 *   `min_effect`. Stopping for futility only ever removes chances to keep, so it cannot raise the false-keep rate.
 *
 * Simulated in bench/judge-calibration.ts: the false-keep rate stays under 5%, the power at a true effect of 2 noise
 * standard deviations is above fixed `repeats: 5`'s, and a change that does nothing costs fewer runs than 5.
 */
import type { Config } from '../config/config-schema.js';
import { ONE_SIDED_ALPHA } from './judge.js';

/** The first look, in pairs: a paired t test needs 2, and 3 gives it a first chance to stop. */
export const FIRST_LOOK = 3;
/** The power of the spending function α·t^ρ. */
export const SPENDING_POWER = 1.5;
/** Names the design, as shown next to a sequential verdict. */
export const SEQUENTIAL_METHOD = `group-sequential (Lan–DeMets alpha spending, α·t^${SPENDING_POWER}, Bonferroni across looks; non-binding futility)`;

/** Where the judge looks and at which level. */
export interface SequentialPlan {
  /** Pairs measured at each look, increasing; the last is the most pairs measured. */
  looks: number[];
  /** The one-sided level of each look's test; they add up to the overall rate. */
  alphas: number[];
}

/** The looks for at most `maxPairs` pairs: 3, 5, then every 3 more while at least 2 short of the maximum, then the maximum. */
export function sequentialLooks(maxPairs: number): number[] {
  if (maxPairs <= FIRST_LOOK) return [maxPairs];
  const looks = [FIRST_LOOK];
  for (let next = 5; next <= maxPairs - 2; next += 3) looks.push(next);
  looks.push(maxPairs);
  return looks;
}

/** The plan for at most `maxPairs` pairs at overall one-sided rate `alpha`. */
export function sequentialPlan(maxPairs: number, alpha = ONE_SIDED_ALPHA): SequentialPlan {
  const looks = sequentialLooks(maxPairs);
  const last = looks.at(-1)!;
  const spent = (pairs: number) => alpha * (pairs / last) ** SPENDING_POWER;
  return { looks, alphas: looks.map((pairs, k) => spent(pairs) - (k === 0 ? 0 : spent(looks[k - 1]!))) };
}

/** The plan a measurement under `config` follows: the sequential one with `repeats: auto`, null for a fixed number of runs. */
export function measurementPlan(config: Pick<Config, 'evaluate'>): SequentialPlan | null {
  return config.evaluate.sequential ? sequentialPlan(config.evaluate.repeats) : null;
}

/**
 * The one-sided level the judge tests at after `pairs` pairs: that of the last look reached (the first look's when
 * measuring stopped before it, as it does for a deterministic metric or a failed run).
 */
export function alphaAt(plan: SequentialPlan, pairs: number): number {
  let k = 0;
  while (k + 1 < plan.looks.length && plan.looks[k + 1]! <= pairs) k++;
  return plan.alphas[k]!;
}

/** Whether `pairs` is one of the plan's looks before the last: where measuring may stop early. */
export function isInterimLook(plan: SequentialPlan, pairs: number): boolean {
  const k = plan.looks.indexOf(pairs);
  return k !== -1 && k < plan.looks.length - 1;
}

/** What a look found, in the terms the stopping rule needs. */
export interface LookEvidence {
  /** The judge's verdict at this look's level. */
  verdict: 'improved' | 'regressed' | 'no-change' | 'invalid';
  /** The estimated gain (positive is better), its standard error, and `min_effect` in the metric's units. */
  gain: number;
  se: number;
  threshold: number;
}

/** Whether to stop at an interim look: decided (improved or regressed at its level), or futile (see the module comment). */
export function stopAtLook(evidence: LookEvidence): boolean {
  if (evidence.verdict !== 'no-change') return true;
  if (evidence.gain <= evidence.threshold) return true;
  return evidence.se > 0 && evidence.gain / evidence.se <= 1;
}

/** The reason a sequential verdict carries: how many pairs, which look, at what level. */
export function sequentialNote(plan: SequentialPlan, pairs: number): string {
  const k = Math.max(0, plan.looks.findIndex((look) => look >= pairs));
  const level = alphaAt(plan, pairs);
  return `sequential: ${pairs} of at most ${plan.looks.at(-1)} runs per side (look ${k + 1} of ${plan.looks.length}, one-sided level ${formatLevel(level)})`;
}

function formatLevel(level: number): string {
  return level >= 0.01 ? level.toFixed(3) : level.toPrecision(2);
}
