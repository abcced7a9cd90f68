import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32 } from '../../../src/core/propose/random.js';
import { confirmationRange, detectChangePoints, directionOf, FINDING_REACH } from '../../../src/core/sentinel/detect.js';
import { fingerprintOf, type MeasurementRecord, type SentinelRecord } from '../../../src/core/sentinel/history.js';
import { commit, ENVIRONMENT, finding, measurement } from './records.js';

/** A history of `levels.length` nightly measurements of commits 1, 2, …, each its level plus 3% noise. */
function history(levels: number[], seed: number, overrides: (night: number) => Partial<MeasurementRecord> = () => ({})): MeasurementRecord[] {
  const random = mulberry32(seed);
  return levels.map((level, night) => measurement(night + 1, level + 0.03 * gaussian(random), overrides(night)));
}

const steps = (before: number, after: number, at: number, total: number) => Array.from({ length: total }, (_, night) => (night < at ? before : after));

describe('change points in the sentinel history', () => {
  it('reports a regression with the commits either side, the means, the relative effect and the p-value', () => {
    const records = history(steps(0, 0.15, 30, 40), 1);
    const detection = detectChangePoints(records);
    expect(detection.method).toMatch(/E-Divisive.*Matteson & James 2014.*hunter/);
    expect(detection.changePoints).toHaveLength(1);
    const [point] = detection.changePoints;
    expect(point).toMatchObject({ segment: 0, index: 30, direction: 'regression', handled: false });
    expect(point!.before).toMatchObject({ firstIndex: 0, lastIndex: 29, first: commit(1), last: commit(30), count: 30 });
    expect(point!.after).toMatchObject({ firstIndex: 30, lastIndex: 39, first: commit(31), last: commit(40), count: 10 });
    expect(point!.effect).toBeCloseTo((point!.after.mean - point!.before.mean) / (1 + point!.before.mean), 12);
    expect(point!.effect).toBeGreaterThan(0.1);
    expect(point!.pValue).toBeLessThan(1e-6);
  });

  it('says improvement or regression by the goal', () => {
    expect(directionOf(0.1, 'minimize')).toBe('regression');
    expect(directionOf(0.1, 'maximize')).toBe('improvement');
    expect(directionOf(-0.1, 'maximize')).toBe('regression');
    const records = history(steps(0, 0.15, 30, 40), 1, () => ({ goal: 'maximize' }));
    expect(detectChangePoints(records).changePoints[0]!.direction).toBe('improvement');
  });

  it('never reports an environment change as a change point, however large the shift it brings', () => {
    const other = { ...ENVIRONMENT, cpuModel: 'Intel Xeon 8370C', node: 'v22.1.0' };
    const onOther = (night: number) => (night >= 30 ? { environment: other, fingerprint: fingerprintOf(other) } : {});
    const records = history(steps(0, 0.3, 30, 45), 2, onOther);
    const detection = detectChangePoints(records);
    expect(detection.changePoints).toEqual([]);
    expect(detection.segments.map((s) => [s.start, s.end, s.reason, s.changed])).toEqual([
      [0, 30, 'first', []],
      [30, 45, 'environment', ['cpuModel', 'node']],
    ]);
    // The same shift with nothing else changed is a change point.
    expect(detectChangePoints(history(steps(0, 0.3, 30, 45), 2)).changePoints.map((p) => p.index)).toEqual([30]);
  });

  it('still finds a regression inside a later segment, indexed in the whole history', () => {
    const other = { ...ENVIRONMENT, release: '6.8.0' };
    const levels = [...steps(0, 0, 0, 20), ...steps(0.05, 0.2, 15, 25)];
    const records = history(levels, 3, (night) => (night >= 20 ? { environment: other, fingerprint: fingerprintOf(other) } : {}));
    const points = detectChangePoints(records).changePoints;
    expect(points.map((p) => [p.segment, p.index, p.before.firstIndex])).toEqual([[1, 35, 20]]);
  });

  it('marks a change point handled once a finding of its direction decided it near it', () => {
    const records: SentinelRecord[] = history(steps(0, 0.15, 30, 40), 1);
    expect(detectChangePoints([...records, finding(30 + FINDING_REACH)]).changePoints[0]!.handled).toBe(true);
    expect(detectChangePoints([...records, finding(30 + FINDING_REACH + 1)]).changePoints[0]!.handled).toBe(false);
    expect(detectChangePoints([...records, finding(30, 'improvement')]).changePoints[0]!.handled).toBe(false);
    // Undecided: raised again on the next check, with a night more of evidence.
    const undecided = { ...finding(30), confirmation: { ...finding(30).confirmation, answer: 'need-more-runs' as const } };
    expect(detectChangePoints([...records, undecided]).changePoints[0]!.handled).toBe(false);
  });

  it('confirms between commits a few measurements either side, inside the change point’s sides', () => {
    const records = history(steps(0, 0.15, 30, 40), 1);
    const detection = detectChangePoints(records);
    const point = detection.changePoints[0]!;
    expect(confirmationRange(detection, point)).toEqual({ good: commit(30 - FINDING_REACH), bad: commit(31 + FINDING_REACH) });
    expect(confirmationRange(detection, point, 0)).toEqual({ good: commit(30), bad: commit(31) });
    expect(confirmationRange(detection, point, 100)).toEqual({ good: commit(1), bad: commit(40) });
  });
});
