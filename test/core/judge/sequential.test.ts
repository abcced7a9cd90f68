/**
 * The sequential design of `evaluate.repeats: auto`: its looks and levels, its stopping rule, and, simulated through
 * the same functions the evaluator calls, its error rate and power against fixed repeats on a noisy metric.
 */
import { describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../../src/core/config/config-schema.js';
import { judgeUnderConfig, ONE_SIDED_ALPHA, sequentialStop } from '../../../src/core/judge/judge.js';
import { alphaAt, measurementPlan, sequentialLooks, sequentialPlan, stopAtLook } from '../../../src/core/judge/sequential.js';
import { decideExperiment } from '../../../src/core/judge/decision.js';
import { mulberry32 } from '../../../src/core/propose/random.js';

function config(evaluate: Record<string, unknown> = {}, minEffect: string | number = 0): Config {
  return configSchema.parse({
    metric: { name: 'ms', goal: 'minimize', min_effect: minEffect },
    evaluate: { command: 'node bench.js', ...evaluate },
    scope: { edit: ['src/**'] },
    proposer: { kind: 'tune', tune: { file: 'src/p.json', params: { x: { min: 0, max: 1 } } } },
  });
}

/** Standard normal draws (Box–Muller) from a seeded uniform source. */
function normals(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * One measurement as the evaluator makes it, on a metric of mean 100 and noise sd 1 per run, the candidate truly better
 * by `gain`: pairs until {@link sequentialStop} says stop (or `repeats` pairs when fixed), then the judge at the level
 * of the look it stopped at. Returns whether it was kept and the runs per side it took.
 */
function measure(cfg: Config, gain: number, normal: () => number): { kept: boolean; runs: number } {
  const plan = measurementPlan(cfg);
  const baseline: number[] = [];
  const candidate: number[] = [];
  const values = (side: 'baseline' | 'candidate') => (side === 'baseline' ? baseline : candidate);
  for (;;) {
    baseline.push(100 + normal());
    candidate.push(100 - gain + normal());
    if (plan ? sequentialStop(cfg, plan, baseline.length, values) : baseline.length >= cfg.evaluate.repeats) break;
  }
  const judgement = judgeUnderConfig(cfg, values, true, plan ? alphaAt(plan, baseline.length) : ONE_SIDED_ALPHA);
  return { kept: decideExperiment(judgement) === 'keep', runs: baseline.length };
}

function simulate(cfg: Config, gain: number, trials: number, seed: number): { keepRate: number; meanRuns: number } {
  const normal = normals(seed);
  let kept = 0;
  let runs = 0;
  for (let i = 0; i < trials; i++) {
    const one = measure(cfg, gain, normal);
    if (one.kept) kept++;
    runs += one.runs;
  }
  return { keepRate: kept / trials, meanRuns: runs / trials };
}

describe('the plan', () => {
  it('looks after 3 and 5 pairs, then every 3 more, and at the maximum', () => {
    expect(sequentialLooks(8)).toEqual([3, 5, 8]);
    expect(sequentialLooks(10)).toEqual([3, 5, 8, 10]);
    expect(sequentialLooks(20)).toEqual([3, 5, 8, 11, 14, 17, 20]);
    expect(sequentialLooks(3)).toEqual([3]);
    expect(sequentialLooks(4)).toEqual([3, 4]);
  });

  it('spends exactly the one-sided 5% over its looks, least at the first', () => {
    for (const max of [3, 4, 8, 10, 20, 100]) {
      const { alphas } = sequentialPlan(max);
      expect(alphas.reduce((sum, a) => sum + a, 0)).toBeCloseTo(ONE_SIDED_ALPHA, 12);
      expect(alphas.every((a) => a > 0)).toBe(true);
    }
    const { alphas } = sequentialPlan(8);
    // α·t^1.5 at t = 3/8, 5/8, 1.
    expect(alphas.map((a) => Number(a.toFixed(5)))).toEqual([0.01148, 0.01322, 0.02529]);
  });

  it('is the default, and a fixed number of repeats turns it off', () => {
    expect(config().evaluate).toMatchObject({ sequential: true, repeats: 8 });
    expect(measurementPlan(config({ max_repeats: 12 }))?.looks).toEqual([3, 5, 8, 12]);
    expect(measurementPlan(config({ repeats: 5 }))).toBeNull();
    expect(() => config({ repeats: 5, max_repeats: 12 })).toThrow(/max_repeats applies only with repeats: auto/);
  });
});

describe('the stopping rule', () => {
  it('stops when decided either way, when the gain is not past min_effect, and when it is within one standard error', () => {
    expect(stopAtLook({ verdict: 'improved', gain: 5, se: 1, threshold: 0 })).toBe(true);
    expect(stopAtLook({ verdict: 'regressed', gain: -5, se: 1, threshold: 0 })).toBe(true);
    expect(stopAtLook({ verdict: 'no-change', gain: -0.1, se: 1, threshold: 0 })).toBe(true);
    expect(stopAtLook({ verdict: 'no-change', gain: 0.5, se: 0.1, threshold: 1 })).toBe(true);
    expect(stopAtLook({ verdict: 'no-change', gain: 0.9, se: 1, threshold: 0 })).toBe(true);
    expect(stopAtLook({ verdict: 'no-change', gain: 1.5, se: 1, threshold: 0 })).toBe(false);
  });
});

describe('measured by simulation, through the functions the evaluator calls (mean 100, noise sd 1 per run)', () => {
  const TRIALS = 4_000;

  it('keeps at most 5% of changes that do nothing, with fewer runs than fixed repeats 5', () => {
    const sequential = simulate(config(), 0, TRIALS, 11);
    // Monte Carlo margin at 4,000 trials is about ±0.7 points.
    expect(sequential.keepRate).toBeLessThanOrEqual(ONE_SIDED_ALPHA);
    expect(sequential.meanRuns).toBeLessThan(4);
    // What the default used to be, one run per side and no min_effect, keeps half of them.
    expect(simulate(config({ repeats: 1 }), 0, TRIALS, 11).keepRate).toBeGreaterThan(0.45);
  });

  it('finds a true gain of 2 noise sd at least as often as fixed repeats 5', () => {
    const sequential = simulate(config(), 2, TRIALS, 12);
    const fixed5 = simulate(config({ repeats: 5 }), 2, TRIALS, 12);
    expect(sequential.keepRate).toBeGreaterThanOrEqual(fixed5.keepRate);
    expect(sequential.keepRate).toBeGreaterThan(0.8);
  });

  it('stops at the first look on a clear regression', () => {
    const regression = simulate(config(), -3, 1_000, 13);
    expect(regression.keepRate).toBe(0);
    expect(regression.meanRuns).toBe(3);
  });

  it('keeps its rate on a metric whose noise is not normal (a skewed, heavy-tailed timing)', () => {
    // Timings: a floor plus an exponential tail, both sides alike.
    const uniform = mulberry32(21);
    const skewed = () => -Math.log(1 - uniform()) * 3;
    const cfg = config();
    const plan = measurementPlan(cfg)!;
    let kept = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const baseline: number[] = [];
      const candidate: number[] = [];
      const values = (side: 'baseline' | 'candidate') => (side === 'baseline' ? baseline : candidate);
      do {
        baseline.push(50 + skewed());
        candidate.push(50 + skewed());
      } while (!sequentialStop(cfg, plan, baseline.length, values));
      if (decideExperiment(judgeUnderConfig(cfg, values, true, alphaAt(plan, baseline.length))) === 'keep') kept++;
    }
    expect(kept / TRIALS).toBeLessThanOrEqual(ONE_SIDED_ALPHA + 0.01);
  });
});
