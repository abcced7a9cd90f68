/**
 * What the App writes on GitHub, as pure functions of its run state and the results it verified: the
 * run pull request's dashboard, the status comment on the issue, the sticky comment on each experiment
 * pull request, the `autoloop/gate` check run and the polite refusals.
 *
 * Text that people or proposers wrote (the goal, hypotheses, reasons, paths) is data: it is escaped so
 * that it cannot break a table, open HTML, ping anyone with an @mention, or forge a hidden marker.
 */
import { encodeState, StateError } from '../app/state-codec.js';
import { bestExperiment, bestValue, inFlight, isInFlight, runBaseline, type AppExperiment, type AppRunState } from '../app/state.js';
import type { Goal } from '../config/config-schema.js';
import { CONFIG_HINT, formatConfigIssue, type ConfigIssue } from '../config/config.js';
import { decideExperiment } from '../judge/decision.js';
import { SINGLE_RUN_NOTE, UNPAIRED_NOTE } from '../judge/judge.js';
import { renderMermaidSeries, type MermaidPoint } from './mermaid.js';
import { figuresOf, finite } from '../judge/figures.js';
import type { Judgement, ScopeViolation } from '../ledger/records.js';
import { cell, markdownUrl, shortSha, signed } from './report.js';
import type { ResultDocument } from '../result/result.js';
import { GITHUB_BODY_LIMIT, truncateMarkdown } from './truncate.js';
import { formatNumber, formatPercent } from '../config/units.js';
import { stripControl } from './text.js';
import { EXPERIMENT_MARKER, STATUS_MARKER } from '../protocol/protocol.js';

/**
 * The dashboard's default size limit: room is left under GITHUB_BODY_LIMIT for the state marker the App
 * appends. A large state needs more: {@link renderRunPullRequestBody} sizes the room to the marker.
 */
export const DASHBOARD_LIMIT = GITHUB_BODY_LIMIT - 4_000;
/** The least room the dashboard keeps next to the state marker; a state bigger than the rest cannot be stored. */
export const MIN_DASHBOARD_ROOM = 4_000;

// ---------------------------------------------------------------------------------------------------
// Escaping

/** Removes HTML comment delimiters until none is left (removing one can join the halves of another). */
function stripCommentDelimiters(text: string): string {
  let previous: string;
  do {
    previous = text;
    text = text.replace(/<!--|-->/g, '');
  } while (text !== previous);
  return text;
}

/**
 * Text people or proposers wrote, made inert for Markdown: no HTML comment delimiters (so no forged
 * marker), `<` as an entity (so no HTML tag, comment or autolink can start), and a zero-width space after
 * every `@` (so no @mention pings anyone). Line breaks are kept. `&` and `>` stay: an entity a user writes
 * decodes to text, never to markup, and leaving them keeps commands such as `a && b > log` readable in
 * code spans, where entities would show literally.
 */
export function neutralize(text: string): string {
  return stripCommentDelimiters(stripControl(text)).replace(/</g, '&lt;').replace(/@/g, '@\u200b');
}

/** User text for a Markdown table cell: one line, at most 120 characters, pipes escaped, then neutralised. */
function safeCell(text: string): string {
  return neutralize(cell(text));
}

/** User text on one line, at most `max` characters, neutralised. */
function safeLine(text: string, max = 500): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return neutralize(line.length > max ? `${line.slice(0, max - 1)}…` : line);
}

/** User text as a blockquote, at most `max` characters; empty lines stay inside the quote. */
function quote(text: string, max = 2_000): string {
  const trimmed = text.trim();
  const short = trimmed.length > max ? `${trimmed.slice(0, max - 1)}…` : trimmed;
  return neutralize(short)
    .split(/\r?\n/)
    .map((line) => (line.trim() ? `> ${line}` : '>'))
    .join('\n');
}

/** Inline code: entities would show literally there, so only comment delimiters go; backticks get a longer fence. */
function code(text: string): string {
  const line = stripCommentDelimiters(text).replace(/\s+/g, ' ');
  const longest = Math.max(0, ...(line.match(/`+/g) ?? []).map((run) => run.length));
  if (longest === 0) return `\`${line}\``;
  const fence = '`'.repeat(longest + 1);
  return `${fence} ${line} ${fence}`;
}

/** A fenced block whose fence is longer than any backtick run inside it. */
function fenced(content: string, info = ''): string {
  const longest = Math.max(2, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${info}\n${stripCommentDelimiters(content)}\n${fence}`;
}

/** A Markdown link; the URL is percent-encoded where it could end the link or a table cell. */
function link(label: string, url: string): string {
  return `[${label}](${markdownUrl(url).replace(/\|/g, '%7C')})`;
}

// ---------------------------------------------------------------------------------------------------
// Numbers

function value(number: number | null | undefined): string {
  const n = finite(number);
  return n === null ? '—' : formatNumber(n, 6);
}

/** `−0.1 (−20%)`, or `−0.1` without a relative change, or `—`. */
function change(delta: number | null | undefined, relative: number | null | undefined): string {
  const d = finite(delta);
  if (d === null) return '—';
  const r = finite(relative);
  return r === null ? signed(d) : `${signed(d)} (${formatPercent(r)})`;
}

function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

function betterWord(goal: Goal): string {
  return goal === 'minimize' ? 'lower' : 'higher';
}

// ---------------------------------------------------------------------------------------------------
// The run pull request: the dashboard

/** Words for where an experiment stands; in-flight ones end with an ellipsis. */
const STATE_WORDS: Record<AppExperiment['state'], string> = {
  proposing: 'proposing…',
  evaluating: 'evaluating…',
  kept: 'kept',
  discarded: 'discarded',
  invalid: 'invalid',
  'needs-review': 'needs review',
};

/** Links the run state does not hold. */
export interface DashboardLinks {
  /** The issue or pull request where `/optimize` was asked. */
  issue?: string;
  /** The repository's autoloop workflow runs: every proposal and evaluation; where a truncated dashboard points. */
  workflowRuns?: string;
}

/** Options of {@link renderDashboard}. */
export interface DashboardOptions {
  /** One line per config setting worth showing (e.g. `evaluate: node eval.js, 3 repeats, 5m timeout`). */
  configSummary: string[];
  links?: DashboardLinks;
  /** Size limit of the dashboard; DASHBOARD_LIMIT by default. */
  limit?: number;
}

/** The run's status in one sentence, without the final period. */
function statusSentence(state: AppRunState): string {
  const busy = inFlight(state);
  if (state.status === 'finished') return `finished: ${safeLine(state.stopReason ?? 'done')}`;
  if (state.status === 'stopping') {
    const reason = state.stopReason ? `: ${safeLine(state.stopReason)}` : '';
    return `stopping${reason}; waiting for ${plural(busy, 'experiment')} in flight`;
  }
  return `running: ${state.experiments.length} of ${plural(state.budget.experiments, 'experiment')} dispatched, ${busy} in flight (parallel ${state.budget.parallel})`;
}

/** Best so far against the baseline, in one sentence without the final period; null before any measurement. */
function bestSentence(state: AppRunState): string | null {
  const baseline = runBaseline(state);
  const best = bestValue(state);
  const bestK = bestExperiment(state)?.k;
  if (baseline === null) {
    return best === null ? null : `best so far **${value(best)}** (experiment ${bestK}); the baseline was not measured`;
  }
  if (best === null || bestK === undefined || best === baseline) return `baseline ${value(baseline)}, no experiment kept yet`;
  const delta = best - baseline;
  return `best so far **${value(best)}** (experiment ${bestK}) against the baseline ${value(baseline)}: ${change(delta, baseline === 0 ? null : delta / Math.abs(baseline))}`;
}

/** `kept (improved)`, `discarded (no-change)`, `invalid`, `evaluating…`. */
function verdictWord(experiment: AppExperiment): string {
  const word = STATE_WORDS[experiment.state];
  if (isInFlight(experiment) || !experiment.verdict || experiment.verdict === experiment.state) return word;
  return `${word} (${experiment.verdict})`;
}

function experimentRow(experiment: AppExperiment, best: number | undefined): string {
  let hypothesis = experiment.hypothesis ? safeCell(experiment.hypothesis) : '—';
  if (experiment.reason && experiment.state !== 'kept') hypothesis += ` — ${safeCell(experiment.reason)}`;
  let metric = value(experiment.candidate);
  if (experiment.k === best && metric !== '—') metric = `**${metric}**`;
  const links = [
    ...(experiment.pullRequest ? [`#${experiment.pullRequest}`] : []),
    ...(experiment.proposalRun ? [link('proposal', experiment.proposalRun)] : []),
    ...(experiment.evaluationRun ? [link('evaluation', experiment.evaluationRun)] : []),
    ...(experiment.artifact ? [link('artifact', experiment.artifact)] : []),
  ];
  return `| ${experiment.k} | ${hypothesis} | ${metric} | ${change(experiment.delta, experiment.deltaRelative)} | ${verdictWord(experiment)} | ${links.join(' · ') || '—'} |`;
}

/**
 * The chart's points: the baseline as experiment 0 when measured, then every decided experiment with its
 * candidate value (none for invalid ones) and the best kept value so far.
 */
function chartPoints(state: AppRunState, sorted: readonly AppExperiment[]): MermaidPoint[] {
  const baseline = runBaseline(state);
  const points: MermaidPoint[] = baseline === null ? [] : [{ x: 0, value: baseline, best: baseline }];
  let best = baseline;
  for (const experiment of sorted.filter((e) => !isInFlight(e))) {
    const candidate = experiment.state === 'invalid' ? null : finite(experiment.candidate);
    if (experiment.state === 'kept' && candidate !== null && (best === null || (state.metric.goal === 'minimize' ? candidate < best : candidate > best))) {
      best = candidate;
    }
    points.push({ x: experiment.k, value: candidate, best });
  }
  return points;
}

/**
 * The run pull request's body, without the state marker (the App appends {@link encodeState} after it):
 * a heading with the goal and the metric; the status (running, stopping, or finished and why), the best
 * so far against the baseline and the counts; who started it from where; the goal text quoted as data;
 * the config summary; a Mermaid chart of the metric per experiment with the running best; and one table
 * row per experiment (hypothesis, metric, Δ vs parent, verdict or `proposing…`/`evaluating…`, links).
 * Truncated to `options.limit` (DASHBOARD_LIMIT).
 */
export function renderDashboard(state: AppRunState, options: DashboardOptions): string {
  const { name, goal } = state.metric;
  const links = options.links ?? {};
  const sorted = [...state.experiments].sort((a, b) => a.k - b.k);
  const count = (s: AppExperiment['state']) => state.experiments.filter((e) => e.state === s).length;
  const decided = state.experiments.length - inFlight(state);

  const lines: string[] = [`## autoloop: ${goal} ${code(name)}`, ''];
  lines.push(`**Status:** ${statusSentence(state)}.`, '');
  const best = bestSentence(state);
  lines.push(`**Results:** ${best ? `${best}. ` : ''}${plural(decided, 'experiment')} decided: ${count('kept')} kept, ${count('discarded')} discarded, ${count('invalid')} invalid, ${count('needs-review')} waiting for review.`, '');
  const issue = links.issue ? link(`#${state.issue}`, links.issue) : `#${state.issue}`;
  lines.push(
    `Started by ${safeLine(state.startedBy, 100)} on ${issue} at ${safeLine(state.startedAt, 40)}, from ${code(state.baseBranch)} at ${code(shortSha(state.baseSha))}. ` +
      `Each experiment is a pull request into ${code(state.runBranch)}, measured against its parent; kept ones are merged there, and this pull request brings them to ${code(state.baseBranch)} after a human review.`,
    '',
  );
  if (links.workflowRuns) lines.push(`Every proposal and evaluation: ${link('autoloop workflow runs', links.workflowRuns)}.`, '');

  lines.push('### Goal', '', state.goalText.trim() ? quote(state.goalText) : `_No goal text: ${goal} ${code(name)} as configured._`, '');
  if (options.configSummary.length) lines.push('### Config', '', ...options.configSummary.map((line) => `- ${safeLine(line)}`), '');

  lines.push('### Progress', '');
  lines.push(renderMermaidSeries({ title: `autoloop #${state.issue}: ${name}`, name, goal, points: chartPoints(state, sorted) }));

  lines.push('### Experiments', '');
  if (sorted.length === 0) {
    lines.push('_No experiment dispatched yet._', '');
  } else {
    const bestK = bestExperiment(state)?.k;
    lines.push('| k | hypothesis | metric | Δ vs parent | verdict | links |', '| ---: | --- | ---: | ---: | --- | --- |');
    for (const experiment of sorted) lines.push(experimentRow(experiment, bestK));
    lines.push('');
  }
  const limit = options.limit ?? DASHBOARD_LIMIT;
  const more = links.workflowRuns ? { label: 'all autoloop workflow runs', url: links.workflowRuns } : undefined;
  return truncateMarkdown(lines.join('\n'), limit, more);
}

/**
 * The whole run pull request body: {@link renderDashboard} truncated to leave room for the state marker,
 * then the marker on the last line. Throws {@link StateError} when the state alone leaves less than
 * MIN_DASHBOARD_ROOM characters (a run of several hundred experiments).
 */
export function renderRunPullRequestBody(state: AppRunState, options: Omit<DashboardOptions, 'limit'>): string {
  const marker = encodeState(state);
  const room = GITHUB_BODY_LIMIT - marker.length - 2;
  if (room < MIN_DASHBOARD_ROOM) {
    throw new StateError(`the state of run #${state.issue} (${plural(state.experiments.length, 'experiment')}) takes ${marker.length.toLocaleString('en-US')} characters: too large for a pull request body`);
  }
  const dashboard = renderDashboard(state, { ...options, limit: Math.min(DASHBOARD_LIMIT, room) });
  return `${dashboard.replace(/\n*$/, '\n')}\n${marker}\n`;
}

// ---------------------------------------------------------------------------------------------------
// The status comment on the issue

/**
 * The one status comment on the issue, found again by STATUS_MARKER (its first line): the state, the
 * experiments done against the budget, the best so far against the baseline, and the run pull request.
 */
export function renderStatusComment(state: AppRunState, runPullRequestUrl: string | null): string {
  const { name, goal } = state.metric;
  const busy = inFlight(state);
  const done = state.experiments.length - busy;
  const word =
    state.status === 'running' ? 'running' : state.status === 'stopping' ? `stopping${state.stopReason ? ` (${safeLine(state.stopReason, 200)})` : ''}` : `finished (${safeLine(state.stopReason ?? 'done', 200)})`;
  const best = bestSentence(state);
  const lines = [
    STATUS_MARKER,
    `**autoloop is ${word}.** ${goal[0]!.toUpperCase()}${goal.slice(1)} ${code(name)}: ${done} of ${plural(state.budget.experiments, 'experiment')} done${busy ? `, ${busy} in flight` : ''}.`,
    '',
    best ? `${best[0]!.toUpperCase()}${best.slice(1)}.` : 'No measurement yet.',
    '',
    runPullRequestUrl
      ? `Progress, every experiment and its evidence: ${link(state.pullRequest ? `run pull request #${state.pullRequest}` : 'run pull request', runPullRequestUrl)}.`
      : 'The run pull request is being opened.',
  ];
  if (state.status !== 'finished') lines.push('', 'Comment `/optimize stop` to stop after the experiments in flight.');
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------
// The sticky comment on an experiment pull request

/** Links of one experiment's evidence. */
export interface ExperimentLinks {
  /** The workflow run that proposed the change, with its trace. */
  proposalRun?: string;
  /** The workflow run that evaluated the pull request. */
  evaluationRun?: string;
  /** The uploaded result and logs of the evaluation. */
  artifact?: string;
}

/** What {@link renderExperimentComment} shows. */
export interface ExperimentCommentInput {
  state: AppRunState;
  experiment: AppExperiment;
  /** The verified result document; null when none could be read. */
  document: ResultDocument | null;
  /** The App's own judgement, re-judged from the document's raw samples; preferred over the document's. */
  judgement?: Judgement;
  /** Shown instead of the verdict, e.g. `verification failed: head moved after evaluation`. */
  verdictOverride?: string;
  links: ExperimentLinks;
}

/** What the App did with the experiment, in one sentence without the final period. */
function actionSentence(state: AppRunState, experiment: AppExperiment): string {
  switch (experiment.state) {
    case 'kept':
      return `kept: merged into ${code(state.runBranch)}; the next experiments start from it`;
    case 'discarded':
      return `discarded: closed without merging; ${code(state.runBranch)} is unchanged`;
    case 'invalid':
      return `not kept (invalid): closed without merging; ${code(state.runBranch)} is unchanged`;
    case 'needs-review':
      return `needs review: left open for a human to merge into ${code(state.runBranch)} or close`;
    case 'proposing':
    case 'evaluating':
      return `nothing yet: ${STATE_WORDS[experiment.state]}`;
  }
}

/** The document's valid runs per side: `3 of 3 valid`, or `3 valid (cached)` for a baseline measured elsewhere. */
function runsOf(document: ResultDocument, side: 'baseline' | 'candidate'): string {
  const valid = document.samples[side][document.metric.name]?.length ?? 0;
  const total = document.runs.filter((run) => run.side === side).length;
  if (total === 0) return side === 'baseline' && document.baseline === 'cached' ? `${valid} valid (cached)` : `${valid} valid`;
  return `${valid} of ${total} valid`;
}

function violationLines(violations: readonly ScopeViolation[]): string[] {
  return violations.map((v) => `- ${code(v.path)} (${v.change}): ${v.rule === 'protected' ? `protected by ${code(v.pattern)}` : 'outside `scope.edit`'}`);
}

/**
 * The sticky comment on experiment k's pull request, found again by EXPERIMENT_MARKER (its first line): the
 * hypothesis quoted; a table of baseline, candidate and delta (with percent), the interval or "single run,
 * no noise estimate", each guard (held or regressed) and the runs per side (paired or unpaired); the verdict
 * and why; the scope violations; what the App did (kept, discarded, needs review); and the links to the
 * proposal trace, the evaluation run and its artifact. Truncated below GitHub's limit, pointing to the artifact.
 */
export function renderExperimentComment(input: ExperimentCommentInput): string {
  const { state, experiment, document, links } = input;
  const { name, goal } = state.metric;
  const figures = figuresOf(document, input.judgement);
  const lines: string[] = [
    EXPERIMENT_MARKER,
    `### autoloop experiment ${experiment.k} of ${state.budget.experiments}: ${STATE_WORDS[experiment.state]}`,
    '',
  ];
  if (experiment.hypothesis?.trim()) lines.push(quote(experiment.hypothesis), '');

  const baseline = figures.baseline ?? finite(experiment.baseline);
  const candidate = figures.candidate ?? finite(experiment.candidate);
  const delta = figures.delta ?? finite(experiment.delta);
  const relative = figures.deltaRelative ?? finite(experiment.deltaRelative);
  const against = document ? `, head ${code(shortSha(document.head))} against base ${code(shortSha(document.base))}` : '';
  lines.push(`${code(name)} (${betterWord(goal)} is better)${against}.`, '');

  const interval = figures.interval
    ? `${formatNumber(figures.interval.level * 100, 3)}% [${signed(figures.interval.low)}, ${signed(figures.interval.high)}]${figures.interval.method ? ` (${figures.interval.method})` : ''}`
    : SINGLE_RUN_NOTE;
  lines.push(
    '| | baseline | candidate | delta |',
    '| --- | ---: | ---: | ---: |',
    `| **${safeCell(name)}** (mean) | ${value(baseline)} | ${value(candidate)} | ${change(delta, relative)} |`,
    `| interval | | | ${safeCell(interval)} |`,
  );
  for (const guard of document?.guards ?? []) {
    const judged = figures.guards.get(guard.name);
    const gd = judged ? judged.candidate - judged.baseline : null;
    const gr = judged && gd !== null && judged.baseline !== 0 ? gd / Math.abs(judged.baseline) : null;
    const held = judged ? (judged.held ? 'held' : 'regressed') : 'not judged';
    lines.push(`| ${safeCell(guard.name)} (guard, ${guard.goal}) | ${value(judged?.baseline)} | ${value(judged?.candidate)} | ${change(gd, gr)}, ${held} |`);
  }
  if (document) {
    lines.push(`| runs (${document.repeats} per side) | ${runsOf(document, 'baseline')} | ${runsOf(document, 'candidate')} | ${figures.paired ? 'paired' : safeCell(UNPAIRED_NOTE)} |`);
  }
  lines.push('');

  const verdict = input.verdictOverride ?? experiment.verdict ?? figures.verdict ?? 'not judged';
  const notes = [
    ...(figures.singleRun && !input.verdictOverride ? [SINGLE_RUN_NOTE] : []),
    ...(figures.suspicious ? ['suspicious: the gain is beyond `suspicious_effect`, a human must look'] : []),
  ];
  lines.push(`**Verdict:** ${safeLine(verdict, 300)}${notes.length ? ` (${notes.join('; ')})` : ''}.`, '');
  const reasons = [...figures.reasons, ...(document?.reason ? [document.reason] : []), ...(experiment.reason ? [experiment.reason] : [])];
  const unique = [...new Set(reasons.map((reason) => safeLine(reason, 300)))];
  if (unique.length) lines.push(`**Why:** ${unique.join('; ')}.`, '');
  if (document?.scopeViolations.length) {
    lines.push(`**Out of scope:** ${plural(document.scopeViolations.length, 'path')} the proposal may not change:`, '', ...violationLines(document.scopeViolations), '');
  }
  lines.push(`**What autoloop did:** ${actionSentence(state, experiment)}.`, '');

  const linkParts = [
    ...(links.proposalRun ? [link('proposal trace', links.proposalRun)] : []),
    ...(links.evaluationRun ? [link('evaluation run', links.evaluationRun)] : []),
    ...(links.artifact ? [link('result and logs', links.artifact)] : []),
  ];
  if (linkParts.length) lines.push(linkParts.join(' · '), '');
  const more = links.artifact ?? links.evaluationRun;
  return truncateMarkdown(lines.join('\n'), GITHUB_BODY_LIMIT, more ? { label: 'full result', url: more } : undefined);
}

// ---------------------------------------------------------------------------------------------------
// The gate check run

/** What {@link renderGateOutput} decides from. */
export interface GateInput {
  /** The verified result document; null when none could be read. */
  document: ResultDocument | null;
  /** The App's own judgement, re-judged from the document's raw samples; preferred over the document's. */
  judgement?: Judgement;
  /** The App's own scope check of the pull request's changes; the document's violations when absent. */
  scopeViolations?: readonly ScopeViolation[];
  /** Why the result cannot be trusted, in a few words: `changed after evaluation`, `base SHA does not match`. */
  verificationFailure?: string | null;
}

/** The output and conclusion of the `autoloop/gate` check run. */
export interface GateOutput {
  /** The reason in a few words, e.g. `val_loss −3.2% (improved)`. */
  title: string;
  /** Markdown: the figures and why the gate concluded so. */
  summary: string;
  conclusion: 'success' | 'failure' | 'neutral';
}

/** A check run title: one line, short, no comment delimiters (GitHub shows it as plain text). */
function title(text: string): string {
  const line = stripCommentDelimiters(text).replace(/\s+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 99)}…` : line;
}

/**
 * The `autoloop/gate` check run: `success` only for a verified improvement within scope with every guard
 * held; `neutral` for no change and for a suspicious gain a human must review; `failure` for a regression,
 * an invalid result, a regressed guard, a failed verification or a change out of scope. The title says
 * why in a few words (`val_loss −3.2% (improved)`, `out of scope: eval/run.py`, `changed after evaluation`).
 */
export function renderGateOutput(input: GateInput): GateOutput {
  const { document } = input;
  const figures = figuresOf(document, input.judgement);
  const violations = input.scopeViolations ?? document?.scopeViolations ?? [];
  const name = document?.metric.name ?? 'metric';
  const effect =
    figures.deltaRelative !== null ? formatPercent(figures.deltaRelative, 2) : figures.delta !== null ? signed(figures.delta) : 'no value';
  const failedGuards = [...figures.guards].filter(([, guard]) => !guard.held).map(([guardName]) => guardName);
  const verdict = input.judgement?.verdict ?? document?.verdict ?? 'invalid';
  const decision = decideExperiment({ verdict, suspicious: figures.suspicious, guards: [...figures.guards.values()] });

  let conclusion: GateOutput['conclusion'];
  let heading: string;
  let why: string;
  if (input.verificationFailure) {
    conclusion = 'failure';
    heading = input.verificationFailure;
    why = `The result could not be verified: ${safeLine(input.verificationFailure)}. The measurement does not vouch for this head.`;
  } else if (!document) {
    conclusion = 'failure';
    heading = 'no result to verify';
    why = 'No result document was found for this head.';
  } else if (violations.length) {
    conclusion = 'failure';
    const paths = violations.slice(0, 2).map((v) => v.path);
    heading = `out of scope: ${paths.join(', ')}${violations.length > 2 ? ` (+${violations.length - 2} more)` : ''}`;
    why = `The change touches ${plural(violations.length, 'path')} the proposal may not change.`;
  } else if (decision === 'invalid') {
    conclusion = 'failure';
    const reason = document.reason ?? figures.reasons[0];
    heading = reason ? `invalid: ${reason}` : `${name} invalid`;
    why = 'The measurement is invalid: nothing can be concluded from it.';
  } else if (verdict === 'regressed') {
    conclusion = 'failure';
    heading = `${name} ${effect} (regressed)`;
    why = `${code(name)} got worse beyond the noise.`;
  } else if (verdict === 'improved' && decision === 'discard') {
    conclusion = 'failure';
    heading = `guard ${failedGuards.join(', ')} regressed`;
    why = `${code(name)} improved, but ${plural(failedGuards.length, 'guard')} regressed past its tolerance.`;
  } else if (decision === 'review') {
    conclusion = 'neutral';
    heading = `${name} ${effect} (suspicious: needs review)`;
    why = 'The gain is beyond `suspicious_effect`: too good to be true without a human looking.';
  } else if (decision === 'keep') {
    conclusion = 'success';
    heading = `${name} ${effect} (improved)`;
    why = 'A verified improvement within scope, with every guard held.';
  } else {
    conclusion = 'neutral';
    heading = `${name} ${effect} (no change)`;
    why = 'No change beyond the noise and `min_effect`.';
  }

  const lines = [`**${conclusion}:** ${why}`, ''];
  if (document) {
    const interval = figures.interval
      ? `${formatNumber(figures.interval.level * 100, 3)}% interval [${signed(figures.interval.low)}, ${signed(figures.interval.high)}]`
      : SINGLE_RUN_NOTE;
    lines.push(
      `- ${code(name)} (${betterWord(document.metric.goal)} is better): ${value(figures.baseline)} → ${value(figures.candidate)}, ${change(figures.delta, figures.deltaRelative)}; ${interval}; ${document.repeats} per side, ${figures.paired ? 'paired' : UNPAIRED_NOTE}.`,
    );
    for (const guard of document.guards) {
      const judged = figures.guards.get(guard.name);
      lines.push(`- guard ${code(guard.name)}: ${judged ? `${value(judged.baseline)} → ${value(judged.candidate)}, ${judged.held ? 'held' : 'regressed'}` : 'not judged'}.`);
    }
    lines.push(`- head ${code(shortSha(document.head))} against base ${code(shortSha(document.base))}.`, '');
  }
  if (violations.length) lines.push('**Out of scope:**', '', ...violationLines(violations), '');
  const reasons = [...new Set([...figures.reasons, ...(document?.reason ? [document.reason] : [])].map((reason) => safeLine(reason, 300)))];
  if (reasons.length) lines.push(`**Why:** ${reasons.join('; ')}.`, '');
  return { title: title(heading), summary: truncateMarkdown(lines.join('\n'), GITHUB_BODY_LIMIT), conclusion };
}

// ---------------------------------------------------------------------------------------------------
// Refusals

/** What each refusal names. */
export interface RefusalDetails {
  /** The commenter lacks write access. */
  permission: { user: string; permission: string };
  /** The config on the default branch is missing or invalid; `issues` as {@link ConfigError} lists them. */
  config: { file: string; issues: ConfigIssue[] };
  /** A run is already active. */
  busy: { issue: number; pullRequest: number | null; url?: string };
}

/** The kinds of {@link renderRefusal}. */
export type RefusalKind = keyof RefusalDetails;

/**
 * A polite reply when the App will not start a run: no permission (naming the user's permission), an
 * invalid config (quoting each validation error as `file:line: key: message`), or a run already active
 * (naming it and how to stop it).
 */
export function renderRefusal<K extends RefusalKind>(kind: K, details: RefusalDetails[K]): string {
  switch (kind) {
    case 'permission': {
      const d = details as RefusalDetails['permission'];
      return (
        `Sorry, only people with write, maintain or admin permission on this repository can start autoloop; ` +
        `${safeLine(d.user, 100)} has ${code(d.permission)} permission. Ask a maintainer to comment \`/optimize\` instead.\n`
      );
    }
    case 'config': {
      const d = details as RefusalDetails['config'];
      const issues = d.issues.length ? d.issues.map(formatConfigIssue).join('\n') : `${d.file}: invalid`;
      return [
        `Sorry, autoloop cannot start: ${code(d.file)} on the default branch is not valid.`,
        '',
        fenced(issues, 'text'),
        '',
        `Fix it on the default branch, then comment \`/optimize\` again. ${CONFIG_HINT}`,
        '',
      ].join('\n');
    }
    case 'busy': {
      const d = details as RefusalDetails['busy'];
      const label = `run pull request #${d.pullRequest}`;
      const named = d.pullRequest ? `: ${d.url ? link(label, d.url) : label},` : ',';
      return (
        `A run is already active here${named} started on #${d.issue}. ` +
        `Wait for it to finish, or comment \`/optimize stop\` on #${d.issue} to stop it, then ask again.\n`
      );
    }
  }
  throw new Error(`unknown refusal ${String(kind)}`);
}
