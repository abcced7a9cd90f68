import { describe, expect, it } from 'vitest';
import { mulberry32, normalSampler } from '../../../bench/simulate.js';
import { CONFIDENCE_LEVEL, INTERVAL_METHOD, judgeExperiment, ONE_SIDED_ALPHA, SINGLE_RUN_NOTE, type JudgeInput } from '../../../src/core/judge/judge.js';
import { pairedTInterval, studentTQuantile } from '../../../src/core/judge/stats.js';

const base: Omit<JudgeInput, 'baseline' | 'candidate'> = {
  goal: 'minimize',
  minEffect: { kind: 'relative', value: 0.01 },
  suspiciousEffect: { kind: 'relative', value: 0.5 },
};

describe('studentTQuantile', () => {
  it('matches published t tables', () => {
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.303, 3);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.776, 3);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.042, 3);
    expect(studentTQuantile(0.025, 9)).toBeCloseTo(-2.262, 3);
  });
});

describe('judgeExperiment', () => {
  it('keeps a clear win whose interval clears zero', () => {
    const j = judgeExperiment({ ...base, baseline: [1.0, 1.01, 0.99], candidate: [0.9, 0.91, 0.89] });
    expect(j.verdict).toBe('improved');
    expect(j.keep).toBe(true);
    expect(j.delta).toBeCloseTo(-0.1, 10);
    expect(j.deltaRelative).toBeCloseTo(-0.1, 10);
    expect(j.interval?.method).toBe(INTERVAL_METHOD.paired);
    expect(j.interval?.method).toMatch(/^paired t; each end a one-sided 95% bound$/);
    expect(j.interval?.level).toBe(0.9);
    expect(j.interval!.high).toBeLessThan(0);
    expect(j.singleRun).toBe(false);
  });

  it('calls a clear loss regressed and discards it', () => {
    const j = judgeExperiment({ ...base, baseline: [1.0, 1.01, 0.99], candidate: [1.2, 1.21, 1.19] });
    expect(j.verdict).toBe('regressed');
    expect(j.keep).toBe(false);
  });

  it('calls overlapping noisy samples no-change even when the mean is better', () => {
    const j = judgeExperiment({ ...base, baseline: [1.0, 1.3, 0.8], candidate: [1.1, 0.95, 0.75] });
    expect(j.candidate.mean).toBeLessThan(j.baseline.mean);
    expect(j.verdict).toBe('no-change');
    expect(j.reasons.join(' ')).toMatch(/90% interval of the delta includes zero \(one-sided 5% test\)/);
  });

  it('needs the estimate to reach min_effect even when significant', () => {
    const j = judgeExperiment({ ...base, baseline: [1.0, 1.0001, 0.9999], candidate: [0.996, 0.9961, 0.9959] });
    expect(j.interval!.high).toBeLessThan(0);
    expect(j.verdict).toBe('no-change');
    expect(j.reasons.join(' ')).toMatch(/smaller than min_effect/);
  });

  it('decides on min_effect alone with one run per side and says so', () => {
    const win = judgeExperiment({ ...base, baseline: [1.0], candidate: [0.98] });
    expect(win.verdict).toBe('improved');
    expect(win.singleRun).toBe(true);
    expect(win.interval).toBeNull();
    expect(win.reasons[0]).toContain(SINGLE_RUN_NOTE);
    expect(judgeExperiment({ ...base, baseline: [1.0], candidate: [0.995] }).verdict).toBe('no-change');
  });

  it('understands maximize', () => {
    const j = judgeExperiment({ ...base, goal: 'maximize', baseline: [0.5, 0.51, 0.49], candidate: [0.6, 0.61, 0.59] });
    expect(j.verdict).toBe('improved');
    expect(judgeExperiment({ ...base, goal: 'maximize', baseline: [0.5], candidate: [0.4] }).verdict).toBe('regressed');
  });

  it('blocks a keep when a guard regresses past its tolerance, and names it', () => {
    const j = judgeExperiment({
      ...base,
      baseline: [1.0],
      candidate: [0.9],
      guards: [{ name: 'peak_mem_mb', goal: 'minimize', maxRegression: { kind: 'relative', value: 0.1 }, baseline: [100], candidate: [125] }],
    });
    expect(j.verdict).toBe('improved');
    expect(j.keep).toBe(false);
    expect(j.guards[0]).toMatchObject({ name: 'peak_mem_mb', held: false });
    expect(j.guards[0]!.regression).toBeCloseTo(0.25);
    expect(j.reasons.join(' ')).toContain('guard peak_mem_mb regressed');
  });

  it('lets a guard within tolerance pass', () => {
    const j = judgeExperiment({
      ...base,
      baseline: [1.0],
      candidate: [0.9],
      guards: [{ name: 'peak_mem_mb', goal: 'minimize', maxRegression: { kind: 'relative', value: 0.1 }, baseline: [100], candidate: [105] }],
    });
    expect(j.keep).toBe(true);
  });

  it('flags a gain beyond suspicious_effect and does not keep it', () => {
    const j = judgeExperiment({ ...base, baseline: [1.0], candidate: [0.3] });
    expect(j.verdict).toBe('improved');
    expect(j.suspicious).toBe(true);
    expect(j.keep).toBe(false);
  });

  it('returns invalid for NaN or missing samples, never a number', () => {
    const nan = judgeExperiment({ ...base, baseline: [1.0], candidate: [Number.NaN] });
    expect(nan.verdict).toBe('invalid');
    expect(nan.keep).toBe(false);
    const empty = judgeExperiment({ ...base, baseline: [1.0], candidate: [] });
    expect(empty.verdict).toBe('invalid');
    expect(empty.reasons[0]).toMatch(/no valid candidate samples/);
  });

  it("uses Welch's t when the sides have different run counts", () => {
    const j = judgeExperiment({ ...base, baseline: [1.0, 1.01, 0.99, 1.0], candidate: [0.9, 0.91] });
    expect(j.interval?.method).toBe(INTERVAL_METHOD.welch);
    expect(j.interval?.method).toMatch(/^Welch's t; each end a one-sided 95% bound$/);
    expect(j.verdict).toBe('improved');
  });

  it('reports a 90% two-sided interval, each end a one-sided 95% bound', () => {
    expect(ONE_SIDED_ALPHA).toBe(0.05);
    expect(CONFIDENCE_LEVEL).toBeCloseTo(0.9, 12);
    const baseline = [1.0, 1.02, 0.99, 1.01, 1.0];
    const candidate = [0.97, 1.015, 0.97, 1.01, 0.96];
    const j = judgeExperiment({ ...base, baseline, candidate });
    const expected = pairedTInterval(baseline, candidate, 0.9);
    expect(j.interval!.low).toBeCloseTo(expected.low, 12);
    expect(j.interval!.high).toBeCloseTo(expected.high, 12);
    // The upper end is mean + t(0.95, 4) × se: a one-sided 95% bound.
    expect(j.interval!.high).toBeCloseTo(expected.centre + studentTQuantile(0.95, 4) * expected.se, 12);
  });

  it('keeps at the one-sided 5% level a gain the two-sided 95% interval would have called noise', () => {
    // t = 2.54 on 4 degrees of freedom: past the one-sided 95% point (2.132), short of the two-sided one (2.776).
    const baseline = [1.0, 1.02, 0.99, 1.01, 1.0];
    const candidate = [0.97, 1.015, 0.97, 1.01, 0.96];
    expect(pairedTInterval(baseline, candidate, 0.95).high).toBeGreaterThan(0);
    const j = judgeExperiment({ ...base, baseline, candidate });
    expect(j.interval!.high).toBeLessThan(0);
    expect(j.verdict).toBe('improved');
    expect(j.keep).toBe(true);
    // Mirrored, the same evidence is a regression.
    expect(judgeExperiment({ ...base, baseline: candidate, candidate: baseline }).verdict).toBe('regressed');
  });

  it('calls a gain short of the one-sided 95% point no-change', () => {
    // t = 1.98 on 4 degrees of freedom.
    const j = judgeExperiment({ ...base, baseline: [1.0, 1.0, 1.0, 1.0, 1.0], candidate: [0.97, 1.0, 0.98, 1.005, 0.96] });
    expect(j.candidate.mean).toBeLessThan(j.baseline.mean * 0.99);
    expect(j.interval!.high).toBeGreaterThan(0);
    expect(j.verdict).toBe('no-change');
  });

  it("uses Welch's t for equal counts that were not measured in pairs (a cached baseline)", () => {
    // A drift shared by each pair: the paired interval cancels it, Welch's sees it as noise.
    const baseline = [1.0, 1.1, 1.2, 1.3];
    const candidate = [0.97, 1.08, 1.17, 1.28];
    const paired = judgeExperiment({ ...base, baseline, candidate });
    expect(paired.interval?.method).toBe(INTERVAL_METHOD.paired);
    expect(paired.verdict).toBe('improved');
    const unpaired = judgeExperiment({ ...base, baseline, candidate, paired: false });
    expect(unpaired.interval?.method).toBe(INTERVAL_METHOD.welch);
    expect(unpaired.verdict).toBe('no-change');
    expect(unpaired.delta).toBeCloseTo(paired.delta, 12);
  });

  it('is calibrated: about 5% false keeps with no true effect, at least 80% keeps of a 2σ gain at repeats 5', () => {
    // Seeded, so the figures are fixed; bench/judge-calibration.ts runs the full table.
    const normal = normalSampler(mulberry32(7));
    const keepRate = (repeats: number, trueGain: number, trials: number) => {
      let keeps = 0;
      for (let t = 0; t < trials; t++) {
        const baseline = Array.from({ length: repeats }, () => 100 + normal());
        const candidate = Array.from({ length: repeats }, () => 100 - trueGain + normal());
        if (judgeExperiment({ ...base, minEffect: { kind: 'absolute', value: 0 }, baseline, candidate }).keep) keeps++;
      }
      return keeps / trials;
    };
    const falseKeeps = keepRate(3, 0, 4_000);
    expect(falseKeeps).toBeGreaterThan(0.035);
    expect(falseKeeps).toBeLessThan(0.065);
    expect(keepRate(5, 0, 4_000)).toBeLessThan(0.065);
    expect(keepRate(5, 2, 2_000)).toBeGreaterThan(0.78);
  });
});
