/**
 * Renders a run's ledger for people and tools: `results.tsv` (autoresearch's table), a Markdown
 * report, and the summary numbers both share. Pure: records in, text out.
 */
import { UNPAIRED_NOTE } from '../judge/judge.js';
import type { Goal } from '../config/config-schema.js';
import type { ConfirmationRecord, ExperimentRecord, ExperimentStatus, Judgement, RunRecord, Verdict } from '../ledger/records.js';
import { stripControl } from './text.js';
import { cell, change, formatInterval, formatRelativeInterval, markdownUrl, oneLine, shortSha, signed, value, wideCell } from './markdown.js';
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
 * What an experiment was compared with, and how it came out: the candidate against its parent *as measured in that
 * experiment* (the judge's baseline mean: measured beside the candidate, so a machine that slowed down since the parent
 * was kept moves both), never against the best as it was measured when kept. Every line and row of an experiment shows
 * these figures, so that its delta, its parent and its verdict add up.
 */
export interface ExperimentComparison {
  /** The parent's value it was compared with, null when there is none (the baseline, a crash). */
  parent: number | null;
  /**
   * Where `parent` comes from: `paired`, measured beside the candidate in this experiment; `cached`, samples measured
   * earlier (`evaluate.baseline: cached`); `kept`, the last kept value, for a record without a judgement (a hand-written ledger).
   */
  parentSource: 'paired' | 'cached' | 'kept' | null;
  /** candidate − parent, and relative to |parent|; null without both. */
  delta: number | null;
  deltaRelative: number | null;
  /** The judge's interval of the delta; null with one run per side or without a judgement. */
  interval: Judgement['interval'];
  /** The judge's verdict, null without a judgement. */
  verdict: Verdict | null;
}

/**
 * The comparison of one experiment ({@link ExperimentComparison}): from its judgement, or without one from the last kept
 * value before it (`lastKept`, null when there is none). Nothing to compare for the baseline or an unmeasured run. Pure.
 */
export function compareExperiment(record: ExperimentRecord, lastKept: number | null): ExperimentComparison {
  const none: ExperimentComparison = { parent: null, parentSource: null, delta: null, deltaRelative: null, interval: null, verdict: null };
  if (record.experiment === 0) return none;
  const j = record.judgement;
  if (j && j.verdict !== 'invalid') {
    const parent = finiteOrNull(j.baseline.mean);
    return {
      parent,
      parentSource: parent === null ? null : j.paired ? 'paired' : 'cached',
      delta: finiteOrNull(j.delta),
      deltaRelative: finiteOrNull(j.deltaRelative),
      interval: j.interval,
      verdict: j.verdict,
    };
  }
  if (j) return { ...none, verdict: j.verdict };
  const candidate = measuredValue(record);
  if (candidate === null || lastKept === null) return none;
  const delta = candidate - lastKept;
  return { ...none, parent: lastKept, parentSource: 'kept', delta, deltaRelative: lastKept === 0 ? null : delta / Math.abs(lastKept) };
}

/**
 * {@link compareExperiment} for each record, in experiment order (sorted, without mutating the caller's array): a
 * record without a judgement is compared with the best kept value before it. Pure.
 */
export function compareExperiments(run: RunRecord, experiments: readonly ExperimentRecord[]): { record: ExperimentRecord; compared: ExperimentComparison }[] {
  let lastKept: number | null = null;
  return sortExperiments(experiments).map((record) => {
    const compared = compareExperiment(record, lastKept);
    const measured = measuredValue(record);
    if (record.status === 'keep' && measured !== null && (lastKept === null || isBetter(measured, lastKept, run.metric.goal))) lastKept = measured;
    return { record, compared };
  });
}

/** The primary metric's verdict in words: better or worse beyond the noise (or `min_effect`, with one run per side), or why neither. */
function verdictWords(judgement: Judgement): string {
  const { verdict, interval } = judgement;
  if (verdict === 'improved') return interval ? 'better beyond the noise' : 'better by more than min_effect';
  if (verdict === 'regressed') return interval ? 'worse beyond the noise' : 'worse by more than min_effect';
  if (!interval) return 'smaller than min_effect';
  return interval.low <= 0 && interval.high >= 0 ? 'within the noise' : 'beyond the noise, but smaller than min_effect';
}

/** `text` without `part` and the `; ` that joined them; null when nothing is left. */
function without(text: string, part: string): string | null {
  const rest = part && text.includes(part) ? text.replace(part, '') : text;
  return rest.replace(/^(?:;\s*)+|(?:;\s*)+$/g, '').replace(/;\s*;/g, ';').trim() || null;
}

/**
 * Why an experiment went the way it did, in a few words for its line and its row: for a judged one the verdict's
 * decisive reason (`within the noise`, `better beyond the noise`, `smaller than min_effect`), then what held a better
 * candidate back (a guard that regressed and by how much, a gain beyond `suspicious_effect`) and what the loop added
 * (a stale parent, a re-measurement); for a crashed or invalid one its failure; null for the baseline. The ledger
 * keeps the judge's full sentences. Stripped of control characters (reasons quote evaluators). Pure.
 */
export function experimentWhy(record: ExperimentRecord): string | null {
  const phrases = experimentWhyPhrases(record);
  return phrases.length === 0 ? null : phrases.join(' ');
}

/**
 * {@link experimentWhy} in its phrases, each with the punctuation that joins it to the next (`better beyond the noise,`
 * `but guard heap_mb regressed by +44.1%`), so that a line can be wrapped between them; none for the baseline.
 */
export function experimentWhyPhrases(record: ExperimentRecord): string[] {
  const j = record.judgement;
  if (!j || j.verdict === 'invalid') {
    const reason = record.reason ?? j?.reasons[0] ?? null;
    return reason === null ? [] : [stripControl(reason)];
  }
  const phrases = [verdictWords(j)];
  const blockers = j.guards.filter((guard) => !guard.held).map((guard) => `guard ${guard.name} regressed by ${formatPercent(guard.regression)}`);
  if (j.suspicious && record.status === 'keep') phrases.push('beyond suspicious_effect, kept with --accept-suspicious');
  else if (j.suspicious) blockers.unshift(j.reasons.find((reason) => reason.includes('suspicious_effect')) ?? 'gain beyond suspicious_effect: a human must look');
  if (blockers.length > 0 && j.verdict === 'improved') phrases.push(`but ${blockers.shift()!}`);
  phrases.push(...blockers);
  // What the record says beyond the judge's sentences: a stale parent, a re-measurement on the run head.
  const added = record.reason ? without(record.reason, j.reasons.join('; ')) : null;
  if (added && !j.reasons.includes(added)) phrases.push(added);
  return phrases.map((phrase, i) => stripControl(i === phrases.length - 1 ? phrase : `${phrase}${phrases[i + 1]!.startsWith('but ') ? ',' : ';'}`));
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
 * autoresearch's `results.tsv`, one row per experiment: `experiment  commit  <metric>  <guard...>  parent  delta
 * interval  status  verdict  why  description`. `parent` is the parent's value as measured in the experiment and
 * `delta` the candidate's change against it (see {@link compareExperiment}), `interval` the judge's interval of that
 * delta, `why` {@link experimentWhy}. The commit is the kept commit when there is one, else the measured candidate;
 * what was not measured or judged is an empty cell.
 */
export function renderResultsTsv(run: RunRecord, experiments: readonly ExperimentRecord[]): string {
  const header = ['experiment', 'commit', run.metric.name, ...run.guards, 'parent', 'delta', 'interval', 'status', 'verdict', 'why', 'description'];
  const rows = compareExperiments(run, experiments).map(({ record, compared }) => {
    const judged = compared.verdict !== null && compared.verdict !== 'invalid';
    return [
      String(record.experiment),
      shortSha(record.keptCommit ?? record.candidateCommit),
      tsvNumber(measuredValue(record)),
      ...run.guards.map((guard) => tsvNumber(record.guards[guard])),
      tsvNumber(compared.parent),
      tsvNumber(compared.delta),
      judged ? formatInterval(compared.interval, { numbers: 'text', method: false }) : '',
      record.status,
      compared.verdict ?? '',
      tsvText(experimentWhy(record) ?? ''),
      tsvText(record.description),
    ].join('\t');
  });
  return `${[header.join('\t'), ...rows].join('\n')}\n`;
}

function statusLabel(status: ExperimentStatus): string {
  return status === 'keep' ? 'kept' : status === 'discard' ? 'discarded' : status === 'crash' ? 'crashed' : 'invalid';
}

const SINGLE_RUN_MARK = '†';
const UNPAIRED_MARK = '‡';
/** Room for a crash's reason in its row: how the command ended, the lines of stderr it quotes and its log. */
const MAX_WHY = 400;

/** Options of {@link renderMarkdownReport}. */
export interface MarkdownReportOptions {
  /** Path or URL of the progress chart, relative to where the report is read; embedded when given. */
  chartPath?: string;
  /** The run head measured against the base at the end: shown first when it confirms the current head. */
  confirmation?: ConfirmationRecord | null;
}

/**
 * The run's Markdown report: a heading naming the metric and goal, the summary (baseline → best, change,
 * counts, keep rate), the chart when given, and one table row per experiment: its value, its parent as measured in
 * that experiment, the delta between them, the judge's verdict with its interval, and why
 * ({@link compareExperiment}, {@link experimentWhy}). Verdicts from a single run per side are marked: they have no
 * noise estimate.
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

  lines.push(
    '| # | status | metric | parent in this experiment | Δ vs parent | verdict | why | description |',
    '| ---: | --- | ---: | ---: | ---: | --- | --- | --- |',
  );
  for (const { record, compared } of compareExperiments(run, sorted)) {
    const judgement = record.judgement;
    // Without a judgement (a hand-written ledger) the parent is the last kept value, as measured when it was kept.
    const parent = compared.parent === null ? '—' : `${value(compared.parent)}${compared.parentSource === 'kept' ? ' (as kept)' : ''}`;
    let verdict = record.experiment === 0 ? 'baseline' : (compared.verdict ?? '—');
    if (judgement?.singleRun && record.experiment > 0) verdict += SINGLE_RUN_MARK;
    if (judgement && !judgement.paired) verdict += UNPAIRED_MARK;
    if (compared.interval) verdict += ` (${formatRelativeInterval(compared.interval, compared.parent)})`;
    if (judgement?.suspicious) verdict += ' ⚠ suspicious';
    let metric = value(measuredValue(record));
    if (record.experiment === summary.bestExperiment) metric = `**${metric}**`;
    const why = experimentWhy(record);
    lines.push(
      `| ${record.experiment} | ${statusLabel(record.status)} | ${metric} | ${parent} | ${change(compared.delta, compared.deltaRelative)} | ${cell(verdict)} | ${why === null ? '—' : wideCell(why, MAX_WHY)} | ${cell(record.description)} |`,
    );
  }
  if (singleRuns > 0) lines.push('', `${SINGLE_RUN_MARK} single run, no noise estimate.`);
  if (unpaired > 0) lines.push('', `${UNPAIRED_MARK} ${UNPAIRED_NOTE}.`);
  return `${lines.join('\n')}\n`;
}
