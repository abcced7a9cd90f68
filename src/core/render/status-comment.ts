/**
 * The one status comment of an App run on its issue, found again by STATUS_MARKER: the state, the experiments
 * done against the budget, the best so far and the run pull request. Pure: run state in, Markdown out.
 */
import { inFlight, type AppRunState } from '../app/state.js';
import { STATUS_MARKER } from '../protocol/protocol.js';
import { bestSentence } from './app-words.js';
import { code, link, oneLine, plural } from './markdown.js';

/**
 * The one status comment on the issue, found again by STATUS_MARKER (its first line): the state, the
 * experiments done against the budget, the best so far against the baseline, and the run pull request.
 */
export function renderStatusComment(state: AppRunState, runPullRequestUrl: string | null): string {
  const { name, goal } = state.metric;
  const busy = inFlight(state);
  const done = state.experiments.length - busy;
  const word =
    state.status === 'running' ? 'running' : state.status === 'stopping' ? `stopping${state.stopReason ? ` (${oneLine(state.stopReason, 200)})` : ''}` : `finished (${oneLine(state.stopReason ?? 'done', 200)})`;
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
