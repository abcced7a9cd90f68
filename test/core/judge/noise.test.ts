import { describe, expect, it } from 'vitest';
import { judgeExperiment } from '../../../src/core/judge/judge.js';
import { detectableEffect, noiseReport } from '../../../src/core/judge/noise.js';
import { mulberry32 } from '../../../src/core/propose/random.js';

describe('noiseReport (autoloop eval --aa)', () => {
  it('gives each side its CV and the paired differences their spread', () => {
    const report = noiseReport([10, 11, 9, 10], [10.5, 10.5, 9.5, 9.5], 8)!;
    expect(report.mean).toBe(10);
    expect(report.cv.baseline).toBeCloseTo(Math.sqrt(2 / 3) / 10, 10);
    expect(report.sdDifference).toBeCloseTo(Math.sqrt(variance([0.5, -0.5, 0.5, -0.5])), 10);
    expect(report.detectable.map((d) => d.label)).toEqual(['fixed 3', 'fixed 5', 'auto (3 to 8)']);
    expect(noiseReport([1], [1], 8)).toBeNull();
  });

  it('states the effect the paired test finds 80% of the time, which simulation confirms', () => {
    // (t_0.95,4 + t_0.8,4) / sqrt(5) = (2.132 + 0.941) / 2.236.
    expect(detectableEffect(1, 5, 0.05)).toBeCloseTo(1.374, 2);
    expect(detectableEffect(1, 3, 0.05)).toBeGreaterThan(detectableEffect(1, 5, 0.05));
    const uniform = mulberry32(5);
    const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    const effect = detectableEffect(Math.SQRT2, 5, 0.05);
    let found = 0;
    for (let trial = 0; trial < 4_000; trial++) {
      const baseline = Array.from({ length: 5 }, () => 100 + normal());
      const candidate = Array.from({ length: 5 }, () => 100 - effect + normal());
      if (judgeExperiment({ goal: 'minimize', minEffect: { kind: 'absolute', value: 0 }, suspiciousEffect: { kind: 'relative', value: 0.5 }, baseline, candidate }).verdict === 'improved') found++;
    }
    expect(found / 4_000).toBeGreaterThan(0.75);
    expect(found / 4_000).toBeLessThan(0.85);
  });
});

function variance(values: number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((a, b) => a + (b - m) ** 2, 0) / (values.length - 1);
}
