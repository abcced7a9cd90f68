/**
 * The one status comment of an App run on its issue, found again by STATUS_MARKER, and the `/optimize status` reply.
 * Pure: run state in, Markdown out.
 */
import { inFlight, type AppRunState } from '../app/state.js';
import { STATUS_MARKER } from '../protocol/protocol.js';
import { bestSentence, confirmationSentence } from './app-words.js';
import { code, link, oneLine, plural } from './markdown.js';

function statusWord(state: AppRunState): string {
  if (state.status === 'running') return 'running';
  if (state.status === 'stopping') return `stopping${state.stopReason ? ` (${oneLine(state.stopReason, 200)})` : ''}`;
  return `finished (${oneLine(state.stopReason ?? 'done', 200)})`;
}

function capitalized(sentence: string): string {
  return `${sentence[0]!.toUpperCase()}${sentence.slice(1)}`;
}

function runPullRequestLine(state: AppRunState, runPullRequestUrl: string | null): string {
  return runPullRequestUrl
    ? `Progress, every experiment and its evidence: ${link(state.pullRequest ? `run pull request #${state.pullRequest}` : 'run pull request', runPullRequestUrl)}.`
    : 'The run pull request is being opened.';
}

/**
 * Where the run stands now: the state, the experiments done against the budget, the best so far against the baseline,
 * the confirmation of the run against the base branch once CI measured it, and the run pull request. What
 * `/optimize status` answers (no marker), and what the status comment says once the run is finished.
 */
export function renderRunStatus(state: AppRunState, runPullRequestUrl: string | null): string {
  const { name, goal } = state.metric;
  const busy = inFlight(state);
  const done = state.experiments.length - busy;
  const best = bestSentence(state);
  const confirmed = confirmationSentence(state);
  const lines = [
    `**autoloop is ${statusWord(state)}.** ${capitalized(goal)} ${code(name)}: ${done} of ${plural(state.budget.experiments, 'experiment')} done${busy ? `, ${busy} in flight` : ''}.`,
    '',
    best ? `${capitalized(best)}.` : 'No measurement yet.',
    '',
    ...(confirmed ? [`Against ${code(state.baseBranch)}, as CI measured the run: ${confirmed}.`, ''] : []),
    runPullRequestLine(state, runPullRequestUrl),
  ];
  if (state.status !== 'finished') lines.push('', 'Comment `/optimize stop` to stop after the experiments in flight.');
  return `${lines.join('\n')}\n`;
}

/**
 * The one status comment on the issue, found again by STATUS_MARKER (its first line). While the run goes on it says
 * what changes only at a step of the run (running, stopping and why) and points to the run pull request, whose
 * dashboard shows every experiment as it is decided: so deciding an experiment does not rewrite it. Once finished it
 * is {@link renderRunStatus}: the experiments done, the best so far and the confirmation against the base branch.
 */
export function renderStatusComment(state: AppRunState, runPullRequestUrl: string | null): string {
  if (state.status === 'finished') return `${STATUS_MARKER}\n${renderRunStatus(state, runPullRequestUrl)}`;
  const { name, goal } = state.metric;
  const lines = [
    STATUS_MARKER,
    `**autoloop is ${statusWord(state)}.** ${capitalized(goal)} ${code(name)}, ${plural(state.budget.experiments, 'experiment')} at most, ${state.budget.parallel} at a time.`,
    '',
    runPullRequestLine(state, runPullRequestUrl),
    '',
    state.status === 'running'
      ? 'Comment `/optimize status` for the experiments done and the best so far, or `/optimize stop` to stop after the experiments in flight.'
      : 'Comment `/optimize status` for the experiments done and the best so far: the run finishes when those in flight are decided.',
  ];
  return `${lines.join('\n')}\n`;
}
