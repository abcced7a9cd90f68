/**
 * Renders a run's ledger for people and tools: `results.tsv` (autoresearch's table), a Markdown
 * report, and the summary numbers both share. Pure: records in, text out.
 */
import { UNPAIRED_NOTE } from '../judge/judge.js';
import type { Goal } from '../config/config-schema.js';
import type { ConfirmationRecord, ExperimentRecord, ExperimentStatus, Judgement, RunRecord } from '../ledger/records.js';
import { stripControl } from './text.js';
import { cell, change, formatInterval, markdownUrl, oneLine, shortSha, signed, value } from './markdown.js';
import { formatNumber, formatPercent } from '../config/units.js';

/** The headline numbers of a run, shared by the report, the chart and the CLI. */
export interface RunSummary {
  /** Primary metric of the baseline (experiment 0), null when it was not measured. */
  baseline: number | null;
  /** Best kept primary metric (the baseline counts as kept), null when nothing was measured. */
  best: number | null;
  /** The experiment that reached `best` first. */
  bestExperiment: number | null;
  /** best − baseline in the metric's unit, like the judge's delta: negative when a minimised metric fell. */
  improvement: number | null;
  /** improvement / |baseline|, null when the baseline is missing or zero. */
  improvementRelative: number | null;
  /** Experiments after the baseline. */
  experiments: number;
  /** Statuses of the experiments after the baseline. */
  counts: Record<ExperimentStatus, number>;
  /** kept / experiments after the baseline, null before the first one. */
  keepRate: number | null;
  /** The run head measured against the base at the end: the headline when there is one. */
  confirmation: ConfirmationSummary | null;
}

/** The figures of a run's confirmation (see `ConfirmationRecord`). */
export interface ConfirmationSummary {
  status: ConfirmationRecord['status'];
  headCommit: string;
  /** Means of the base and the head as measured side by side in the confirmation, null when not measured. */
  base: number | null;
  head: number | null;
  deltaRelative: number | null;
  interval: Judgement['interval'];
  /** Valid runs of the head. */
  runsPerSide: number;
  reason: string | null;
}

function finiteOrNull(n: number | undefined): number | null {
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

/** The confirmation's figures, or null when it does not confirm the run's current head (more experiments followed it). */
export function summarizeConfirmation(confirmation: ConfirmationRecord | null | undefined, experiments: readonly ExperimentRecord[]): ConfirmationSummary | null {
  const head = sortExperiments(experiments).at(-1)?.bestCommit;
  return confirmation && confirmation.headCommit === head ? confirmationFigures(confirmation) : null;
}

/** The figures of one confirmation record. */
export function confirmationFigures(confirmation: ConfirmationRecord): ConfirmationSummary {
  const j = confirmation.judgement;
  return {
    status: confirmation.status,
    headCommit: confirmation.headCommit,
    base: finiteOrNull(j?.baseline.mean),
    head: finiteOrNull(j?.candidate.mean),
    deltaRelative: finiteOrNull(j?.deltaRelative),
    interval: j?.interval ?? null,
    runsPerSide: j?.candidate.samples.length ?? 0,
    reason: confirmation.reason,
  };
}

/** One sentence on the confirmation, for the CLI and the reports: what was measured again, and what it showed. */
export function confirmationSentence(metric: string, c: ConfirmationSummary): string {
  const runs = `measured again side by side, ${c.runsPerSide} run${c.runsPerSide === 1 ? '' : 's'} per side${c.interval ? '' : ', no noise estimate'}`;
  if (c.status === 'invalid' || c.base === null || c.head === null) return `${metric}: base → run head could not be measured again: ${stripControl(c.reason ?? 'no valid runs')}`;
  const interval = c.interval ? `, ${formatInterval(c.interval, { method: false })}` : '';
  const figures = `${metric}: base ${formatNumber(c.base, 6)} → run head ${formatNumber(c.head, 6)}${c.deltaRelative === null ? '' : ` (${formatPercent(c.deltaRelative)}${interval})`}`;
  if (c.status === 'confirmed') return `${figures}, confirmed (${runs})`;
  return `${figures}, NOT confirmed (${runs}): ${stripControl(c.reason ?? 'the gain did not hold up')}`;
}

/** True when `a` is strictly better than `b` for the goal. */
export function isBetter(a: number, b: number, goal: Goal): boolean {
  return goal === 'minimize' ? a < b : a > b;
}

/** A metric value worth showing: a finite number (NaN or Infinity in a ledger counts as not measured). */
export function measuredValue(record: ExperimentRecord): number | null {
  return typeof record.metric === 'number' && Number.isFinite(record.metric) ? record.metric : null;
}

/** The records in experiment order, without mutating the caller's array. */
export function sortExperiments(experiments: readonly ExperimentRecord[]): ExperimentRecord[] {
  return [...experiments].sort((a, b) => a.experiment - b.experiment);
}

/**
 * Summarises a run: baseline → best, the change, and how many experiments were kept, discarded or invalid. `best`
 * is the run head's value as measured when it was kept (the last kept experiment's). Experiment 0 is the baseline;
 * it sets `baseline` and counts as kept for `best`, but not in `counts`.
 */
export function summarizeRun(run: RunRecord, experiments: readonly ExperimentRecord[], confirmation: ConfirmationRecord | null = null): RunSummary {
  const counts: Record<ExperimentStatus, number> = { keep: 0, discard: 0, crash: 0, invalid: 0 };
  let baseline: number | null = null;
  let best: number | null = null;
  let bestExperiment: number | null = null;
  let total = 0;
  for (const record of sortExperiments(experiments)) {
    const value = measuredValue(record);
    if (record.experiment === 0) {
      baseline = value;
    } else {
      total += 1;
      counts[record.status] += 1;
    }
    // The run head: each kept experiment is built on the one before, so the last kept is what the run branch holds,
    // the `best` of the progress lines and the chart, even when an earlier step happened to measure better.
    if (record.status === 'keep' && value !== null) {
      best = value;
      bestExperiment = record.experiment;
    }
  }
  const improvement = baseline !== null && best !== null ? best - baseline : null;
  const improvementRelative = improvement !== null && baseline !== null && baseline !== 0 ? improvement / Math.abs(baseline) : null;
  return {
    baseline,
    best,
    bestExperiment,
    improvement,
    improvementRelative,
    experiments: total,
    counts,
    keepRate: total > 0 ? counts.keep / total : null,
    confirmation: summarizeConfirmation(confirmation, experiments),
  };
}

/**
 * The best primary metric after each experiment, in experiment order: the ledger's own `best` when it is
 * recorded, else the best kept value so far (a hand-written ledger); null until one is known.
 */
export function runningBest(run: RunRecord, experiments: readonly ExperimentRecord[]): { experiment: number; best: number | null }[] {
  let best: number | null = null;
  return sortExperiments(experiments).map((record) => {
    const value = measuredValue(record);
    if (typeof record.best === 'number' && Number.isFinite(record.best)) best = record.best;
    else if (record.status === 'keep' && value !== null && (best === null || isBetter(value, best, run.metric.goal))) best = value;
    return { experiment: record.experiment, best };
  });
}

/** ~6 significant digits, plain enough for spreadsheets and `sort -g`. */
function tsvNumber(value: number | null | undefined): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '';
  return String(Number(value.toPrecision(6)));
}

/** One line of text for a TSV field: tabs and line breaks would break the row. */
function tsvText(text: string): string {
  // No escape sequences or control characters: fields quote descriptions from proposers.
  return stripControl(text).replace(/[\t\r\n]+/g, ' ').trim();
}

/**
 * autoresearch's `results.tsv`: `experiment  commit  <metric>  <guard...>  status  description`, one row per
 * experiment. The commit is the kept commit when there is one, else the measured candidate; unmeasured
 * values are empty cells.
 */
export function renderResultsTsv(run: RunRecord, experiments: readonly ExperimentRecord[]): string {
  const header = ['experiment', 'commit', run.metric.name, ...run.guards, 'status', 'description'];
  const rows = sortExperiments(experiments).map((record) =>
    [
      String(record.experiment),
      shortSha(record.keptCommit ?? record.candidateCommit),
      tsvNumber(measuredValue(record)),
      ...run.guards.map((guard) => tsvNumber(record.guards[guard])),
      record.status,
      tsvText(record.description),
    ].join('\t'),
  );
  return `${[header.join('\t'), ...rows].join('\n')}\n`;
}

function statusLabel(status: ExperimentStatus): string {
  return status === 'keep' ? 'kept' : status === 'discard' ? 'discarded' : status === 'crash' ? 'crashed' : 'invalid';
}

const SINGLE_RUN_MARK = '†';
const UNPAIRED_MARK = '‡';

/** Options of {@link renderMarkdownReport}. */
export interface MarkdownReportOptions {
  /** Path or URL of the progress chart, relative to where the report is read; embedded when given. */
  chartPath?: string;
  /** The run head measured against the base at the end: shown first when it confirms the current head. */
  confirmation?: ConfirmationRecord | null;
}

/**
 * The run's Markdown report: a heading naming the metric and goal, the summary (baseline → best, change,
 * counts, keep rate), the chart when given, and one table row per experiment with its delta against its
 * parent and the judge's verdict. Verdicts from a single run per side are marked: they have no noise estimate.
 */
export function renderMarkdownReport(run: RunRecord, experiments: readonly ExperimentRecord[], options: MarkdownReportOptions = {}): string {
  const { name, goal } = run.metric;
  const summary = summarizeRun(run, experiments, options.confirmation ?? null);
  const sorted = sortExperiments(experiments);
  const lines: string[] = [`## autoloop: ${name} (${goal})`, ''];

  const number = (measured: number | null) => (measured === null ? 'not measured' : `\`${value(measured)}\``);
  if (summary.confirmation) lines.push(`- **Confirmation:** ${oneLine(confirmationSentence(name, summary.confirmation))}`);
  if (summary.best !== null && summary.baseline !== null) {
    // With a confirmation this is the chain of steps, each against its parent: the confirmation is the run's figure.
    const label = summary.confirmation ? 'Baseline → best during the run' : 'Baseline → best';
    lines.push(`- **${label}:** ${number(summary.baseline)} → ${number(summary.best)} (experiment ${summary.bestExperiment})`);
  } else {
    lines.push(`- **Baseline:** ${number(summary.baseline)}`);
  }
  if (summary.improvement !== null) {
    const better = summary.improvement !== 0 && isBetter(summary.improvement, 0, goal);
    const relative = summary.improvementRelative === null ? '' : ` (${formatPercent(summary.improvementRelative)})`;
    const verdict = summary.improvement === 0 ? 'no improvement' : better ? 'better' : 'worse';
    lines.push(`- **Change:** ${signed(summary.improvement, 6)}${relative}, ${verdict}`);
  }
  const { keep, discard, crash, invalid } = summary.counts;
  const rate = summary.keepRate === null ? 'n/a' : `${formatNumber(summary.keepRate * 100, 3)}%`;
  lines.push(
    `- **Experiments:** ${summary.experiments} after the baseline: ${keep} kept, ${discard} discarded, ${crash} crashed, ${invalid} invalid (keep rate ${rate})`,
  );
  const singleRuns = sorted.filter((record) => record.judgement?.singleRun).length;
  if (singleRuns > 0) {
    const verdicts = `${singleRuns} verdict${singleRuns === 1 ? '' : 's'}`;
    lines.push(`- **Noise:** single run, no noise estimate (${verdicts} from one run per side, marked ${SINGLE_RUN_MARK})`);
  }
  const unpaired = sorted.filter((record) => record.judgement && !record.judgement.paired).length;
  if (unpaired > 0) {
    lines.push(`- **Pairing:** ${unpaired} verdict${unpaired === 1 ? '' : 's'} ${UNPAIRED_NOTE} (\`evaluate.baseline: cached\`), marked ${UNPAIRED_MARK}`);
  }
  lines.push('');
  if (options.chartPath) lines.push(`![${cell(name)} over experiments](${markdownUrl(options.chartPath)})`, '');

  lines.push('| # | status | metric | Δ vs parent | verdict | description |', '| ---: | --- | ---: | ---: | --- | --- |');
  let parentBest: number | null = null;
  for (const record of sorted) {
    const measured = measuredValue(record);
    const judgement = record.judgement;
    let delta = '—';
    if (judgement && Number.isFinite(judgement.delta) && record.experiment > 0) {
      delta = `${signed(judgement.delta)} (${formatPercent(judgement.deltaRelative)})`;
    } else if (measured !== null && parentBest !== null && record.experiment > 0) {
      // No judgement (e.g. a hand-written ledger): compare with the best before this experiment.
      const difference = measured - parentBest;
      delta = change(difference, parentBest === 0 ? null : difference / Math.abs(parentBest));
    }
    let verdict = record.experiment === 0 ? 'baseline' : (judgement?.verdict ?? '—');
    if (judgement?.singleRun && record.experiment > 0) verdict += SINGLE_RUN_MARK;
    if (judgement && !judgement.paired) verdict += UNPAIRED_MARK;
    if (judgement?.suspicious) verdict += ' ⚠ suspicious';
    let metric = value(measured);
    if (record.experiment === summary.bestExperiment) metric = `**${metric}**`;
    const description = record.reason && record.status !== 'keep' && record.status !== 'discard' ? `${record.description} — ${record.reason}` : record.description;
    lines.push(`| ${record.experiment} | ${statusLabel(record.status)} | ${metric} | ${delta} | ${cell(verdict)} | ${cell(description)} |`);
    if (record.status === 'keep' && measured !== null && (parentBest === null || isBetter(measured, parentBest, goal))) parentBest = measured;
  }
  if (singleRuns > 0) lines.push('', `${SINGLE_RUN_MARK} single run, no noise estimate.`);
  if (unpaired > 0) lines.push('', `${UNPAIRED_MARK} ${UNPAIRED_NOTE}.`);
  return `${lines.join('\n')}\n`;
}
