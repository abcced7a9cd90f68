import { describe, expect, it } from 'vitest';
import type { ExperimentRecord, ExperimentStatus } from '../../../src/core/ledger/records.js';
import {
  FLOAT_RESOLUTION,
  SIGMA_FAILURE,
  SIGMA_INITIAL,
  SIGMA_SUCCESS,
  describeChange,
  measuredPoints,
  nextPoint,
  pointKey,
  readTuneHistory,
  replaySigma,
  roundSignificant,
  type MeasuredPoint,
  type ParamSpecs,
  type Point,
  type SearchInput,
} from '../../../src/core/propose/tune-search.js';
import { makeExperiment, makeJudgement } from '../../fixtures/records/ledger.js';

/** Runs the loop against an objective (minimised): keep strictly better points, as the engine does. */
function simulate(
  params: ParamSpecs,
  start: Point,
  objective: (point: Point) => number,
  options: { seed: number; explore: number; steps: number },
): { best: Point; bestValue: number; proposals: Point[]; history: MeasuredPoint[]; exhaustedAt: number | null } {
  let best = start;
  let bestValue = objective(start);
  const history: MeasuredPoint[] = [];
  const proposals: Point[] = [];
  for (let experiment = 1; experiment <= options.steps; experiment++) {
    // The start (the baseline) is visited; later bests are in the history as kept points.
    const result = nextPoint({ params, best, history, visited: [start], seed: options.seed, experiment, explore: options.explore });
    if (!result) return { best, bestValue, proposals, history, exhaustedAt: experiment };
    proposals.push(result.point);
    const value = objective(result.point);
    const keep = value < bestValue;
    history.push({ experiment, point: result.point, status: keep ? 'keep' : 'discard', mode: result.mode });
    if (keep) {
      best = result.point;
      bestValue = value;
    }
  }
  return { best, bestValue, proposals, history, exhaustedAt: null };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Runs the loop with a noise-free judge (minimise): a change smaller than `tie` is `no-change`, a better
 * point is kept. The history carries what the ledger carries: parent, verdict and delta.
 */
function simulateJudged(
  params: ParamSpecs,
  start: Point,
  objective: (point: Point) => number,
  options: { seed: number; explore: number; steps: number; tie: number; goal?: 'minimize' },
): { bestValue: number; history: MeasuredPoint[] } {
  let best = start;
  let bestValue = objective(start);
  const history: MeasuredPoint[] = [];
  for (let experiment = 1; experiment <= options.steps; experiment++) {
    const result = nextPoint({ params, best, history, visited: [start], seed: options.seed, experiment, explore: options.explore, ...(options.goal ? { goal: options.goal } : {}) });
    if (!result) break;
    const value = objective(result.point);
    const delta = value - bestValue;
    const verdict = Math.abs(delta) <= options.tie ? 'no-change' : delta < 0 ? 'improved' : 'regressed';
    history.push({ experiment, point: result.point, from: best, status: verdict === 'improved' ? 'keep' : 'discard', verdict, delta, mode: result.mode });
    if (verdict === 'improved') {
      best = result.point;
      bestValue = value;
    }
  }
  return { bestValue, history };
}

const SMALL: ParamSpecs = {
  layers: { min: 1, max: 5, scale: 'linear', type: 'int' },
  activation: { choices: ['relu', 'gelu', 'tanh'] },
  bias: { choices: [true, false] },
};
const SMALL_START: Point = { layers: 3, activation: 'relu', bias: true };

describe('nextPoint', () => {
  it('never repeats a point in a small int/choice space, then returns null when exhausted', () => {
    // 5 × 3 × 2 = 30 points; the start is one of them, so 29 proposals exhaust the space.
    const objective = (point: Point) => Math.abs((point.layers as number) - 2) + (point.activation === 'gelu' ? 0 : 1) + (point.bias ? 0 : 0.5);
    for (const seed of [1, 2, 3]) {
      const run = simulate(SMALL, SMALL_START, objective, { seed, explore: 0.15, steps: 200 });
      const keys = [SMALL_START, ...run.proposals].map((point) => pointKey(SMALL, point));
      expect(new Set(keys).size).toBe(keys.length);
      expect(run.proposals).toHaveLength(29);
      expect(run.exhaustedAt).toBe(30);
      expect(run.bestValue).toBe(0);
    }
  });

  it('treats failed and crashed points as measured too', () => {
    const history: MeasuredPoint[] = [];
    const statuses: ExperimentStatus[] = ['crash', 'invalid', 'discard'];
    for (let experiment = 1; experiment <= 29; experiment++) {
      const result = nextPoint({ params: SMALL, best: SMALL_START, history, seed: 7, experiment, explore: 0.15 });
      expect(result).not.toBeNull();
      history.push({ experiment, point: result!.point, status: statuses[experiment % 3]!, mode: result!.mode });
    }
    expect(new Set(history.map((entry) => pointKey(SMALL, entry.point))).size).toBe(29);
    expect(nextPoint({ params: SMALL, best: SMALL_START, history, seed: 7, experiment: 30, explore: 0.15 })).toBeNull();
  });

  it('lists a float range that has few 4-digit values and exhausts it exactly', () => {
    // 0.1000 … 0.1005 at 4 significant digits: 6 values × 2 choices = 12 points.
    const params: ParamSpecs = { eps: { min: 0.1, max: 0.1005, scale: 'linear', type: 'float' }, norm: { choices: ['a', 'b'] } };
    const run = simulate(params, { eps: 0.1, norm: 'a' }, () => 1, { seed: 3, explore: 0.15, steps: 50 });
    expect(run.proposals).toHaveLength(11);
    expect(run.exhaustedAt).toBe(12);
    expect(new Set(run.proposals.map((point) => point.eps)).size).toBeGreaterThan(1);
    for (const point of run.proposals) expect([0.1, 0.1001, 0.1002, 0.1003, 0.1004, 0.1005]).toContain(point.eps);
  });

  it('does not re-propose the best point even when the file holds more digits than it writes', () => {
    const params: ParamSpecs = { x: { min: 0.01235, max: 0.01236, scale: 'linear', type: 'float' } };
    // 0.012345 is written as 0.01235 (4 significant digits), so the space has 0.01235 and 0.01236 only.
    const first = nextPoint({ params, best: { x: 0.012345 }, history: [], seed: 1, experiment: 1, explore: 0 });
    expect(first?.point).toEqual({ x: 0.01236 });
    const history: MeasuredPoint[] = [{ experiment: 1, point: first!.point, status: 'discard', mode: first!.mode }];
    expect(nextPoint({ params, best: { x: 0.012345 }, history, seed: 1, experiment: 2, explore: 0 })).toBeNull();
  });

  it('is reproducible: the same seed and history give the same point, another seed another', () => {
    const params: ParamSpecs = {
      lr: { min: 1e-5, max: 1, scale: 'log', type: 'float' },
      hidden: { min: 8, max: 512, scale: 'log', type: 'int' },
      dropout: { min: 0, max: 0.5, scale: 'linear', type: 'float' },
    };
    const base: SearchInput = {
      params,
      best: { lr: 0.001, hidden: 64, dropout: 0.1 },
      history: [{ experiment: 1, point: { lr: 0.002, hidden: 64, dropout: 0.1 }, status: 'discard', mode: 'local' }],
      seed: 1,
      experiment: 2,
      explore: 0.15,
    };
    expect(nextPoint(base)).toEqual(nextPoint(structuredClone(base)));
    const bySeed = (seed: number) => [2, 3, 4, 5, 6].map((experiment) => nextPoint({ ...base, seed, experiment })?.point);
    expect(bySeed(1)).toEqual(bySeed(1));
    expect(bySeed(2)).not.toEqual(bySeed(1));
  });

  it('respects bounds, ints, 4 significant digits, log scale and choices', () => {
    const params: ParamSpecs = {
      lr: { min: 1e-5, max: 1, scale: 'log', type: 'float' },
      width: { min: 0, max: 1, scale: 'linear', type: 'float' },
      batch: { min: 16, max: 1024, scale: 'log', type: 'int' },
      depth: { min: 1, max: 12, scale: 'linear', type: 'int' },
      optimizer: { choices: ['adam', 'sgd', 'lion'] },
    };
    const best: Point = { lr: 0.001, width: 0.5, batch: 64, depth: 4, optimizer: 'adam' };
    const explored: number[] = [];
    const widths: number[] = [];
    for (let experiment = 1; experiment <= 300; experiment++) {
      const result = nextPoint({ params, best, history: [], seed: 11, experiment, explore: 0.5 });
      const point = result!.point;
      expect(point.lr).toBeGreaterThanOrEqual(1e-5);
      expect(point.lr).toBeLessThanOrEqual(1);
      expect(roundSignificant(point.lr as number)).toBe(point.lr);
      expect(point.width).toBeGreaterThanOrEqual(0);
      expect(point.width).toBeLessThanOrEqual(1);
      expect(Number.isInteger(point.batch)).toBe(true);
      expect(point.batch).toBeGreaterThanOrEqual(16);
      expect(point.batch).toBeLessThanOrEqual(1024);
      expect(Number.isInteger(point.depth)).toBe(true);
      expect(point.depth).toBeGreaterThanOrEqual(1);
      expect(point.depth).toBeLessThanOrEqual(12);
      expect(['adam', 'sgd', 'lion']).toContain(point.optimizer);
      expect(result!.changed.length).toBeGreaterThan(0);
      if (result!.mode === 'explore') {
        explored.push(point.lr as number);
        widths.push(point.width as number);
      }
    }
    expect(explored.length).toBeGreaterThan(100);
    // Log scale: orders of magnitude are equally likely, so 3 of the 5 decades lie below 0.01.
    const belowCentile = explored.filter((lr) => lr < 0.01).length / explored.length;
    expect(belowCentile).toBeGreaterThan(0.45);
    expect(belowCentile).toBeLessThan(0.75);
    // Linear scale: about half of the draws fall in each half.
    const lowerHalf = widths.filter((width) => width < 0.5).length / widths.length;
    expect(lowerHalf).toBeGreaterThan(0.35);
    expect(lowerHalf).toBeLessThan(0.65);
  });

  it('changes only a few keys per local step and reports them', () => {
    const params: ParamSpecs = Object.fromEntries(
      Array.from({ length: 10 }, (_, index) => [`p${index}`, { min: 0, max: 100, scale: 'linear', type: 'int' } as const]),
    );
    const best: Point = Object.fromEntries(Object.keys(params).map((key) => [key, 50]));
    const sizes: number[] = [];
    for (let experiment = 1; experiment <= 100; experiment++) {
      const result = nextPoint({ params, best, history: [], seed: 5, experiment, explore: 0 })!;
      expect(result.mode).toBe('local');
      expect(result.changed).toEqual(Object.keys(params).filter((key) => result.point[key] !== best[key]));
      sizes.push(result.changed.length);
    }
    const mean = sizes.reduce((sum, size) => sum + size, 0) / sizes.length;
    expect(mean).toBeGreaterThan(1);
    expect(mean).toBeLessThan(3.5);
  });

  it('learns: after 40 experiments the (1+1) search is closer to the optimum than random search', () => {
    const params: ParamSpecs = {
      lr: { min: 1e-4, max: 1, scale: 'log', type: 'float' },
      hidden: { min: 1, max: 256, scale: 'linear', type: 'int' },
      shift: { min: -5, max: 5, scale: 'linear', type: 'float' },
    };
    // A quadratic bowl in the normalised space with its minimum at lr 0.01, hidden 37, shift 1.3.
    const distance = (point: Point) =>
      Math.sqrt(
        ((Math.log10(point.lr as number) + 2) / 4) ** 2 + (((point.hidden as number) - 37) / 255) ** 2 + (((point.shift as number) - 1.3) / 10) ** 2,
      );
    const start: Point = { lr: 0.5, hidden: 200, shift: -4 };
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const search = seeds.map((seed) => simulate(params, start, distance, { seed, explore: 0.15, steps: 40 }).bestValue);
    // explore: 1 makes every proposal a uniform draw: plain random search with the same budget.
    const random = seeds.map((seed) => simulate(params, start, distance, { seed, explore: 1, steps: 40 }).bestValue);
    expect(median(search)).toBeLessThan(0.75 * median(random));
    expect(search.filter((value, index) => value < random[index]!).length).toBeGreaterThanOrEqual(5);
  });

  it('never proposes a point within 1% of a measured one, however small the step has become', () => {
    const params: ParamSpecs = { depth: { min: 1, max: 20, scale: 'linear', type: 'int' }, rate: { min: 0, max: 1, scale: 'linear', type: 'float' } };
    const best: Point = { depth: 3, rate: 0.5 };
    // 40 regressions in a row have brought the step size down to its floor.
    const history: MeasuredPoint[] = [];
    for (let experiment = 1; experiment <= 80; experiment++) {
      const result = nextPoint({ params, best, history, seed: 4, experiment, explore: 0 })!;
      const nearby = [best, ...history.map((entry) => entry.point)].find(
        (point) => point.depth === result.point.depth && Math.abs((point.rate as number) - (result.point.rate as number)) < FLOAT_RESOLUTION,
      );
      expect(nearby, `experiment ${experiment}: ${JSON.stringify(result.point)} repeats ${JSON.stringify(nearby)}`).toBeUndefined();
      history.push({ experiment, point: result.point, from: best, status: 'discard', verdict: 'regressed', mode: result.mode });
    }
    expect(replaySigma(history)).toBeLessThan(0.02);
  });

  it('mirrors a local step that regressed, once', () => {
    const params: ParamSpecs = { x: { min: 0, max: 1, scale: 'linear', type: 'float' }, y: { min: 0, max: 1, scale: 'linear', type: 'float' }, act: { choices: ['a', 'b'] } };
    const best: Point = { x: 0.5, y: 0.5, act: 'a' };
    const step: MeasuredPoint = { experiment: 1, point: { x: 0.62, y: 0.45, act: 'b' }, from: best, status: 'discard', verdict: 'regressed', mode: 'local' };
    const mirror = nextPoint({ params, best, history: [step], seed: 1, experiment: 2, explore: 0 })!;
    expect(mirror.mode).toBe('mirror');
    expect(mirror.point).toEqual({ x: 0.38, y: 0.55, act: 'a' });
    // A tie is no direction to turn away from; a mirror that regressed too is not mirrored back.
    expect(nextPoint({ params, best, history: [{ ...step, verdict: 'no-change' }], seed: 1, experiment: 2, explore: 0 })!.mode).toBe('local');
    const again: MeasuredPoint = { experiment: 2, point: mirror.point, from: best, status: 'discard', verdict: 'regressed', mode: 'mirror' };
    expect(nextPoint({ params, best, history: [step, again], seed: 1, experiment: 3, explore: 0 })!.mode).toBe('local');
    // Only from the parent the step was measured against.
    expect(nextPoint({ params, best: { x: 0.7, y: 0.5, act: 'a' }, history: [step], seed: 1, experiment: 2, explore: 0 })!.mode).toBe('local');
  });

  it('learns from measured gains: with the goal, its model picks better steps than the plain strategy', () => {
    const params: ParamSpecs = {
      lr: { min: 1e-4, max: 1, scale: 'log', type: 'float' },
      hidden: { min: 1, max: 256, scale: 'linear', type: 'int' },
      shift: { min: -5, max: 5, scale: 'linear', type: 'float' },
      norm: { choices: ['none', 'batch', 'layer'] },
    };
    const objective = (point: Point) =>
      ((Math.log10(point.lr as number) + 2) / 4) ** 2 + (((point.hidden as number) - 37) / 255) ** 2 + (((point.shift as number) - 1.3) / 10) ** 2 + (point.norm === 'layer' ? 0 : 0.05);
    const start: Point = { lr: 0.5, hidden: 200, shift: -4, norm: 'none' };
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const run = (goal?: 'minimize') => seeds.map((seed) => simulateJudged(params, start, objective, { seed, explore: 0.15, steps: 15, tie: 1e-4, goal }).bestValue);
    const withModel = run('minimize');
    const without = run();
    expect(median(withModel)).toBeLessThan(0.5 * median(without));
    expect(withModel.filter((value, index) => value < without[index]!).length).toBeGreaterThanOrEqual(5);
  });
});

describe('measuredPoints', () => {
  it('knows a point again after rounding, and one whose floats all lie within 1% of their range of it', () => {
    const params: ParamSpecs = {
      depth: { min: 1, max: 20, scale: 'linear', type: 'int' },
      lr: { min: 1e-4, max: 1, scale: 'log', type: 'float' },
      rate: { min: 0, max: 10, scale: 'linear', type: 'float' },
      act: { choices: ['relu', 'gelu'] },
    };
    const measured = measuredPoints(params, [{ depth: 3, lr: 0.01, rate: 5, act: 'relu' }]);
    expect(measured({ depth: 3.2, lr: 0.010001, rate: 5.00001, act: 'relu' })).toBe(true);
    // 1% of the log range of lr (4 decades) is a factor of 10^0.04 ≈ 1.096; 1% of rate's is 0.1.
    expect(measured({ depth: 3, lr: 0.0105, rate: 5.09, act: 'relu' })).toBe(true);
    expect(measured({ depth: 3, lr: 0.0112, rate: 5, act: 'relu' })).toBe(false);
    expect(measured({ depth: 3, lr: 0.01, rate: 5.11, act: 'relu' })).toBe(false);
    // Ints and choices are compared exactly: maxDepth 3 → 2 is another experiment.
    expect(measured({ depth: 2, lr: 0.01, rate: 5, act: 'relu' })).toBe(false);
    expect(measured({ depth: 3, lr: 0.01, rate: 5, act: 'gelu' })).toBe(false);
  });
});

describe('replaySigma', () => {
  const entry = (status: ExperimentStatus, mode?: MeasuredPoint['mode']): MeasuredPoint => ({
    experiment: 1,
    point: {},
    status,
    ...(mode ? { mode } : {}),
  });

  it('grows after a kept local step and shrinks after failures (1/5th rule)', () => {
    expect(replaySigma([])).toBe(SIGMA_INITIAL);
    expect(replaySigma([entry('keep', 'local')])).toBeGreaterThan(SIGMA_INITIAL);
    expect(replaySigma([entry('discard', 'local')])).toBeLessThan(SIGMA_INITIAL);
    expect(replaySigma([entry('crash')])).toBeLessThan(SIGMA_INITIAL);
    expect(replaySigma([{ ...entry('discard', 'mirror'), verdict: 'regressed' }])).toBeCloseTo(SIGMA_INITIAL * SIGMA_FAILURE, 12);
    // One success in five keeps the step size where it was.
    const balanced = ['keep', 'discard', 'discard', 'discard', 'discard'].map((status) => entry(status as ExperimentStatus, 'local'));
    expect(replaySigma(balanced)).toBeCloseTo(SIGMA_INITIAL, 10);
  });

  it('counts a tie as "not worse": it grows the step like a gain, and only a regression shrinks it', () => {
    const judged = (verdict: MeasuredPoint['verdict']): MeasuredPoint => ({ ...entry('discard', 'local'), verdict });
    expect(replaySigma([judged('no-change')])).toBeCloseTo(SIGMA_INITIAL * SIGMA_SUCCESS, 12);
    expect(replaySigma([judged('no-change')])).toBe(replaySigma([entry('keep', 'local')]));
    expect(replaySigma([judged('regressed')])).toBeCloseTo(SIGMA_INITIAL * SIGMA_FAILURE, 12);
    // A gain the loop did not keep (suspicious, or a guard regressed) was not worse either; an invalid run was.
    expect(replaySigma([judged('improved')])).toBeGreaterThan(SIGMA_INITIAL);
    expect(replaySigma([{ ...entry('invalid', 'local'), verdict: 'invalid' }])).toBeLessThan(SIGMA_INITIAL);
    // A run of ties on a plateau (maxDepth 3 → 2, 3 → 4, …) ends at the largest step, not the smallest.
    expect(replaySigma(Array.from({ length: 10 }, () => judged('no-change')))).toBeGreaterThan(replaySigma([]));
  });

  it('ignores exploration and enumeration, and stays within its bounds', () => {
    expect(replaySigma([entry('keep', 'explore'), entry('discard', 'enumerate')])).toBe(SIGMA_INITIAL);
    const failures = Array.from({ length: 500 }, () => entry('discard', 'local'));
    expect(replaySigma(failures)).toBeGreaterThan(0);
    expect(replaySigma(failures)).toBeLessThan(SIGMA_INITIAL);
    const successes = Array.from({ length: 50 }, () => entry('keep', 'local'));
    expect(replaySigma(successes)).toBeLessThanOrEqual(1);
  });

  it('makes the search react to the ledger: the same best with a longer failure streak steps smaller', () => {
    const params: ParamSpecs = { x: { min: 0, max: 1, scale: 'linear', type: 'float' } };
    const failures = (count: number): MeasuredPoint[] =>
      Array.from({ length: count }, (_, index) => ({ experiment: index + 1, point: { x: 0.9 + index * 1e-3 }, status: 'discard', mode: 'local' }));
    const early = nextPoint({ params, best: { x: 0.5 }, history: failures(1), seed: 1, experiment: 40, explore: 0 })!;
    const late = nextPoint({ params, best: { x: 0.5 }, history: failures(30), seed: 1, experiment: 40, explore: 0 })!;
    expect(late.sigma).toBeLessThan(early.sigma);
    expect(Math.abs((late.point.x as number) - 0.5)).toBeLessThan(Math.abs((early.point.x as number) - 0.5));
  });
});

describe('readTuneHistory', () => {
  function record(experiment: number, status: ExperimentStatus, notes: Record<string, unknown>): ExperimentRecord {
    return makeExperiment({ experiment, status, proposer: { kind: 'tune', notes } });
  }

  it('reads proposals with their parent, status, verdict and delta, and baseline and start points as visited', () => {
    const records = [
      makeExperiment({ experiment: 2, status: 'discard', judgement: makeJudgement(0.45, 0.45), proposer: { kind: 'tune', notes: { params: { x: 3 }, from: { x: 2 }, mode: 'explore' } } }),
      record(0, 'keep', {}),
      makeExperiment({ experiment: 1, status: 'keep', judgement: makeJudgement(0.5, 0.45), proposer: { kind: 'tune', notes: { params: { x: 2 }, from: { x: 1 }, mode: 'mirror', sigma: 0.2 } } }),
      record(3, 'crash', { params: { x: 4, junk: { nested: true } }, mode: 'pattern' }),
    ];
    const { history, visited } = readTuneHistory(records);
    expect(history).toEqual([
      { experiment: 1, point: { x: 2 }, from: { x: 1 }, status: 'keep', verdict: 'improved', delta: expect.closeTo(-0.05, 12), mode: 'mirror' },
      { experiment: 2, point: { x: 3 }, from: { x: 2 }, status: 'discard', verdict: 'no-change', delta: 0, mode: 'explore' },
      { experiment: 3, point: { x: 4 }, status: 'crash' },
    ]);
    expect(visited).toEqual([{ x: 1 }, { x: 2 }]);
  });

  it('keeps the baseline out of later proposals once the best has moved on', () => {
    const params: ParamSpecs = { x: { min: 1, max: 3, scale: 'linear', type: 'int' } };
    // The baseline x=1 was improved to x=2; x=3 failed. Only the visited baseline stops a repeat of x=1.
    const { history, visited } = readTuneHistory([
      record(0, 'keep', {}),
      record(1, 'keep', { params: { x: 2 }, from: { x: 1 }, mode: 'local' }),
      record(2, 'discard', { params: { x: 3 }, from: { x: 2 }, mode: 'local' }),
    ]);
    expect(nextPoint({ params, best: { x: 2 }, history, visited, seed: 1, experiment: 3, explore: 0.15 })).toBeNull();
    expect(nextPoint({ params, best: { x: 2 }, history, seed: 1, experiment: 3, explore: 0.15 })?.point).toEqual({ x: 1 });
  });
});

describe('describeChange', () => {
  it('lists only the changed keys as `key before → after`', () => {
    expect(describeChange({ lr: 0.01, hidden: 16, act: 'relu' }, { lr: 0.02, hidden: 24, act: 'relu' })).toBe('lr 0.01 → 0.02, hidden 16 → 24');
    expect(describeChange({ act: 'relu', bias: true }, { act: 'gelu', bias: false })).toBe('act relu → gelu, bias true → false');
    expect(describeChange({ lr: 0.000123456 }, { lr: 0.00005 })).toBe('lr 0.0001235 → 5e-5');
    expect(describeChange({}, { lr: 0.1 })).toBe('lr (unset) → 0.1');
    expect(describeChange({ lr: 0.1 }, { lr: 0.1 })).toBe('no change');
  });
});
