/**
 * What a fresh paired measurement says of a change the history showed, and the bisection that names its commit.
 *
 * A change point is a guess from nightly numbers; before anyone is told, the commits either side are measured again,
 * paired and interleaved by the judge (../judge/judge.ts), and the answer is one of three:
 *
 * - `different`: the interval of the delta excludes zero on the side of the detected change, and does not lie wholly
 *   below half of it: the change is real. With no true change this happens at most at the judge's one-sided rate (5%).
 * - `same`: the whole interval lies below half of the detected change: whatever the history showed, these two commits
 *   do not differ by it.
 * - `need-more-runs`: neither (the interval holds both zero and half the change), or one run per side gave no interval.
 *
 * Half the detected change is the midpoint between the two hypotheses a bisection step tells apart (this commit is
 * still like the good one, or already like the bad one).
 */
import type { Judgement } from '../ledger/records.js';
import type { ConfirmationAnswer, Probe } from './history.js';

/** The relative delta and interval of a judgement: both over |baseline mean|. */
export function relativeFigures(judgement: Judgement): { effect: number; interval: Probe['interval'] } {
  const scale = Math.abs(judgement.baseline.mean);
  const interval = judgement.interval && scale > 0 ? { low: judgement.interval.low / scale, high: judgement.interval.high / scale, level: judgement.interval.level } : null;
  return { effect: judgement.deltaRelative, interval };
}

/**
 * The answer of a paired measurement (baseline: the commit before, candidate: the commit after) about a change of
 * relative size `expected` (signed: positive when the metric rose).
 */
export function confirmationAnswer(judgement: Judgement, expected: number): ConfirmationAnswer {
  if (judgement.verdict === 'invalid' || !Number.isFinite(judgement.deltaRelative)) return 'need-more-runs';
  const { interval } = relativeFigures(judgement);
  if (!interval || expected === 0) return 'need-more-runs';
  const sign = Math.sign(expected);
  // In the direction of the detected change: near (towards zero) and far ends of the interval.
  const near = Math.min(sign * interval.low, sign * interval.high);
  const far = Math.max(sign * interval.low, sign * interval.high);
  const half = Math.abs(expected) / 2;
  if (far < half) return 'same';
  if (near > 0) return 'different';
  return 'need-more-runs';
}

/** A probe's verdict for the bisection: is this commit already like the bad one? */
export interface BisectProbe {
  answer: ConfirmationAnswer;
}

/** Where a bisection ended. */
export interface BisectOutcome<P extends BisectProbe> {
  /** The first commit like the bad one, or null when a step could not be decided. */
  culprit: string | null;
  /** The last commit known like the good one and the first known like the bad one: adjacent when a culprit was named. */
  good: string;
  bad: string;
  /** Each step, in order: the commit measured and what its probe said. */
  steps: Array<{ commit: string; probe: P }>;
}

/**
 * Binary search for the first bad commit of `commits` (first-parent order, oldest first: the first is known good, the
 * last known bad), asking `probe` of each midpoint whether it is `different` from the good end (bad) or the `same`
 * (good). A `need-more-runs` answer (the probe has already measured again if it could) stops the search and leaves the
 * narrowed range. Takes ⌈log₂(n − 1)⌉ probes for n commits.
 */
export async function bisect<P extends BisectProbe>(commits: readonly string[], probe: (commit: string) => Promise<P>): Promise<BisectOutcome<P>> {
  if (commits.length < 2) throw new RangeError(`a bisection needs a good and a bad commit (got ${commits.length})`);
  let low = 0;
  let high = commits.length - 1;
  const steps: Array<{ commit: string; probe: P }> = [];
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    const commit = commits[middle]!;
    const answer = await probe(commit);
    steps.push({ commit, probe: answer });
    if (answer.answer === 'different') high = middle;
    else if (answer.answer === 'same') low = middle;
    else return { culprit: null, good: commits[low]!, bad: commits[high]!, steps };
  }
  return { culprit: commits[high]!, good: commits[low]!, bad: commits[high]!, steps };
}
