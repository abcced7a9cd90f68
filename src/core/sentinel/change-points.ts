/**
 * Change points in a series of measurements, as datastax-labs/hunter finds them (hunter/analysis.py: `split`, then
 * `merge`; M. Fleming et al., "Hunter: Using Change Point Detection to Hunt for Performance Regressions", ICPE 2023,
 * arXiv:2301.03034):
 *
 * - **E-Divisive means** (D. S. Matteson & N. A. James, "A Nonparametric Approach for Multiple Change Point Analysis
 *   of Multivariate Data", JASA 109(505): 334–345, 2014) proposes where a segment splits: at the τ that maximises the
 *   energy statistic q̂(X, Y) = mn/(m+n) · (2/(mn) Σ|xᵢ−yⱼ| − Σᵢ<ₖ|xᵢ−xₖ|/C(m,2) − Σⱼ<ₖ|yⱼ−yₖ|/C(n,2)), α = 1;
 *   the segments between accepted points are split again, best candidate first, while the candidate is significant
 *   (the divisive loop of MongoDB's signal-processing-algorithms, D. Daly et al., ICPE 2020).
 * - **Significance**: instead of E-Divisive's permutation test, hunter tests each candidate with a two-sided Student's
 *   t-test of the segment before it against the segment after it (bounded by the neighbouring change points), which
 *   is deterministic and works with few points. Here the pooled variance uses the unbiased (n − 1) variances of
 *   both sides (hunter passes numpy's population standard deviations to scipy, which expects sample ones).
 * - **Windows**: E-Divisive runs on overlapping windows of `window` points (step `window / 2`, restarting after the
 *   last point found) so that a long history neither costs O(n²) nor hides a change among others; the candidates
 *   are accepted at 10 × `maxPValue`, then **merged** bottom-up: the weakest point (highest p-value, or when all
 *   pass, the smallest effect) is removed and its neighbours re-tested, until every point left has a p-value below
 *   `maxPValue` and an effect above `minEffect`.
 *
 * Pure: numbers in, change points out. Calibrated by simulation in bench/sentinel-false-alarms.ts.
 */
import { mean, studentTCdf, variance } from '../judge/stats.js';

/** Names the method, as shown next to a change point. */
export const CHANGE_POINT_METHOD = 'E-Divisive means (Matteson & James 2014) with a Student t-test per split, as in hunter (Fleming et al. 2023)';

/** The settings of the detector. */
export interface ChangePointOptions {
  /** A change point is kept only with a two-sided p-value below this (hunter's `max_pvalue`). */
  maxPValue: number;
  /** …and an absolute difference of the segment means above this, in the series's units (hunter's `min_magnitude`, which is relative). */
  minEffect: number;
  /** Points E-Divisive looks at at once (hunter's `window_len`). */
  window: number;
  /** Fewest points on each side of a split. */
  minSegment: number;
}

/**
 * The defaults, calibrated in bench/sentinel-false-alarms.ts for ≤ 1 false alarm in 100 nightly checks on a metric
 * with 3% Gaussian noise: a p-value ten times below hunter's 0.001 (which alarms on about 2 checks in 100 there, since
 * every nightly check tests the whole history again and takes the best split of it), and at least two points on each
 * side of a change, so that one outlying night alone is never a change point. hunter's window of 50 is kept.
 */
export const DEFAULT_CHANGE_POINT_OPTIONS: Readonly<ChangePointOptions> = { maxPValue: 1e-4, minEffect: 0, window: 50, minSegment: 2 };

/** Mean, standard deviation (n − 1) and count of one side of a split. */
export interface SegmentStats {
  mean: number;
  sd: number;
  count: number;
}

/** A split of the series before `index` (the first point of the segment after it) and its test. */
export interface ChangePoint {
  index: number;
  before: SegmentStats;
  after: SegmentStats;
  /** Two-sided p-value of Student's t-test of `before` against `after`. */
  pValue: number;
}

function stats(values: readonly number[]): SegmentStats {
  return { mean: mean(values), sd: Math.sqrt(variance(values)), count: values.length };
}

/**
 * Two-sided Student's t-test (pooled variance) of two independent samples; p = 1 with fewer than three values in all,
 * and with no variance at all, 1 for equal means and 0 for different ones.
 */
export function studentTTest(before: readonly number[], after: readonly number[]): { before: SegmentStats; after: SegmentStats; pValue: number } {
  if (before.length === 0 || after.length === 0) throw new RangeError(`a t-test needs values on both sides (got ${before.length} and ${after.length})`);
  const b = stats(before);
  const a = stats(after);
  const df = b.count + a.count - 2;
  if (df < 1) return { before: b, after: a, pValue: 1 };
  const pooled = ((b.count - 1) * b.sd ** 2 + (a.count - 1) * a.sd ** 2) / df;
  const difference = a.mean - b.mean;
  if (pooled === 0) return { before: b, after: a, pValue: difference === 0 ? 1 : 0 };
  const t = difference / Math.sqrt(pooled * (1 / b.count + 1 / a.count));
  return { before: b, after: a, pValue: Math.min(1, 2 * studentTCdf(-Math.abs(t), df)) };
}

/** The t-test of the split before `index`, between the nearest `ends` on either side. */
function testSplit(series: readonly number[], index: number, ends: readonly number[]): ChangePoint {
  const start = [...ends].reverse().find((end) => end < index) ?? 0;
  const stop = ends.find((end) => end > index) ?? series.length;
  return { index, ...studentTTest(series.slice(start, index), series.slice(index, stop)) };
}

/** The τ in (start, stop) with the largest q̂ leaving `minSegment` points on each side, or null when none does. */
export function bestSplit(series: readonly number[], start: number, stop: number, minSegment: number): { index: number; qHat: number } | null {
  const length = stop - start;
  if (length < 2 * minSegment) return null;
  // X = series[start, tau), Y = series[tau, stop): sums of |differences| across and within, moved one point at a time.
  let cross = 0;
  let within = 0;
  let withinY = 0;
  for (let i = start; i < stop; i++) for (let j = i + 1; j < stop; j++) withinY += Math.abs(series[i]! - series[j]!);
  let best: { index: number; qHat: number } | null = null;
  for (let tau = start + 1; tau < stop; tau++) {
    const moved = series[tau - 1]!;
    let toX = 0;
    for (let i = start; i < tau - 1; i++) toX += Math.abs(series[i]! - moved);
    let toY = 0;
    for (let j = tau; j < stop; j++) toY += Math.abs(moved - series[j]!);
    cross += toY - toX;
    within += toX;
    withinY -= toY;
    const m = tau - start;
    const n = stop - tau;
    if (m < minSegment || n < minSegment) continue;
    const pairsX = (m * (m - 1)) / 2;
    const pairsY = (n * (n - 1)) / 2;
    const energy = (2 * cross) / (m * n) - (pairsX > 0 ? within / pairsX : 0) - (pairsY > 0 ? withinY / pairsY : 0);
    const qHat = ((m * n) / (m + n)) * energy;
    if (best === null || qHat > best.qHat) best = { index: tau, qHat };
  }
  return best;
}

/** E-Divisive on `series`: the split points (sorted), each accepted while the best remaining candidate has p ≤ `pValue`. */
export function eDivisive(series: readonly number[], pValue: number, minSegment: number): number[] {
  const points: number[] = [];
  const candidates = new Map<string, { index: number; qHat: number } | null>();
  for (;;) {
    const ends = [0, ...points, series.length];
    let best: { index: number; qHat: number } | null = null;
    for (let k = 0; k + 1 < ends.length; k++) {
      const key = `${ends[k]}:${ends[k + 1]}`;
      if (!candidates.has(key)) candidates.set(key, bestSplit(series, ends[k]!, ends[k + 1]!, minSegment));
      const candidate = candidates.get(key)!;
      if (candidate && (best === null || candidate.qHat > best.qHat)) best = candidate;
    }
    if (!best || testSplit(series, best.index, ends).pValue > pValue) return points;
    points.push(best.index);
    points.sort((a, b) => a - b);
  }
}

/** hunter's `split`: E-Divisive over overlapping windows, each candidate tested between its neighbours. */
function split(series: readonly number[], options: ChangePointOptions): ChangePoint[] {
  const step = Math.max(1, Math.floor(options.window / 2));
  const indexes: number[] = [];
  let start = 0;
  while (start < series.length) {
    const stop = Math.min(start + options.window, series.length);
    const found = eDivisive(series.slice(start, stop), options.maxPValue * 10, options.minSegment).map((index) => index + start);
    indexes.push(...found);
    start = Math.max(found.at(-1) ?? 0, start + step);
  }
  const ends = [0, ...indexes, series.length];
  return indexes.map((index) => testSplit(series, index, ends));
}

const effectOf = (point: ChangePoint) => Math.abs(point.after.mean - point.before.mean);

/** hunter's `merge`: removes the weakest point and re-tests its neighbours until all pass `maxPValue` and `minEffect`. */
function merge(points: ChangePoint[], series: readonly number[], options: ChangePointOptions): ChangePoint[] {
  const kept = [...points];
  while (kept.length > 0) {
    let weakest = kept.reduce((a, b) => (b.pValue > a.pValue ? b : a));
    if (weakest.pValue < options.maxPValue) {
      weakest = kept.reduce((a, b) => (effectOf(b) < effectOf(a) ? b : a));
      if (effectOf(weakest) > options.minEffect) return kept;
    }
    const at = kept.indexOf(weakest);
    kept.splice(at, 1);
    const ends = [0, ...kept.map((point) => point.index), series.length];
    for (const neighbour of [at - 1, at]) {
      if (neighbour >= 0 && neighbour < kept.length) kept[neighbour] = testSplit(series, kept[neighbour]!.index, ends);
    }
  }
  return kept;
}

/**
 * The change points of `series` (in order): where its mean shifts, each with the means either side (up to the
 * neighbouring change points) and its p-value. Non-finite values are refused: a failed measurement is no point.
 */
export function changePoints(series: readonly number[], options: Partial<ChangePointOptions> = {}): ChangePoint[] {
  const settings = { ...DEFAULT_CHANGE_POINT_OPTIONS, ...options };
  if (!series.every(Number.isFinite)) throw new RangeError('a change-point series must hold finite numbers only');
  if (settings.minSegment < 1 || settings.window < 2 * settings.minSegment) throw new RangeError(`window (${settings.window}) must hold two segments of minSegment (${settings.minSegment}) ≥ 1 points`);
  return merge(split(series, settings), series, settings);
}
