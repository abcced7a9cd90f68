/**
 * The pull request the Action's `loop` mode opens for a finished run: its title and its body (summary,
 * progress chart, results table, links), with a hidden marker the bot finds it by. Pure: records in, text out.
 */
import { renderMermaidChart } from './mermaid.js';
import { runPullRequestMarker } from '../protocol/protocol.js';
import type { ConfirmationRecord, ExperimentRecord, RunRecord } from '../ledger/records.js';
import { betterWord, code, link, oneLine, plural } from './markdown.js';
import { confirmationSentence, renderMarkdownReport, summarizeRun } from './report.js';
import { GITHUB_BODY_LIMIT, truncateMarkdown } from './truncate.js';
import { formatNumber, formatPercent } from '../config/units.js';

/** Links and facts the ledger does not hold. */
export interface RunPullRequestLinks {
  /** The workflow run that ran the loop. */
  workflowRun?: string;
  /** The uploaded artifact with the ledger, results and traces. */
  artifact?: string;
  /** Why the loop stopped, e.g. the stop record's reason. */
  stopReason?: string;
  /** The run head measured against the base at the end: the title's figures when it confirms the head. */
  confirmation?: ConfirmationRecord | null;
}

/**
 * The run's pull request. Title: `autoloop: val_loss 0.0456 → 0.0141 (−69%) in 15 experiments` (or "no
 * improvement"). Body: the marker (first line, so truncation keeps it), one paragraph (baseline → best,
 * kept, discarded and invalid counts, why it stopped), the links to the workflow run and the artifact,
 * a note that the branch holds one commit per kept experiment, the Mermaid progress chart, and
 * `renderMarkdownReport`'s summary and table with its headings one level down. Truncated below GitHub's
 * body limit, pointing to the artifact.
 */
export function renderRunPullRequest(run: RunRecord, experiments: ExperimentRecord[], links: RunPullRequestLinks = {}): { title: string; body: string } {
  const { name, goal } = run.metric;
  const summary = summarizeRun(run, experiments, links.confirmation ?? null);
  const confirmed = summary.confirmation;
  const { keep, discard, crash, invalid } = summary.counts;
  const count = plural(summary.experiments, 'experiment');
  const number = (value: number) => formatNumber(value, 4);

  let headline: string;
  if (summary.baseline === null) {
    headline = `${name} baseline not measured`;
  } else if (summary.best === null || summary.improvement === null || summary.improvement === 0) {
    headline = `${name} ${number(summary.baseline)}, no improvement`;
  } else if (confirmed?.status === 'confirmed' && confirmed.base !== null && confirmed.head !== null) {
    // The confirmation measured both ends side by side: its figures, not the chain of steps, are the run's.
    const relative = confirmed.deltaRelative === null ? '' : ` (${formatPercent(confirmed.deltaRelative, 2)}, confirmed)`;
    headline = `${name} ${number(confirmed.base)} → ${number(confirmed.head)}${relative}`;
  } else {
    const relative = summary.improvementRelative === null ? '' : ` (${formatPercent(summary.improvementRelative, 2)})`;
    headline = `${name} ${number(summary.baseline)} → ${number(summary.best)}${relative}${confirmed ? ', not confirmed' : ''}`;
  }
  const title = `autoloop: ${headline} in ${count}`;

  const better = betterWord(goal);
  let paragraph: string;
  if (summary.baseline === null) {
    paragraph = `The baseline ${code(name)} (${better} is better) was not measured.`;
  } else if (summary.best === null || summary.improvement === null || summary.improvement === 0) {
    paragraph = `${code(name)} (${better} is better) stayed at its baseline ${number(summary.baseline)}: no experiment beat it.`;
  } else {
    const relative = summary.improvementRelative === null ? '' : ` (${formatPercent(summary.improvementRelative)})`;
    paragraph = `${code(name)} (${better} is better) went from ${number(summary.baseline)} to **${number(summary.best)}**${relative}, best at experiment ${summary.bestExperiment}.`;
  }
  if (confirmed) paragraph += ` ${oneLine(confirmationSentence(name, confirmed))}.`;
  paragraph += ` ${count} after the baseline: ${keep} kept, ${discard} discarded, ${crash} crashed, ${invalid} invalid.`;
  if (links.stopReason) paragraph += ` Stopped: ${oneLine(links.stopReason, Infinity)}.`.replace(/\.\.$/, '.');

  const linkParts = [
    ...(links.workflowRun ? [link('workflow run', links.workflowRun)] : []),
    ...(links.artifact ? [`${link('ledger and traces', links.artifact)} (artifact)`] : []),
  ];
  const report = renderMarkdownReport(run, experiments, { confirmation: links.confirmation ?? null }).replace(/^(#{1,5}) /gm, '#$1 ');

  const body = [
    runPullRequestMarker(run.tag),
    '',
    paragraph,
    '',
    `The branch ${code(run.branch)} holds one commit per kept experiment, each with its hypothesis and measured delta in the message; discarded and invalid experiments are only in the ledger.`,
    '',
    ...(linkParts.length ? [linkParts.join(' · '), ''] : []),
    '### Progress',
    '',
    renderMermaidChart(run, experiments),
    report,
  ].join('\n');

  const more = links.artifact ?? links.workflowRun;
  return { title, body: truncateMarkdown(body, GITHUB_BODY_LIMIT, more ? { label: 'full ledger and traces', url: more } : undefined) };
}
