import type { ExperimentRecord } from '../ledger/records.js';
import { compareExperiment, experimentWhyPhrases } from './report.js';
import { formatRelativeInterval } from './markdown.js';
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

/** The width experiment lines are wrapped to when the terminal's is not known (a pipe, a CI log). */
export const LINE_WIDTH = 100;

const STATUS_WIDTH = 7;
/** A phrase of why (or a hypothesis) up to this long is never broken across lines. */
const PHRASE_WIDTH = 45;

/**
 * Lines of at most `width` characters: `first` followed by `atoms` (pieces never split, a word or a figure),
 * one space apart; a line that would grow past `width` goes on after `indent`. An atom longer than a line gets
 * a line of its own (and is not cut).
 */
function wrap(first: string, atoms: readonly string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = first;
  // A `first` that ends in a space (the head, an indent) takes its first atom as it is; else one space before it.
  let empty = first === '' || first.endsWith(' ');
  for (const atom of atoms) {
    if (!empty && line.length + 1 + atom.length > width) {
      lines.push(line);
      line = indent + atom;
    } else {
      line += (empty ? '' : ' ') + atom;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

/**
 * The words of text a proposer or an evaluator wrote, without its escape sequences (a terminal must not run them); a
 * failure's `(log: <path>)` stays one piece, so the path is never split from what it is.
 */
function words(text: string): string[] {
  return stripControl(text)
    .split(/\s+/)
    .filter(Boolean)
    .reduce<string[]>((atoms, word) => (atoms.at(-1) === '(log:' ? [...atoms.slice(0, -1), `(log: ${word}`] : [...atoms, word]), []);
}

/**
 * The lines for a finished experiment. First what was compared and how it came out: the candidate's value against its
 * parent *as measured in that experiment* (beside it; or measured earlier, when the baseline is cached), the change
 * with the judge's interval of it, and why (see `experimentWhy`): `sort_ms 92.4 vs parent 154.2 in this experiment
 * (−40.1%, 90% interval −61% to +4%): within the noise`. Then, indented, where the run stands (the best as kept and
 * against the baseline, the keep rate, the time left) and the hypothesis. Wrapped at `width` (the terminal's),
 * continued under the figures; the baseline gets one line.
 */
export function experimentLine(event: ExperimentProgress, metricName: string, etaMs: number | null, width = LINE_WIDTH): string {
  const { record } = event;
  const number = record.experiment === 0 ? 'base' : `${record.experiment}/${event.budget}`;
  const head = `exp ${number.padStart(5)}  ${record.status.padEnd(STATUS_WIDTH)}  `;
  const indent = ' '.repeat(head.length);
  const compared = compareExperiment(record, null);
  const figures = [record.metric === null ? `${metricName} not measured` : `${metricName} ${formatNumber(record.metric, 6)}`];
  if (compared.parent !== null) {
    figures.push(`vs parent ${formatNumber(compared.parent, 6)} ${compared.parentSource === 'paired' ? 'in this experiment' : 'measured earlier (cached)'}`);
  }
  if (compared.deltaRelative !== null) figures.push(`(${formatPercent(compared.deltaRelative)}, ${formatRelativeInterval(compared.interval, compared.parent)})`);
  // Short phrases of why stay whole (`better beyond the noise,`); a long one (a crash's reason) wraps by word.
  const why = experimentWhyPhrases(record).flatMap((phrase) => (phrase.length <= PHRASE_WIDTH ? [phrase] : words(phrase)));
  if (why.length > 0) figures[figures.length - 1] += ':';
  const verdict = wrap(head, [...figures, ...why], width, indent);

  const standing: string[] = [];
  if (event.best !== null && record.experiment > 0) {
    const vsBaseline = event.baseline ? ` (${formatPercent((event.best - event.baseline) / Math.abs(event.baseline))} vs baseline)` : '';
    standing.push(`· best ${formatNumber(event.best, 6)}${vsBaseline}`);
  }
  if (record.experiment > 0) standing.push(`· keep rate ${Math.round(event.keepRate * 100)}%`);
  if (etaMs !== null) standing.push(`· ~${formatDuration(etaMs)} left`);
  if (record.experiment === 0) {
    // The baseline: its value (or why it has none), then the rest on the same line when it fits.
    return [...verdict.slice(0, -1), ...wrap(verdict.at(-1)!, ['· baseline', ...standing], width, indent)].join('\n');
  }
  // A short hypothesis stays whole, on the next line when it does not fit; a long one wraps by word.
  const hypothesis = words(record.description);
  const about = hypothesis.join(' ').length <= PHRASE_WIDTH ? [hypothesis.join(' ')].filter(Boolean) : hypothesis;
  if (about.length > 0) about[0] = `· ${about[0]}`;
  return [...verdict, ...wrap(indent, [...standing, ...about], width, indent)].join('\n');
}
