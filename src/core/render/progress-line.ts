import { SINGLE_RUN_NOTE } from '../judge/judge.js';
import type { ExperimentRecord } from '../ledger/records.js';
import { stripControl } from './text.js';
import { formatDuration, formatNumber, formatPercent } from '../config/units.js';

/** Where a run stands after one experiment: what a progress line shows. */
export interface ExperimentProgress {
  record: ExperimentRecord;
  /** Best primary metric so far, and the baseline's. */
  best: number | null;
  baseline: number | null;
  keepRate: number;
  /** The run's experiment budget. */
  budget: number;
}

const STATUS_WIDTH = 7;

function deltaText(record: ExperimentRecord): string {
  const j = record.judgement;
  if (!j || j.verdict === 'invalid') return '';
  return `${formatPercent(j.deltaRelative)} vs parent`;
}

/** One line for a finished experiment: what it was, the verdict, the best so far, keep rate and time left. */
export function experimentLine(event: ExperimentProgress, metricName: string, etaMs: number | null): string {
  const { record } = event;
  const number = record.experiment === 0 ? 'base' : `${record.experiment}/${event.budget}`;
  const value = record.metric === null ? '—' : formatNumber(record.metric, 6);
  const parts = [`exp ${number.padStart(5)}`, record.status.padEnd(STATUS_WIDTH), `${metricName} ${value}`];
  const delta = deltaText(record);
  if (delta) parts.push(`(${delta})`);
  if (event.best !== null) {
    const vsBaseline = event.baseline ? ` ${formatPercent((event.best - event.baseline) / Math.abs(event.baseline))}` : '';
    parts.push(`best ${formatNumber(event.best, 6)}${record.experiment > 0 ? vsBaseline : ''}`);
  }
  if (record.experiment > 0) parts.push(`keep rate ${Math.round(event.keepRate * 100)}%`);
  if (etaMs !== null) parts.push(`~${formatDuration(etaMs)} left`);
  // Descriptions and reasons quote proposers and evaluators: a terminal line must not run their escape sequences.
  const about = record.experiment === 0 ? 'baseline' : stripControl(record.description);
  parts.push(`· ${about}`);
  if (record.reason) parts.push(`— ${stripControl(record.reason)}`);
  else if (record.experiment > 0 && record.judgement) {
    const notes = [...(record.judgement.singleRun ? [SINGLE_RUN_NOTE] : []), ...(record.judgement.paired ? [] : ['unpaired'])];
    if (notes.length > 0) parts.push(`(${notes.join('; ')})`);
  }
  return parts.join('  ');
}

