import { describe, expect, it } from 'vitest';
import { bestSplit, changePoints, DEFAULT_CHANGE_POINT_OPTIONS, eDivisive, studentTTest } from '../../../src/core/sentinel/change-points.js';
import { gaussian, mulberry32 } from '../../../src/core/propose/random.js';

/** `count` draws of N(level, sd²) from a seeded stream. */
function noisy(random: () => number, count: number, level: number, sd: number): number[] {
  return Array.from({ length: count }, () => level + sd * gaussian(random));
}

/** q̂ of the split before `tau`, straight from Matteson & James's definition (α = 1). */
function qHatDirect(series: number[], tau: number): number {
  const x = series.slice(0, tau);
  const y = series.slice(tau);
  const m = x.length;
  const n = y.length;
  let cross = 0;
  for (const a of x) for (const b of y) cross += Math.abs(a - b);
  const within = (values: number[]) => {
    let sum = 0;
    for (let i = 0; i < values.length; i++) for (let j = i + 1; j < values.length; j++) sum += Math.abs(values[i]! - values[j]!);
    return values.length > 1 ? sum / ((values.length * (values.length - 1)) / 2) : 0;
  };
  return ((m * n) / (m + n)) * ((2 * cross) / (m * n) - within(x) - within(y));
}

describe("Student's t-test of two segments", () => {
  it('gives the textbook p-value (t = 5 on 8 degrees of freedom: p = 0.00105)', () => {
    const { before, after, pValue } = studentTTest([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(before).toEqual({ mean: 3, sd: Math.sqrt(2.5), count: 5 });
    expect(after.mean).toBe(8);
    expect(pValue).toBeCloseTo(0.0010528, 6);
  });

  it('is 1 for equal samples and with too few values, 0 for different constants, and refuses an empty side', () => {
    expect(studentTTest([1, 2, 3], [1, 2, 3]).pValue).toBeCloseTo(1, 12);
    expect(studentTTest([1], [5]).pValue).toBe(1);
    expect(studentTTest([2, 2, 2], [3, 3]).pValue).toBe(0);
    expect(studentTTest([2, 2], [2, 2]).pValue).toBe(1);
    expect(() => studentTTest([], [1, 2])).toThrow(RangeError);
  });
});

describe('E-Divisive means', () => {
  it('computes q̂ incrementally as the definition does, and splits where it is largest', () => {
    const random = mulberry32(3);
    const series = [...noisy(random, 9, 0, 1), ...noisy(random, 7, 4, 1)];
    const values = Array.from({ length: series.length - 3 }, (_, k) => qHatDirect(series, k + 2));
    const best = bestSplit(series, 0, series.length, 2)!;
    const direct = values.indexOf(Math.max(...values)) + 2;
    expect(best.index).toBe(direct);
    expect(best.qHat).toBeCloseTo(qHatDirect(series, direct), 9);
    expect(best.index).toBe(9);
    expect(bestSplit(series, 0, 3, 2)).toBeNull();
  });

  it('splits recursively while the best candidate is significant', () => {
    const random = mulberry32(4);
    const series = [...noisy(random, 20, 0, 1), ...noisy(random, 20, 6, 1), ...noisy(random, 20, 0, 1)];
    expect(eDivisive(series, 1e-3, 2)).toEqual([20, 40]);
    expect(eDivisive(noisy(random, 60, 0, 1), 1e-4, 2)).toEqual([]);
  });
});

describe('change points of a series (hunter: split, then merge)', () => {
  it('finds none in noise, and reports a step with its means and p-value', () => {
    const random = mulberry32(11);
    expect(changePoints(noisy(random, 80, 0, 0.03))).toEqual([]);
    const series = [...noisy(random, 30, 0, 0.03), ...noisy(random, 10, 0.1, 0.03)];
    const [point, ...rest] = changePoints(series);
    expect(rest).toEqual([]);
    expect(point!.index).toBe(30);
    expect(point!.before.count).toBe(30);
    expect(point!.after.count).toBe(10);
    expect(point!.before.mean).toBeCloseTo(0, 1);
    expect(point!.after.mean).toBeCloseTo(0.1, 1);
    expect(point!.pValue).toBeLessThan(1e-8);
  });

  it('finds a step beyond the first window, and two steps in one history', () => {
    const random = mulberry32(12);
    const late = [...noisy(random, 90, 0, 0.03), ...noisy(random, 30, -0.12, 0.03)];
    expect(changePoints(late).map((p) => p.index)).toEqual([90]);
    const both = [...noisy(random, 40, 0, 0.03), ...noisy(random, 40, 0.15, 0.03), ...noisy(random, 40, 0, 0.03)];
    const points = changePoints(both);
    expect(points.map((p) => p.index)).toEqual([40, 80]);
    // Each side ends at the neighbouring change point.
    expect(points[0]!.after.count).toBe(40);
    expect(points[1]!.before.count).toBe(40);
  });

  it('never makes one outlying last night a change point, but does two', () => {
    const random = mulberry32(13);
    const base = noisy(random, 40, 0, 0.01);
    expect(changePoints([...base, 0.5])).toEqual([]);
    // What the guard prevents: with one point allowed after a split, the outlier alone is a change point.
    expect(changePoints([...base, 0.5], { minSegment: 1 }).map((p) => p.index)).toEqual([40]);
    expect(changePoints([...base, 0.5, 0.5]).map((p) => p.index)).toEqual([40]);
    expect(DEFAULT_CHANGE_POINT_OPTIONS.minSegment).toBe(2);
  });

  it('drops a significant change smaller than minEffect', () => {
    const random = mulberry32(14);
    const series = [...noisy(random, 40, 0, 0.001), ...noisy(random, 40, 0.01, 0.001)];
    expect(changePoints(series)).toHaveLength(1);
    expect(changePoints(series, { minEffect: 0.02 })).toEqual([]);
  });

  it('refuses non-finite values and a window too small for two segments', () => {
    expect(() => changePoints([0, Number.NaN, 1])).toThrow(/finite/);
    expect(() => changePoints([0, 1, 2], { window: 3, minSegment: 2 })).toThrow(/window/);
  });
});
