/** An App run as GitHub holds it: its config, its pull request and state, and the step that saves and advances it. */
import { finishIfDone, shouldDispatch, withNewExperiment, type AppRunState } from '../../core/app/state.js';
import { decodeState } from '../../core/app/state-codec.js';
import { renderRunPullRequestBody } from '../../core/render/dashboard.js';
import { renderStatusComment } from '../../core/render/status-comment.js';
import { proposalDispatchInputs, runBranch, STATUS_MARKER, WORKFLOW_FILE } from '../../core/protocol/protocol.js';
import { ConfigError, parseConfig } from '../../core/config/config.js';
import { CONFIG_PATH, type Config } from '../../core/config/config-schema.js';
import { configSummary } from '../../core/render/config-summary.js';
import type { PullRequestInfo, RepoGateway } from '../github.js';

/** A run's state lives in its pull request body, which bounds how long a run the App can keep. */
export const APP_MAX_EXPERIMENTS = 200;

export interface FlowLog {
  info(message: string): void;
  warn(message: string): void;
}

/** What the run logic works with: the repository's gateway, a log and a clock. */
export interface Flow {
  gateway: RepoGateway;
  log: FlowLog;
  now(): Date;
  /** The App itself (from `GET /app`), for "is the gate bound to this App"; unknown fields leave that unknown. */
  app?: { id: number | null; slug: string | null };
}

/** A `/optimize` comment, as the webhook gives it. */
export interface CommentEvent {
  issue: number;
  commentId: number;
  user: string;
  body: string;
}

/** The part of a `workflow_run` payload the App reads. */
export interface WorkflowRunEvent {
  id: number;
  path: string;
  event: string;
  conclusion: string | null;
  headBranch: string | null;
  headSha: string;
  displayTitle: string;
  htmlUrl: string;
}

/** A run as found on GitHub: its pull request, and the state in its body. */
export interface LoadedRun {
  pull: PullRequestInfo;
  state: AppRunState;
}

/** The config as committed in `sha` (a run reads it at its base commit: one request, and the same all run long). */
export async function loadConfigAt(gateway: RepoGateway, sha: string, where: string): Promise<{ config: Config; file: string }> {
  const text = await gateway.readFile(CONFIG_PATH, sha);
  if (text === null) {
    throw new ConfigError(CONFIG_PATH, [{ file: CONFIG_PATH, path: '', line: null, message: `not found on ${where}; add it there first (see autoloop's README)` }]);
  }
  return { config: parseConfig(text, CONFIG_PATH), file: CONFIG_PATH };
}

/** The config on the default branch, where a new run reads it. */
export async function loadConfig(gateway: RepoGateway): Promise<{ config: Config; file: string; branch: { name: string; sha: string } }> {
  const branch = await gateway.defaultBranch();
  return { ...(await loadConfigAt(gateway, branch.sha, branch.name)), branch };
}

/** The config a run started with. */
export function runConfig(gateway: RepoGateway, state: AppRunState): Promise<{ config: Config; file: string }> {
  return loadConfigAt(gateway, state.baseSha, `the run's base commit ${state.baseSha.slice(0, 7)}`);
}


/** The run started on `issue`: its pull request and the state in its body, or null. */
export async function findRun(gateway: RepoGateway, issue: number): Promise<LoadedRun | null> {
  const pull = await gateway.findPullRequest(runBranch(issue));
  if (!pull) return null;
  const state = decodeState(pull.body);
  return state ? { pull, state } : null;
}

/** Writes the state into the run pull request and refreshes the status comment. */
export async function saveRun(flow: Flow, run: LoadedRun, state: AppRunState, config: Config, options: { status?: boolean; statusSuffix?: string } = {}): Promise<void> {
  await flow.gateway.updatePullRequest(run.pull.number, { body: renderRunPullRequestBody(state, { configSummary: configSummary(config) }) });
  if (options.status === false) return;
  const body = renderStatusComment(state, run.pull.url) + (options.statusSuffix ?? '');
  // Its id is in the state: edit it directly, and look for it by its marker only if it was deleted.
  if (state.statusComment === null || !(await flow.gateway.updateComment(state.statusComment, body))) {
    await flow.gateway.upsertComment(state.issue, STATUS_MARKER, body);
  }
}

/** Dispatches as many experiments as the state allows, from the run branch head. */
async function dispatchMore(flow: Flow, state: AppRunState, headSha: string): Promise<AppRunState> {
  let next = state;
  for (let i = shouldDispatch(state); i > 0; i--) {
    const added = withNewExperiment(next, headSha, flow.now().toISOString());
    await flow.gateway.dispatchWorkflow(WORKFLOW_FILE, next.runBranch, proposalDispatchInputs(next.issue, added.experiment.k, headSha));
    next = added.state;
  }
  return next;
}

/** The end of a run: the run pull request is ready for review, reviewers are asked, CI measures it. */
async function finalize(flow: Flow, run: LoadedRun, config: Config): Promise<void> {
  await flow.gateway.markReadyForReview(run.pull.number);
  if (config.review.reviewers.length > 0) await flow.gateway.requestReviewers(run.pull.number, config.review.reviewers);
}

/** Saves the state after a change; finishes the run when it is done. */
export async function advance(flow: Flow, run: LoadedRun, state: AppRunState, config: Config, knownHead?: string, statusSuffix?: string): Promise<void> {
  const head = knownHead ?? (shouldDispatch(finishIfDone(state)) > 0 ? ((await flow.gateway.branchSha(state.runBranch)) ?? state.baseSha) : state.baseSha);
  const dispatched = await dispatchMore(flow, finishIfDone(state), head);
  const finished = finishIfDone(dispatched);
  await saveRun(flow, run, finished, config, statusSuffix ? { statusSuffix } : {});
  if (finished.status === 'finished' && run.state.status !== 'finished') await finalize(flow, run, config);
}
