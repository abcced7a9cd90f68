import { describe, expect, it } from 'vitest';
import { judgeExperiment } from '../../../src/core/judge/judge.js';
import { bisect, confirmationAnswer, relativeFigures } from '../../../src/core/sentinel/confirm.js';

const judge = (baseline: number[], candidate: number[]) =>
  judgeExperiment({ goal: 'minimize', minEffect: { kind: 'absolute', value: 0 }, suspiciousEffect: { kind: 'relative', value: 10 }, baseline, candidate });

describe('the answer of a fresh paired measurement', () => {
  it('is different when the interval clears zero on the side of the detected change', () => {
    const judgement = judge([100, 101, 99, 100], [110, 111, 109, 110.5]);
    expect(confirmationAnswer(judgement, 0.1)).toBe('different');
    const { effect, interval } = relativeFigures(judgement);
    expect(effect).toBeCloseTo(0.10125, 5);
    expect(interval!.low).toBeGreaterThan(0);
    expect(interval!.level).toBe(0.9);
  });

  it('is same when the whole interval lies below half of the detected change', () => {
    expect(confirmationAnswer(judge([100, 101, 99, 100], [100.5, 100, 99.5, 100]), 0.1)).toBe('same');
    // A change the other way is not the detected one either.
    expect(confirmationAnswer(judge([100, 101, 99, 100], [90, 91, 89, 90]), 0.1)).toBe('same');
  });

  it('needs more runs when the interval holds both zero and half the change, with one run per side, and when invalid', () => {
    expect(confirmationAnswer(judge([100, 110, 90], [104, 96, 112]), 0.1)).toBe('need-more-runs');
    expect(confirmationAnswer(judge([100], [110]), 0.1)).toBe('need-more-runs');
    expect(confirmationAnswer(judge([], [110]), 0.1)).toBe('need-more-runs');
  });

  it('reads a deterministic metric (no noise at all) at once', () => {
    expect(confirmationAnswer(judge([100, 100], [110, 110]), 0.1)).toBe('different');
    expect(confirmationAnswer(judge([100, 100], [100, 100]), 0.1)).toBe('same');
  });
});

describe('bisection over first-parent commits', () => {
  const commits = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'];
  const probeFor = (culprit: number, undecided: string[] = []) => {
    const asked: string[] = [];
    const probe = async (commit: string) => {
      asked.push(commit);
      if (undecided.includes(commit)) return { answer: 'need-more-runs' as const };
      return { answer: Number(commit.slice(1)) >= culprit ? ('different' as const) : ('same' as const) };
    };
    return { probe, asked };
  };

  it('names the first bad commit in ⌈log₂(n − 1)⌉ probes, wherever it is', async () => {
    for (let culprit = 1; culprit < commits.length; culprit++) {
      const { probe, asked } = probeFor(culprit);
      const outcome = await bisect(commits, probe);
      expect(outcome.culprit).toBe(`c${culprit}`);
      expect(outcome.good).toBe(`c${culprit - 1}`);
      expect(asked.length).toBe(3);
      expect(outcome.steps.map((s) => s.commit)).toEqual(asked);
    }
    expect((await bisect(['good', 'bad'], probeFor(1).probe)).culprit).toBe('bad');
  });

  it('stops with the narrowed range when a step cannot be decided', async () => {
    const outcome = await bisect(commits, probeFor(6, ['c6']).probe);
    expect(outcome).toMatchObject({ culprit: null, good: 'c4', bad: 'c8' });
    expect(outcome.steps.map((s) => [s.commit, s.probe.answer])).toEqual([['c4', 'same'], ['c6', 'need-more-runs']]);
    await expect(bisect(['only'], probeFor(1).probe)).rejects.toThrow(RangeError);
  });
});
