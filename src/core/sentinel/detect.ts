/**
 * Change points in the sentinel's history: the detector of ./change-points.ts run on each segment's relative deltas
 * (never across an environment change or a new reference), each point said in commits and in the metric's terms.
 */
import type { Goal } from '../config/config-schema.js';
import { changePoints, CHANGE_POINT_METHOD, DEFAULT_CHANGE_POINT_OPTIONS, type ChangePointOptions } from './change-points.js';
import { historySegments, measurementsOf, type FindingRecord, type HistorySegment, type MeasurementRecord, type SentinelRecord } from './history.js';

/**
 * A finding stands for change points of its direction up to this many measurements either side of the one it was
 * about: as a history grows, the detector can move a point by a few nights (bench/sentinel-false-alarms.ts), and a
 * change that was already confirmed or dismissed is not raised again for that.
 */
export const FINDING_REACH = 5;

/** One side of a change point, in the history's measurements. */
export interface ChangeSide {
  /** Positions among the measurements, inclusive. */
  firstIndex: number;
  lastIndex: number;
  /** The commits measured there first and last. */
  first: string;
  last: string;
  /** Mean and standard deviation of the relative deltas, and their count. */
  mean: number;
  sd: number;
  count: number;
}

/** A change point of the history, in the metric's terms. */
export interface SentinelChangePoint {
  /** The segment it is in (an index into {@link SentinelDetection.segments}). */
  segment: number;
  /** Position among the history's measurements of the first one after the change. */
  index: number;
  /** Worse by the metric's goal, or better. */
  direction: 'regression' | 'improvement';
  before: ChangeSide;
  after: ChangeSide;
  /** Relative change of the metric's level: (after − before) / (1 + before), the deltas being relative to the reference. */
  effect: number;
  /** Two-sided p-value of the t-test of the two sides. */
  pValue: number;
  /** A finding already decided it (confirmed or dismissed): not raised again. One that needed more runs is raised again. */
  handled: boolean;
}

/** The change points of a history, and how they were looked for. */
export interface SentinelDetection {
  measurements: MeasurementRecord[];
  segments: HistorySegment[];
  changePoints: SentinelChangePoint[];
  method: string;
  options: ChangePointOptions;
}

/** Whether a rise of the metric is a regression under `goal`. */
export function directionOf(rise: number, goal: Goal): 'regression' | 'improvement' {
  return (rise > 0) === (goal === 'minimize') ? 'regression' : 'improvement';
}

function side(measurements: readonly MeasurementRecord[], firstIndex: number, lastIndex: number, stats: { mean: number; sd: number; count: number }): ChangeSide {
  return { firstIndex, lastIndex, first: measurements[firstIndex]!.commit, last: measurements[lastIndex]!.commit, ...stats };
}

/** A finding that decided (the change was real, or was not) stands for the change points near it; an undecided one does not. */
function covered(point: Pick<SentinelChangePoint, 'index' | 'direction'>, findings: readonly FindingRecord[]): boolean {
  return findings.some(
    (finding) => finding.confirmation.answer !== 'need-more-runs' && finding.changePoint.direction === point.direction && Math.abs(finding.changePoint.index - point.index) <= FINDING_REACH,
  );
}

/**
 * The change points of the history's measurements, segment by segment (a segment starts at each new reference commit
 * or environment fingerprint, see {@link historySegments}), in order; each marked `handled` when a finding of its
 * direction that decided it (not `need-more-runs`) was recorded within {@link FINDING_REACH} measurements of it.
 */
export function detectChangePoints(records: readonly SentinelRecord[], options: Partial<ChangePointOptions> = {}): SentinelDetection {
  const settings = { ...DEFAULT_CHANGE_POINT_OPTIONS, ...options };
  const measurements = measurementsOf(records);
  const findings = records.filter((record): record is FindingRecord => record.type === 'finding');
  const segments = historySegments(measurements);
  const found: SentinelChangePoint[] = [];
  segments.forEach((segment, s) => {
    const series = measurements.slice(segment.start, segment.end).map((m) => m.deltaRelative);
    const points = changePoints(series, settings);
    points.forEach((point, k) => {
      const index = segment.start + point.index;
      const beforeStart = segment.start + (points[k - 1]?.index ?? 0);
      const afterEnd = segment.start + (points[k + 1]?.index ?? series.length) - 1;
      const rise = point.after.mean - point.before.mean;
      const direction = directionOf(rise, measurements[index]!.goal);
      found.push({
        segment: s,
        index,
        direction,
        before: side(measurements, beforeStart, index - 1, point.before),
        after: side(measurements, index, afterEnd, point.after),
        effect: rise / (1 + point.before.mean),
        pValue: point.pValue,
        handled: covered({ index, direction }, findings),
      });
    });
  });
  return { measurements, segments, changePoints: found, method: CHANGE_POINT_METHOD, options: settings };
}

/**
 * The commits a change point is confirmed and bisected between: the one measured `margin` measurements before it and
 * the one `margin` after (inside its sides, which end at the neighbouring change points), so that a point the detector
 * placed a few nights off still has the change between them.
 */
export function confirmationRange(detection: SentinelDetection, point: SentinelChangePoint, margin = FINDING_REACH): { good: string; bad: string } {
  const goodIndex = Math.max(point.before.firstIndex, point.index - 1 - margin);
  const badIndex = Math.min(point.after.lastIndex, point.index + margin);
  return { good: detection.measurements[goodIndex]!.commit, bad: detection.measurements[badIndex]!.commit };
}
