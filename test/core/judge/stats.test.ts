import { describe, expect, it } from 'vitest';
import { mean, pairedTInterval, studentTCdf, studentTQuantile, variance, welchTInterval } from '../../../src/core/judge/stats.js';

// Reference values from scipy.stats (t.cdf, t.ppf, ttest_rel, ttest_ind(equal_var=False)).

describe('mean and variance', () => {
  it('computes the mean and the unbiased (n − 1) variance', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(variance([1, 2, 3, 6])).toBeCloseTo(14 / 3, 12);
    expect(variance([5])).toBe(0);
  });
});

describe('studentTCdf', () => {
  it('matches scipy', () => {
    expect(studentTCdf(0, 3)).toBeCloseTo(0.5, 12);
    expect(studentTCdf(1.5, 4)).toBeCloseTo(0.896, 6);
    expect(studentTCdf(-2, 10)).toBeCloseTo(0.036694, 5);
  });
});

describe('studentTQuantile', () => {
  it('gives the one-sided 95% points the judge uses', () => {
    expect(studentTQuantile(0.95, 2)).toBeCloseTo(2.919986, 5);
    expect(studentTQuantile(0.95, 4)).toBeCloseTo(2.131847, 5);
    expect(studentTQuantile(0.95, 1000)).toBeCloseTo(1.646379, 5);
  });

  it('handles fractional degrees of freedom (Welch) and answers the same when cached', () => {
    expect(studentTQuantile(0.95, 7.5)).toBeCloseTo(1.875747, 5);
    const first = studentTQuantile(0.9, 6);
    expect(studentTQuantile(0.9, 6)).toBe(first);
    expect(studentTCdf(first, 6)).toBeCloseTo(0.9, 10);
  });
});

describe('pairedTInterval', () => {
  const baseline = [10, 12, 11, 13];
  const candidate = [9, 11.5, 10, 12];

  it('is the t interval of the per-pair differences', () => {
    const ci = pairedTInterval(baseline, candidate, 0.95);
    expect(ci.centre).toBeCloseTo(-0.875, 12);
    expect(ci.se).toBeCloseTo(0.125, 12);
    expect(ci.df).toBe(3);
    expect(ci.low).toBeCloseTo(-1.272806, 5);
    expect(ci.high).toBeCloseTo(-0.477194, 5);
  });

  it('narrows with the level: 90% two-sided', () => {
    const ci = pairedTInterval(baseline, candidate, 0.9);
    expect(ci.low).toBeCloseTo(-1.16917, 5);
    expect(ci.high).toBeCloseTo(-0.58083, 5);
  });

  it('cancels what a pair shares: a drift added to both sides does not change it', () => {
    const drift = [0, 5, 10, 15];
    const drifted = pairedTInterval(
      baseline.map((v, i) => v + drift[i]!),
      candidate.map((v, i) => v + drift[i]!),
      0.95,
    );
    const plain = pairedTInterval(baseline, candidate, 0.95);
    expect(drifted.low).toBeCloseTo(plain.low, 10);
    expect(drifted.high).toBeCloseTo(plain.high, 10);
  });

  it('collapses to the point when every difference is the same', () => {
    expect(pairedTInterval([1, 2, 3], [0.5, 1.5, 2.5], 0.95)).toMatchObject({ centre: -0.5, low: -0.5, high: -0.5, se: 0 });
  });

  it('refuses unequal or single samples', () => {
    expect(() => pairedTInterval([1, 2, 3], [1, 2], 0.95)).toThrow(RangeError);
    expect(() => pairedTInterval([1], [2], 0.95)).toThrow(/at least 2/);
  });
});

describe('welchTInterval', () => {
  it("matches Welch's t with Welch–Satterthwaite degrees of freedom", () => {
    const ci = welchTInterval([1, 2, 3, 4], [2, 4, 6], 0.95);
    expect(ci.centre).toBeCloseTo(1.5, 12);
    expect(ci.df).toBeCloseTo(3.234719, 5);
    expect(ci.low).toBeCloseTo(-2.542328, 4);
    expect(ci.high).toBeCloseTo(5.542328, 4);
  });

  it('refuses a side with fewer than 2 values', () => {
    expect(() => welchTInterval([1], [1, 2], 0.95)).toThrow(RangeError);
  });
});
