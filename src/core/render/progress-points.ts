/**
 * What the run's progress charts plot (the SVG of `chart.ts`, the Mermaid block of `mermaid.ts`): each experiment as its
 * candidate's change against its own parent *as measured in that experiment*, in percent, with the interval of that
 * change when there is one, and what became of it. Never an absolute value against a best measured at another time,
 * where a candidate measured on a machine that had got faster would seem to beat what was kept. Pure.
 */
import type { ExperimentRecord, RunRecord, Verdict } from '../ledger/records.js';
import { compareExperiments, measuredValue, type ExperimentComparison } from './report.js';

/** Discarded changes (and interval ends) further than this many spans of the kept ones are drawn clamped at the edge, so one wild candidate cannot flatten the rest. */
const OFFSCALE_SPANS = 1.5;

/**
 * What became of an experiment: `baseline` (experiment 0), `keep`, `discard`, `held` (discarded or left for a human
 * though better beyond the noise: a guard regressed, a gain beyond `suspicious_effect`, a stale parent), `invalid`
 * (crashed, invalid, or no value).
 */
export type ProgressKind = 'baseline' | 'keep' | 'discard' | 'held' | 'invalid';

/** One experiment of a progress chart. */
export interface ProgressPoint {
  experiment: number;
  /** The candidate's change against its parent, in percent: 0 for the baseline and for a value without a parent; null when not measured. */
  change: number | null;
  /** The interval of that change, in percent; null with one run per side, without a judgement or without a parent. */
  interval: { low: number; high: number } | null;
  kind: ProgressKind;
}

/** The figures of one experiment that {@link progressPoint} needs, from a ledger record or from the App's run state. */
export interface ProgressFigures {
  experiment: number;
  /** False when it has no value: crashed, invalid, not measured. */
  measured: boolean;
  kept: boolean;
  /** The parent's value it was compared with, as measured in this experiment; null when there is none. */
  parent: number | null;
  /** (candidate − parent) / |parent|, null without both. */
  deltaRelative: number | null;
  /** The judge's interval of candidate − parent, in the metric's unit. */
  interval: { low: number; high: number } | null;
  verdict: Verdict | null;
}

/** An experiment's point: its change against its parent in percent, its interval in percent, and its {@link ProgressKind}. Pure. */
export function progressPoint(figures: ProgressFigures): ProgressPoint {
  const { experiment, parent, interval } = figures;
  if (!figures.measured) return { experiment, change: null, interval: null, kind: 'invalid' };
  if (experiment === 0) return { experiment, change: 0, interval: null, kind: 'baseline' };
  const relative =
    interval && parent !== null && parent !== 0 && Number.isFinite(interval.low) && Number.isFinite(interval.high)
      ? { low: (100 * interval.low) / Math.abs(parent), high: (100 * interval.high) / Math.abs(parent) }
      : null;
  // Without a parent to compare with (a hand-written ledger without a baseline) it sits on the parent line.
  const change = figures.deltaRelative === null ? 0 : 100 * figures.deltaRelative;
  const kind = figures.kept ? 'keep' : figures.verdict === 'improved' ? 'held' : 'discard';
  return { experiment, change, interval: relative, kind };
}

/** The points of a run's ledger, in experiment order, each with its record and its comparison ({@link compareExperiments}). Pure. */
export function ledgerProgress(run: RunRecord, experiments: readonly ExperimentRecord[]): { record: ExperimentRecord; compared: ExperimentComparison; point: ProgressPoint }[] {
  return compareExperiments(run, experiments).map(({ record, compared }) => {
    const measured = record.status !== 'crash' && record.status !== 'invalid' && measuredValue(record) !== null;
    const point = progressPoint({
      experiment: record.experiment,
      measured,
      kept: record.status === 'keep',
      parent: compared.parent,
      deltaRelative: compared.deltaRelative,
      interval: compared.interval,
      verdict: compared.verdict,
    });
    return { record, compared, point };
  });
}

/**
 * The kept changes compounded, in percent, after each point (in the order given): 0 until the first kept one, then
 * ∏(1 + change/100) − 1 over the kept ones so far. Each kept experiment was built on the one kept before it and measured
 * against it, so this estimates the run head against the baseline without comparing values measured at different times.
 */
export function compoundedKept(points: readonly ProgressPoint[]): number[] {
  let factor = 1;
  return points.map((point) => {
    if (point.kind === 'keep' && point.change !== null) factor *= 1 + point.change / 100;
    return Number((100 * (factor - 1)).toPrecision(12));
  });
}

/**
 * The value range of a progress chart: `core` (what must be on the scale: the parent line, the kept changes) always,
 * padded to ±10% of the value (at least ±1) when flat; each of `others` (discarded changes) too unless it lies more than
 * {@link OFFSCALE_SPANS} spans of the core beyond it. Pure.
 */
export function progressRange(core: readonly number[], others: readonly number[]): { low: number; high: number } {
  let low = core.length ? Math.min(...core) : 0;
  let high = core.length ? Math.max(...core) : 1;
  if (high === low) {
    const pad = Math.max(Math.abs(high) * 0.1, 1);
    low -= pad;
    high += pad;
  }
  const span = high - low;
  for (const value of others) {
    if (value >= low - OFFSCALE_SPANS * span && value <= high + OFFSCALE_SPANS * span) {
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  return { low, high };
}
