/**
 * The job summary of one evaluation (`autoloop eval`, the Action's `evaluate` mode): what was measured,
 * the verdict and why, in Markdown that reads well in `$GITHUB_STEP_SUMMARY`, a comment or a check run.
 * Pure: a result document in, text out.
 */
import { UNPAIRED_NOTE } from '../judge/judge.js';
import { UNSANDBOXED_NOTE, type ResultDocument } from '../result/result.js';
import { betterWord, cell, change, code, fenced, formatInterval, link, oneLine, plainText, plural, shortSha, value } from './markdown.js';
import { runsPerSide, violationLines } from './result-words.js';
import { GITHUB_BODY_LIMIT, truncateMarkdown } from './truncate.js';
import { formatNumber } from '../config/units.js';
import { figuresOf, finite, meanOf } from '../judge/figures.js';

/** Links shown in the summary; the artifact is also where a truncated summary points. */
export interface ResultSummaryLinks {
  /** The workflow run that measured it. */
  run?: string;
  /** The uploaded artifact with the result document and the logs. */
  artifact?: string;
}

/** Bars of the per-run chart are 1 to BAR_WIDTH blocks long. */
const BAR_WIDTH = 20;
const BAR = '▇';

/** Emoji-free status words, read by people scanning a list of job summaries. */
const STATUS_WORDS: Record<ResultDocument['status'], string> = { keep: 'KEEP', discard: 'DISCARD', crash: 'CRASH', invalid: 'INVALID' };

/**
 * A text chart of the primary metric per run: one bar per valid run, 1 to BAR_WIDTH blocks between the
 * smallest and the largest value, and the failed runs with their reason. Job summaries cannot embed an
 * image from the runner, and a monospace block reads the same everywhere.
 */
function renderRunChart(doc: ResultDocument): string | null {
  const name = doc.metric.name;
  const rows: { label: string; value: number | null; note?: string }[] = [];
  if (doc.runs.length > 0) {
    for (const side of ['baseline', 'candidate'] as const) {
      for (const run of doc.runs.filter((r) => r.side === side).sort((a, b) => a.index - b.index)) {
        const why = run.reason ?? (run.timedOut ? 'timed out' : `exit code ${run.exitCode ?? run.signal}`);
        rows.push({
          label: `${side} ${run.index + 1}`,
          value: run.ok ? finite(run.metrics[name]) : null,
          note: run.ok ? undefined : `failed: ${plainText(why).replace(/\s+/g, ' ').trim()}`,
        });
      }
    }
  }
  // A cached baseline has no runs in this job: its samples still belong in the chart.
  for (const side of ['baseline', 'candidate'] as const) {
    if (rows.some((row) => row.label.startsWith(side))) continue;
    const cached = side === 'baseline' && doc.baseline === 'cached' ? ' (cached)' : '';
    (doc.samples[side][name] ?? []).forEach((sample, index) => rows.push({ label: `${side} ${index + 1}${cached}`, value: finite(sample) }));
  }
  if (rows.length === 0) return null;
  const values = rows.map((row) => row.value).filter((v): v is number => v !== null);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const labelWidth = Math.max(...rows.map((row) => row.label.length));
  const lines = rows.map((row) => {
    const label = row.label.padEnd(labelWidth);
    if (row.value === null) return `${label}  ${row.note ?? 'no value'}`;
    const length = high === low ? BAR_WIDTH : 1 + Math.round(((row.value - low) / (high - low)) * (BAR_WIDTH - 1));
    return `${label}  ${BAR.repeat(length).padEnd(BAR_WIDTH)}  ${value(row.value)}`;
  });
  return fenced(lines.join('\n'), 'text');
}

function renderMachine(doc: ResultDocument): string {
  const env = doc.environment;
  const rows: [string, string][] = [
    ['OS', `${env.os} ${env.release} (${env.arch})`],
    ['CPU', `${env.cpuModel} × ${env.cpuCount}`],
    ['memory', `${formatNumber(env.memoryBytes / 2 ** 30, 3)} GiB`],
    ['Node.js', env.node],
    ['autoloop', env.autoloop],
    ['config', `${doc.configFile} (sha256 ${doc.configHash.slice(0, 12)})`],
    ['protected files', `sha256 ${doc.protectedHash.slice(0, 12)}`],
    ['measured at', doc.createdAt],
  ];
  return [
    '<details><summary>Machine fingerprint</summary>',
    '',
    '| | |',
    '| --- | --- |',
    ...rows.map(([key, text]) => `| ${key} | ${cell(text)} |`),
    '',
    'Results from different machines are never compared.',
    '',
    '</details>',
  ].join('\n');
}

/**
 * Markdown for the job summary of one evaluation: a heading with the verdict and a status word (KEEP,
 * DISCARD, CRASH, INVALID), the base and head commits, a table of baseline, candidate and delta for
 * the metric with its interval (or SINGLE_RUN_NOTE), one row per guard (held or regressed) and the
 * runs per side (paired, or UNPAIRED_NOTE); the judge's reasons, the reason of an invalid result and the
 * scope violations; a text bar chart of the metric per run; the machine fingerprint, collapsed; the
 * links when given. Truncated below GitHub's body limit, pointing to the artifact.
 */
export function renderResultSummary(doc: ResultDocument, links: ResultSummaryLinks = {}): string {
  const { name, goal } = doc.metric;
  const view = figuresOf(doc, undefined);
  const lines: string[] = [`## autoloop: ${doc.verdict} (${STATUS_WORDS[doc.status]})`, ''];

  const better = betterWord(goal);
  lines.push(`${code(name)} (${better} is better), head ${code(shortSha(doc.head))} against base ${code(shortSha(doc.base))}${doc.repo ? ` in ${cell(doc.repo)}` : ''}.`, '');
  const linkParts = [
    ...(links.run ? [link('workflow run', links.run)] : []),
    ...(links.artifact ? [link('result and logs', links.artifact)] : []),
  ];
  if (linkParts.length) lines.push(linkParts.join(' · '), '');
  if (view.suspicious) lines.push('**Suspicious:** the gain is beyond `suspicious_effect`; a human must look before it is kept.', '');
  if (doc.sandbox === 'none') lines.push(`**Unsandboxed:** ${UNSANDBOXED_NOTE}.`, '');

  lines.push(
    '| | baseline | candidate | delta |',
    '| --- | ---: | ---: | ---: |',
    `| **${cell(name)}** (mean) | ${value(view.baseline)} | ${value(view.candidate)} | ${change(view.delta, view.deltaRelative)} |`,
    `| interval | | | ${cell(formatInterval(view.interval))} |`,
  );
  for (const guard of doc.guards) {
    const judged = view.guards.get(guard.name);
    const baseline = judged?.baseline ?? meanOf(doc.samples.baseline[guard.name]);
    const candidate = judged?.candidate ?? meanOf(doc.samples.candidate[guard.name]);
    const delta = baseline !== null && candidate !== null ? candidate - baseline : null;
    const relative = delta !== null && baseline !== null && baseline !== 0 ? delta / Math.abs(baseline) : null;
    const state = judged ? (judged.held ? 'held' : 'regressed') : 'not judged';
    lines.push(`| ${cell(guard.name)} (guard, ${guard.goal}) | ${value(baseline)} | ${value(candidate)} | ${change(delta, relative)}, ${state} |`);
  }
  lines.push(`| runs (${doc.repeats} per side) | ${runsPerSide(doc, 'baseline')} | ${runsPerSide(doc, 'candidate')} | ${view.paired ? 'paired' : cell(UNPAIRED_NOTE)} |`, '');

  if (doc.reason) lines.push(`**Reason:** ${oneLine(doc.reason, Infinity)}`, '');
  if (view.reasons.length) lines.push(`**Why:** ${view.reasons.map((reason) => oneLine(reason, Infinity)).join('; ')}.`, '');
  if (doc.scopeViolations.length) {
    lines.push(`**Out of scope:** ${plural(doc.scopeViolations.length, 'path')} the proposal may not change:`, '', ...violationLines(doc.scopeViolations), '');
  }

  const chart = renderRunChart(doc);
  if (chart) lines.push(`**${cell(name)} per run** (${better} is better)`, '', chart, '');
  lines.push(renderMachine(doc), '');

  const more = links.artifact ?? links.run;
  return truncateMarkdown(lines.join('\n'), GITHUB_BODY_LIMIT, more ? { label: 'full result', url: more } : undefined);
}
