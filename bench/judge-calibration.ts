/**
 * Calibration of the judge by simulation: how often it keeps a candidate with no true effect (A/A,
 * the false-keep rate) and one that is truly better by 2 noise standard deviations (A/B, the
 * power), at repeats 1, 3 and 5, side by side with the previous judge (two-sided 95% paired t) and
 * with autoresearch's rule (keep if the candidate's run beat the baseline's run; at repeats > 1,
 * if its mean did). Every rule sees the same seeded draws. Then the default, sequential measurement (`repeats: auto`),
 * against fixed repeats 3 and 5: false keeps, power and runs per side at no effect, a true effect of 1σ and 2σ, and a
 * regression, each through the functions the evaluator calls.
 *
 *   npx tsx bench/judge-calibration.ts [trials]
 */
import { configSchema, type Config } from '../src/core/config/config-schema.js';
import { decideExperiment } from '../src/core/judge/decision.js';
import { judgeExperiment, judgeUnderConfig, ONE_SIDED_ALPHA, sequentialStop, type JudgeInput } from '../src/core/judge/judge.js';
import { alphaAt, measurementPlan, SEQUENTIAL_METHOD } from '../src/core/judge/sequential.js';
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

// Sequential measurement (`evaluate.repeats: auto`, the default) against fixed repeats, through the functions the
// evaluator calls: pairs until `sequentialStop`, then the judge at the level of the look measuring stopped at.
const configOf = (evaluate: Record<string, unknown>): Config =>
  configSchema.parse({
    metric: { name: 'ms', goal: 'minimize' },
    evaluate: { command: 'bench', ...evaluate },
    scope: { edit: ['p.json'] },
    proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
  });
const designs: Array<[string, Config]> = [
  ['fixed 3', configOf({ repeats: 3 })],
  ['fixed 5', configOf({ repeats: 5 })],
  ['auto (default: 3..8)', configOf({})],
  ['auto, max_repeats 12', configOf({ max_repeats: 12 })],
];
const SEQUENTIAL_TRIALS = Math.min(TRIALS, 20_000);
/** Keeps and runs per side of `cfg` when the candidate is truly better by `trueGain`. */
function measureDesign(cfg: Config, trueGain: number, seed: number): { keeps: number; runs: number } {
  const normal = normalSampler(mulberry32(seed));
  const plan = measurementPlan(cfg);
  let keeps = 0;
  let runs = 0;
  for (let trial = 0; trial < SEQUENTIAL_TRIALS; trial++) {
    const baseline: number[] = [];
    const candidate: number[] = [];
    const values = (side: 'baseline' | 'candidate') => (side === 'baseline' ? baseline : candidate);
    do {
      baseline.push(MU + SIGMA * normal());
      candidate.push(MU - trueGain + SIGMA * normal());
    } while (plan ? !sequentialStop(cfg, plan, baseline.length, values) : baseline.length < cfg.evaluate.repeats);
    if (decideExperiment(judgeUnderConfig(cfg, values, true, plan ? alphaAt(plan, baseline.length) : ONE_SIDED_ALPHA)) === 'keep') keeps++;
    runs += baseline.length;
  }
  return { keeps, runs: runs / SEQUENTIAL_TRIALS };
}
const effects: Array<[string, number]> = [
  ['no effect', 0],
  ['better by 1σ', 1],
  ['better by 2σ', 2],
  ['worse by 2σ', -2],
];
const measuredDesigns = designs.map(([name, cfg]) => ({ name, cells: effects.map(([, gain], i) => measureDesign(cfg, gain * SIGMA, SEED * 7_000 + i)) }));
console.log(`\nSequential measurement (${SEQUENTIAL_METHOD}), ${SEQUENTIAL_TRIALS.toLocaleString('en')} trials per cell: keep rate, mean runs per side.\n`);
printTable(
  ['design', ...effects.flatMap(([label]) => [`${label}: keep`, 'runs'])],
  measuredDesigns.map(({ name, cells }) => [name, ...cells.flatMap((cell) => [formatRate(cell.keeps, SEQUENTIAL_TRIALS), cell.runs.toFixed(2)])]),
);
const [, fixed5, auto] = measuredDesigns;
const mix = [0.7, 0.1, 0.1, 0.1];
const mixRuns = (cells: Array<{ runs: number }>) => cells.reduce((sum, cell, i) => sum + mix[i]! * cell.runs, 0);
console.log('');
console.log(`target: auto keeps ≤ ${FALSE_KEEP_TARGET * 100}% with no effect: ${auto!.cells[0]!.keeps / SEQUENTIAL_TRIALS <= FALSE_KEEP_TARGET ? 'met' : 'NOT met'} (${formatRate(auto!.cells[0]!.keeps, SEQUENTIAL_TRIALS)})`);
console.log(`target: auto's power at 2σ ≥ fixed 5's: ${auto!.cells[2]!.keeps >= fixed5!.cells[2]!.keeps ? 'met' : 'NOT met'} (${formatRate(auto!.cells[2]!.keeps, SEQUENTIAL_TRIALS)} vs ${formatRate(fixed5!.cells[2]!.keeps, SEQUENTIAL_TRIALS)})`);
console.log(
  `runs per side, auto / fixed 5: ${(auto!.cells[0]!.runs / 5).toFixed(2)} with no effect, ${(mixRuns(auto!.cells) / mixRuns(fixed5!.cells)).toFixed(2)} over a loop's mix ` +
    '(70% no effect, 10% each of 1σ better, 2σ better, 2σ worse)',
);
