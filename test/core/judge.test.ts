import { describe, expect, it } from 'vitest';
import { judgeExperiment, SINGLE_RUN_NOTE, type JudgeInput } from '../../src/core/judge.js';
import { studentTQuantile } from '../../src/core/stats.js';

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
    expect(j.interval?.method).toBe('paired t');
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
    expect(j.reasons.join(' ')).toMatch(/includes zero/);
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
    expect(j.interval?.method).toBe("Welch's t");
    expect(j.verdict).toBe('improved');
  });
});
