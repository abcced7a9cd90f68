/**
 * Calibration of the judge by simulation: how often it keeps a candidate with no true effect (A/A,
 * the false-keep rate) and one that is truly better by 2 noise standard deviations (A/B, the
 * power), at repeats 1, 3 and 5, side by side with the previous judge (two-sided 95% paired t) and
 * with autoresearch's rule (keep if the candidate's run beat the baseline's run; at repeats > 1,
 * if its mean did). Every rule sees the same seeded draws.
 *
 *   npx tsx bench/judge-calibration.ts [trials]
 */
import { judgeExperiment, type JudgeInput } from '../src/core/judge/judge.js';
import { mean, pairedTInterval } from '../src/core/judge/stats.js';
import { formatRate, mulberry32, normalSampler, printTable } from './simulate.js';

const TRIALS = Number(process.argv[2] ?? 50_000);
const SEED = 1;
const REPEATS = [1, 3, 5];
/** True mean of the metric (say a latency in ms, goal minimize) and the sd of one run's noise. */
const MU = 100;
const SIGMA = 1;
/** A/B: the candidate is truly better by this many noise standard deviations. */
const EFFECT_SIGMAS = 2;
const FALSE_KEEP_TARGET = 0.05;
const POWER_TARGET = 0.8;

const config: Omit<JudgeInput, 'baseline' | 'candidate'> = {
  goal: 'minimize',
  // The config's default: the interval alone decides, so the false-keep rate is the test's own.
  minEffect: { kind: 'absolute', value: 0 },
  suspiciousEffect: { kind: 'relative', value: 0.5 },
};

/** The judge before calibration: two-sided 95% paired t interval, min_effect alone with one run. */
function previousJudgeKeeps(baseline: number[], candidate: number[]): boolean {
  const gain = mean(baseline) - mean(candidate);
  if (baseline.length < 2) return gain > 0;
  return pairedTInterval(baseline, candidate, 0.95).high < 0 && gain > 0;
}

interface Counts {
  judge: number;
  previous: number;
  better: number;
}

function simulate(repeats: number, trueGain: number, seed: number): Counts {
  const normal = normalSampler(mulberry32(seed));
  const counts: Counts = { judge: 0, previous: 0, better: 0 };
  for (let trial = 0; trial < TRIALS; trial++) {
    const baseline: number[] = [];
    const candidate: number[] = [];
    for (let i = 0; i < repeats; i++) {
      baseline.push(MU + SIGMA * normal());
      candidate.push(MU - trueGain + SIGMA * normal());
    }
    if (judgeExperiment({ ...config, baseline, candidate }).keep) counts.judge++;
    if (previousJudgeKeeps(baseline, candidate)) counts.previous++;
    if (mean(candidate) < mean(baseline)) counts.better++;
  }
  return counts;
}

const started = performance.now();
const results = REPEATS.map((repeats) => ({
  repeats,
  aa: simulate(repeats, 0, SEED * 1_000 + repeats),
  ab: simulate(repeats, EFFECT_SIGMAS * SIGMA, SEED * 1_000 + 100 + repeats),
}));
const elapsed = performance.now() - started;

const method = judgeExperiment({ ...config, baseline: [1, 2], candidate: [1, 2] }).interval!.method;
console.log(`Judge calibration: ${TRIALS.toLocaleString('en')} trials per cell, seed ${SEED}, noise N(0, σ²) per run, min_effect 0.`);
console.log(`A/A: no true effect (a keep is a false keep). A/B: candidate truly better by ${EFFECT_SIGMAS}σ (a keep is a true keep).`);
console.log(`judge:  ${method}; keep iff its 90% interval clears zero (one run per side: min_effect alone).`);
console.log('before: the judge until now, paired t 95% two-sided (2.5% per side).');
console.log("better: autoresearch's rule, keep if the candidate's run beat the baseline's (at repeats > 1: its mean).");
console.log('±: Monte Carlo 95% margin.\n');
printTable(
  ['repeats', 'judge false keep', 'judge power', 'before false keep', 'before power', 'better false keep', 'better power'],
  results.map(({ repeats, aa, ab }) => [
    String(repeats),
    formatRate(aa.judge, TRIALS),
    formatRate(ab.judge, TRIALS),
    formatRate(aa.previous, TRIALS),
    formatRate(ab.previous, TRIALS),
    formatRate(aa.better, TRIALS),
    formatRate(ab.better, TRIALS),
  ]),
);

const falseKeeps = results.filter((r) => r.repeats >= 3).map((r) => ({ repeats: r.repeats, rate: r.aa.judge / TRIALS }));
// With min_effect 0 the false-keep rate of the one-sided test is 5% exactly under normal noise, so a
// measured rate is judged against the target with its Monte Carlo margin.
const withinTarget = falseKeeps.every(({ rate }) => rate - 1.96 * Math.sqrt((rate * (1 - rate)) / TRIALS) <= FALSE_KEEP_TARGET);
const power5 = results.find((r) => r.repeats === 5)!.ab.judge / TRIALS;
console.log('');
console.log(
  `target: false keep ≤ ${FALSE_KEEP_TARGET * 100}% at repeats ≥ 3 (within Monte Carlo error): ${withinTarget ? 'met' : 'NOT met'} ` +
    `(${falseKeeps.map(({ repeats, rate }) => `${(rate * 100).toFixed(1)}% at ${repeats}`).join(', ')})`,
);
console.log(`target: power ≥ ${POWER_TARGET * 100}% at repeats 5: ${power5 >= POWER_TARGET ? 'met' : 'NOT met'} (${(power5 * 100).toFixed(1)}%)`);
console.log(`(${(elapsed / 1000).toFixed(1)} s)`);
