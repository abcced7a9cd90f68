import { describe, expect, it } from 'vitest';
import { compoundedKept, ledgerProgress, progressPoint, progressRange, type ProgressFigures } from '../../../src/core/render/progress-points.js';
import { makeNoisyLedger } from './helpers.js';

const figures = (partial: Partial<ProgressFigures>): ProgressFigures => ({
  experiment: 1,
  measured: true,
  kept: false,
  parent: 100,
  deltaRelative: -0.1,
  interval: null,
  verdict: 'no-change',
  ...partial,
});

describe('progressPoint', () => {
  it('is the change against the parent in percent, with the interval of the change relative to the parent', () => {
    expect(progressPoint(figures({ interval: { low: -15, high: -5 } }))).toEqual({ experiment: 1, change: -10, interval: { low: -15, high: -5 }, kind: 'discard' });
    expect(progressPoint(figures({ parent: 200, deltaRelative: 0.05, interval: { low: 4, high: 16 } })).interval).toEqual({ low: 2, high: 8 });
    // No interval without a parent to scale it by, or with a non-finite end.
    expect(progressPoint(figures({ parent: null, interval: { low: -1, high: 1 } })).interval).toBeNull();
    expect(progressPoint(figures({ interval: { low: Number.NaN, high: 1 } })).interval).toBeNull();
  });

  it('says what became of it: the baseline, kept, held back though better, discarded, or without a value', () => {
    expect(progressPoint(figures({ experiment: 0, deltaRelative: null })).kind).toBe('baseline');
    expect(progressPoint(figures({ experiment: 0 })).change).toBe(0);
    expect(progressPoint(figures({ kept: true, verdict: 'improved' })).kind).toBe('keep');
    expect(progressPoint(figures({ verdict: 'improved' })).kind).toBe('held');
    expect(progressPoint(figures({ verdict: 'regressed', deltaRelative: 0.1 })).kind).toBe('discard');
    expect(progressPoint(figures({ measured: false }))).toEqual({ experiment: 1, change: null, interval: null, kind: 'invalid' });
    // A value without a parent to compare with sits on the parent line.
    expect(progressPoint(figures({ parent: null, deltaRelative: null })).change).toBe(0);
  });
});

describe('ledgerProgress and compoundedKept', () => {
  it('reads each record against the parent measured in it, and compounds only the kept changes', () => {
    const { run, experiments } = makeNoisyLedger();
    const points = ledgerProgress(run, experiments).map(({ point }) => point);
    expect(points.map((p) => p.kind)).toEqual(['baseline', 'keep', 'discard', 'held', 'invalid']);
    expect(points[2]!.change).toBeCloseTo((100 * (92.4 - 154.2)) / 154.2, 9);
    expect(points[2]!.interval!.high).toBeCloseTo(4, 9);
    expect(compoundedKept(points)).toEqual([0, -45.25, -45.25, -45.25, -45.25]);
    // Two kept steps of −10% make −19%, not −20%.
    const kept = (experiment: number) => progressPoint(figures({ experiment, kept: true, verdict: 'improved' }));
    expect(compoundedKept([kept(1), kept(2)])).toEqual([-10, -19]);
  });
});

describe('progressRange', () => {
  it('encloses the core, pads a flat one, and takes in other values unless they are far off', () => {
    expect(progressRange([0, -10], [5])).toEqual({ low: -10, high: 5 });
    expect(progressRange([0], [])).toEqual({ low: -1, high: 1 });
    expect(progressRange([0, -10], [1000])).toEqual({ low: -10, high: 0 });
  });
});
