/**
 * The run pull request's body, the dashboard of an App run: its status, the best so far, the goal quoted as
 * data, the config, a chart of each experiment's change against its parent and one table row per experiment,
 * with the state marker after it. Pure: run state in, Markdown out.
 */
import { encodeState, StateError } from '../app/state-codec.js';
import { bestExperiment, inFlight, isInFlight, runBaseline, type AppExperiment, type AppRunState } from '../app/state.js';
import { finite } from '../judge/figures.js';
import { bestSentence, confirmationSentence, STATE_WORDS } from './app-words.js';
import { cell, change, code, link, oneLine, plural, quote, shortSha, value } from './markdown.js';
import { renderMermaidSeries } from './mermaid.js';
import { progressPoint, type ProgressPoint } from './progress-points.js';
import { GITHUB_BODY_LIMIT, truncateMarkdown } from './truncate.js';

/**
 * The dashboard's default size limit: room is left under GITHUB_BODY_LIMIT for the state marker the App
 * appends. A large state needs more: {@link renderRunPullRequestBody} sizes the room to the marker.
 */
export const DASHBOARD_LIMIT = GITHUB_BODY_LIMIT - 4_000;
/** The least room the dashboard keeps next to the state marker; a state bigger than the rest cannot be stored. */
export const MIN_DASHBOARD_ROOM = 4_000;

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
  if (state.status === 'finished') return `finished: ${oneLine(state.stopReason ?? 'done')}`;
  if (state.status === 'stopping') {
    const reason = state.stopReason ? `: ${oneLine(state.stopReason)}` : '';
    return `stopping${reason}; waiting for ${plural(busy, 'experiment')} in flight`;
  }
  return `running: ${state.experiments.length} of ${plural(state.budget.experiments, 'experiment')} dispatched, ${busy} in flight (parallel ${state.budget.parallel})`;
}

/** `kept (improved)`, `discarded (no-change)`, `invalid`, `evaluating…`. */
function verdictWord(experiment: AppExperiment): string {
  const word = STATE_WORDS[experiment.state];
  if (isInFlight(experiment) || !experiment.verdict || experiment.verdict === experiment.state) return word;
  return `${word} (${experiment.verdict})`;
}

function experimentRow(experiment: AppExperiment, best: number | undefined): string {
  let hypothesis = experiment.hypothesis ? cell(experiment.hypothesis) : '—';
  if (experiment.reason && experiment.state !== 'kept') hypothesis += ` — ${cell(experiment.reason)}`;
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
 * The chart's points ({@link progressPoint}): the baseline as experiment 0 when measured, then every decided experiment
 * with its change against the parent measured beside it (no value for invalid ones). The state keeps no intervals.
 */
function chartPoints(state: AppRunState, sorted: readonly AppExperiment[]): ProgressPoint[] {
  const baseline = runBaseline(state);
  const points: ProgressPoint[] = baseline === null ? [] : [progressPoint({ experiment: 0, measured: true, kept: true, parent: null, deltaRelative: null, interval: null, verdict: null })];
  for (const experiment of sorted.filter((e) => !isInFlight(e))) {
    points.push(
      progressPoint({
        experiment: experiment.k,
        measured: experiment.state !== 'invalid' && finite(experiment.candidate) !== null,
        kept: experiment.state === 'kept',
        parent: finite(experiment.baseline),
        deltaRelative: finite(experiment.deltaRelative),
        interval: null,
        verdict: experiment.verdict ?? null,
      }),
    );
  }
  return points;
}

/**
 * The run pull request's body, without the state marker (the App appends {@link encodeState} after it):
 * a heading with the goal and the metric; the status (running, stopping, or finished and why); the run's result
 * against the base branch with its interval, once CI evaluated the run pull request (the headline figure); the best
 * so far against the baseline and the counts; who started it from where; the goal text quoted as data;
 * the config summary; a Mermaid chart of each experiment's change against its parent with the kept changes
 * compounded; and one table row per experiment (hypothesis, metric, Δ vs parent, verdict or `proposing…`/`evaluating…`, links).
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
  // The run's headline figure: CI's evaluation of the run head against the base branch, with its interval, once the App
  // has verified and judged it; the experiments' own figures are each against its parent.
  const confirmed = confirmationSentence(state);
  if (confirmed) lines.push(`**Result against ${code(state.baseBranch)}:** ${confirmed}.`, '');
  else if (state.status === 'finished') lines.push(`**Result against ${code(state.baseBranch)}:** waiting for CI to evaluate the run head against ${code(state.baseBranch)}.`, '');
  const best = bestSentence(state);
  lines.push(`**Results:** ${best ? `${best}. ` : ''}${plural(decided, 'experiment')} decided: ${count('kept')} kept, ${count('discarded')} discarded, ${count('invalid')} invalid, ${count('needs-review')} waiting for review.`, '');
  const issue = links.issue ? link(`#${state.issue}`, links.issue) : `#${state.issue}`;
  lines.push(
    `Started by ${oneLine(state.startedBy, 100)} on ${issue} at ${oneLine(state.startedAt, 40)}, from ${code(state.baseBranch)} at ${code(shortSha(state.baseSha))}. ` +
      `Each experiment is a pull request into ${code(state.runBranch)}, measured against its parent; kept ones are merged there, and this pull request brings them to ${code(state.baseBranch)} after a human review.`,
    '',
  );
  if (links.workflowRuns) lines.push(`Every proposal and evaluation: ${link('autoloop workflow runs', links.workflowRuns)}.`, '');

  lines.push('### Goal', '', state.goalText.trim() ? quote(state.goalText) : `_No goal text: ${goal} ${code(name)} as configured._`, '');
  if (options.configSummary.length) lines.push('### Config', '', ...options.configSummary.map((line) => `- ${oneLine(line)}`), '');

  lines.push('### Progress', '');
  lines.push(renderMermaidSeries({ name, goal, points: chartPoints(state, sorted) }));

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
