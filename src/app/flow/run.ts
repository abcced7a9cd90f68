/** An App run as GitHub holds it: its config, its pull request and state, and the step that saves and advances it. */
import { finishIfDone, MAX_EXPERIMENTS, shouldDispatch, withNewExperiment, type AppRunState, type RunHead } from '../../core/app/state.js';
import { deriveStateKey, openState, sealState, StateError, type StateKey, type StateSeal } from '../../core/app/state-codec.js';
import { DASHBOARD_LIMIT, MIN_DASHBOARD_ROOM, renderDashboard } from '../../core/render/dashboard.js';
import { GITHUB_BODY_LIMIT } from '../../core/render/truncate.js';
import { neutralize, plural } from '../../core/render/markdown.js';
import { renderStatusComment } from '../../core/render/status-comment.js';
import { proposalDispatchInputs, runBranch, STATE_REFUSED_MARKER, STATUS_MARKER, WORKFLOW_FILE } from '../../core/protocol/protocol.js';
import { ConfigError, parseConfig } from '../../core/config/config.js';
import { CONFIG_PATH, type Config } from '../../core/config/config-schema.js';
import { configSummary } from '../../core/render/config-summary.js';
import { UnknownAppIdentityError } from '../github-errors.js';
import type { PullRequestInfo, RepoGateway, RepoRef } from '../github.js';

/** A run's state lives in its pull request body, which bounds how long a run the App can keep. */
export const APP_MAX_EXPERIMENTS = MAX_EXPERIMENTS;

export interface FlowLog {
  /** Events the App ignores (not its run's); Probot's `debug` where the caller gives one, else `info`. */
  debug?(message: string): void;
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
  /**
   * The key run states are signed with ({@link deriveStateKey} of the webhook secret). Unset: derived from
   * `WEBHOOK_SECRET`, the environment variable `probot run` reads the secret from; without either, nothing is read or written.
   */
  stateKey?: StateKey;
}

/** Logs why an event is not the run's and does nothing with it. */
export function ignore(flow: Flow, message: string): void {
  (flow.log.debug ?? flow.log.info).call(flow.log, `autoloop: ignored: ${message}`);
}

/**
 * Fails (the event does nothing; the next one asks `GET /app` again) when the App does not know its own slug: it
 * could not tell its own bot, comments and check runs from anyone else's.
 */
export function requireAppIdentity(flow: Flow): void {
  if (!flow.app?.slug) throw new UnknownAppIdentityError(`${flow.gateway.ref.owner}/${flow.gateway.ref.repo}`);
}

/** Whether `fullName` (`owner/name`, as GitHub spells it in payloads) is the repository `ref`; GitHub names are case-insensitive. */
export function isThisRepository(fullName: string | null | undefined, ref: RepoRef): boolean {
  return typeof fullName === 'string' && fullName.toLowerCase() === `${ref.owner}/${ref.repo}`.toLowerCase();
}

let environmentKey: { secret: string; key: StateKey } | null = null;

function stateKeyOf(flow: Flow): StateKey {
  if (flow.stateKey) return flow.stateKey;
  const secret = process.env.WEBHOOK_SECRET ?? '';
  if (secret === '') throw new StateError('WEBHOOK_SECRET is not set: the App cannot sign or verify run states, so it does nothing');
  if (environmentKey?.secret !== secret) environmentKey = { secret, key: deriveStateKey(secret) };
  return environmentKey.key;
}

function sealFor(flow: Flow, pullRequest: number): StateSeal {
  return { key: stateKeyOf(flow), repository: `${flow.gateway.ref.owner}/${flow.gateway.ref.repo}`, pullRequest };
}

/**
 * The run pull request's body: the dashboard, then the signed state marker on the last line (see {@link sealState}),
 * signed for the pull request the state names (0 before it has one: the body it is opened with).
 */
export function runPullRequestBody(flow: Flow, state: AppRunState, config: Config): string {
  const marker = sealState(state, sealFor(flow, state.pullRequest ?? 0));
  const room = GITHUB_BODY_LIMIT - marker.length - 2;
  if (room < MIN_DASHBOARD_ROOM) {
    throw new StateError(`the state of run #${state.issue} (${plural(state.experiments.length, 'experiment')}) takes ${marker.length.toLocaleString('en-US')} characters: too large for a pull request body`);
  }
  const dashboard = renderDashboard(state, { configSummary: configSummary(config), limit: Math.min(DASHBOARD_LIMIT, room) });
  return `${dashboard.replace(/\n*$/, '\n')}\n${marker}\n`;
}

/** The run state was refused (altered, or unreadable): the run is paused, nothing is done for it. */
export class RunPausedError extends StateError {
  override readonly name: string = 'RunPausedError';
}

/**
 * The verified state in run pull request `pull`, or null when its body has none. A state that does not verify is
 * refused: one comment on the run pull request says so (edited in place on later events), and {@link RunPausedError}
 * is thrown, so nothing is dispatched, judged or merged for the run.
 */
export async function readRunState(flow: Flow, pull: PullRequestInfo): Promise<AppRunState | null> {
  try {
    return openState(pull.body, sealFor(flow, pull.number));
  } catch (error) {
    if (!(error instanceof StateError)) throw error;
    flow.log.warn(`autoloop: the state of run pull request #${pull.number} is refused: ${error.message}`);
    await flow.gateway.upsertComment(
      pull.number,
      STATE_REFUSED_MARKER,
      `${STATE_REFUSED_MARKER}\n**autoloop paused this run.** The run state in this pull request's body was altered, or cannot be read (${error.message}). ` +
        'autoloop acts only on a state it wrote and signed, so until then it dispatches, judges and merges nothing for this run.\n\n' +
        "To resume, restore the body as autoloop last wrote it (the pull request's edit history keeps it); or leave this run and start a new one from another issue.\n",
    );
    throw new RunPausedError(`run pull request #${pull.number} is paused: ${error.message}`, { cause: error });
  }
}

/** The verified state in `pull`'s body, or null when it has none or it does not verify: a look without side effects (no refusal comment). */
export function peekRunState(flow: Flow, pull: PullRequestInfo): AppRunState | null {
  try {
    return openState(pull.body, sealFor(flow, pull.number));
  } catch (error) {
    if (error instanceof StateError) return null;
    throw error;
  }
}

/** A `/optimize` comment, as the webhook gives it. */
export interface CommentEvent {
  issue: number;
  commentId: number;
  user: string;
  body: string;
  /** When the comment was written (ISO 8601, the payload's `comment.created_at`): a command older than the active run is a late redelivery. */
  createdAt?: string;
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
  /**
   * Where it ran and for what: `workflow_run.repository.full_name`, `workflow_run.head_repository.full_name` (null when
   * GitHub names none) and the numbers of `workflow_run.pull_requests`. When the caller leaves them out, the App asks
   * GitHub (`GET .../actions/runs/{id}`, one request) before it acts on the run.
   */
  repository?: string;
  headRepository?: string | null;
  pullRequests?: number[];
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


/**
 * The active run on `issue`: its pull request, open, and the verified state in its body ({@link readRunState}); null
 * when there is none, or when the newest run pull request is closed (merged or not: that run is over, whatever its
 * state says, and nothing more is dispatched, judged or merged for it). Throws {@link RunPausedError} when the state is refused.
 */
export async function findRun(flow: Flow, issue: number): Promise<LoadedRun | null> {
  const pull = await flow.gateway.findPullRequest(runBranch(issue));
  if (!pull) return null;
  if (pull.state === 'closed') {
    ignore(flow, `run pull request #${pull.number} of #${issue} is closed: the run is over`);
    return null;
  }
  const state = await readRunState(flow, pull);
  return state ? { pull, state } : null;
}

/**
 * Writes the state, signed, into the run pull request, and the status comment when what it shows changed. The status
 * comment says what changes at a step of the run (started, stopping, finished, confirmed), the dashboard every experiment
 * (see renderStatusComment): a state it renders as the one loaded does not rewrite it, whatever else changed.
 */
export async function saveRun(flow: Flow, run: LoadedRun, state: AppRunState, config: Config, options: { status?: boolean; statusSuffix?: string } = {}): Promise<void> {
  await flow.gateway.updatePullRequest(run.pull.number, { body: runPullRequestBody(flow, { ...state, pullRequest: run.pull.number }, config) });
  if (options.status === false) return;
  const rendered = renderStatusComment(state, run.pull.url);
  if (state.statusComment !== null && state.statusComment === run.state.statusComment && rendered === renderStatusComment(run.state, run.pull.url)) return;
  const body = rendered + (options.statusSuffix ?? '');
  // Its id is in the state: edit it directly, and look for it by its marker only if it was deleted.
  if (state.statusComment === null || !(await flow.gateway.updateComment(state.statusComment, body))) {
    await flow.gateway.upsertComment(state.issue, STATUS_MARKER, body);
  }
}

/**
 * The run with as many new experiments as the state allows (each `proposing`, from `headSha`), and the dispatches
 * they need. The caller saves the state before it dispatches: a dispatch the App crashed after, or whose answer was
 * lost, then leaves an experiment `proposing` that the sweep finds (see ./sweep.ts), never one dispatched twice.
 */
function planDispatches(flow: Flow, state: AppRunState, headSha: string): { state: AppRunState; dispatches: Record<string, string>[] } {
  let next = state;
  const dispatches: Record<string, string>[] = [];
  for (let i = shouldDispatch(state); i > 0; i--) {
    const added = withNewExperiment(next, headSha, flow.now().toISOString());
    dispatches.push(proposalDispatchInputs(next.issue, added.experiment.k, headSha));
    next = added.state;
  }
  return { state: next, dispatches };
}

/** Dispatches the proposal workflow of experiment `k` of the run, from `parentSha`. */
export function dispatchProposal(flow: Flow, state: AppRunState, k: number, parentSha: string): Promise<void> {
  return flow.gateway.dispatchWorkflow(WORKFLOW_FILE, state.runBranch, proposalDispatchInputs(state.issue, k, parentSha));
}

/**
 * The end of a run: the run pull request is ready for review, reviewers are asked, CI measures it. A reviewer request
 * GitHub refuses (say, someone who is not a collaborator) is said on the run pull request, not only in the log.
 */
export async function finalize(flow: Flow, pull: PullRequestInfo, config: Config): Promise<void> {
  if (pull.draft) await flow.gateway.markReadyForReview(pull.number);
  if (config.review.reviewers.length === 0) return;
  try {
    await flow.gateway.requestReviewers(pull.number, config.review.reviewers);
  } catch (error) {
    flow.log.warn(`autoloop: requesting reviewers on #${pull.number} failed: ${(error as Error).message}`);
    const names = config.review.reviewers.map((name) => `\`${name}\``).join(', ');
    await flow.gateway.createComment(
      pull.number,
      `autoloop could not request reviews from ${names}: ${neutralize((error as Error).message.slice(0, 300))}. Check \`review.reviewers\` in \`${CONFIG_PATH}\` (each must be a collaborator), and ask for a review by hand.\n`,
    );
  }
}

/**
 * The state with the run branch head in it: the state's own when it has one (the App's start commit and its
 * fast-forwards), so that nothing is read; read from GitHub when it has none (a push by someone else made the App
 * forget it, see ./pull-requests.ts, or the state was written before it recorded one).
 */
async function withRunHead(flow: Flow, state: AppRunState): Promise<AppRunState & { runHead: RunHead }> {
  if (state.runHead) return { ...state, runHead: state.runHead };
  return { ...state, runHead: { sha: (await flow.gateway.branchSha(state.runBranch)) ?? state.baseSha } };
}

/**
 * Saves the state after a change, with the experiments it now allows recorded before they are dispatched; finishes
 * the run when it is done. `knownHead`: the run branch head, when the caller just moved it or read it.
 */
export async function advance(flow: Flow, run: LoadedRun, given: AppRunState, config: Config, knownHead?: string, statusSuffix?: string): Promise<void> {
  const dispatching = shouldDispatch(finishIfDone(given)) > 0;
  const state = knownHead === undefined && dispatching ? await withRunHead(flow, given) : given;
  const head = knownHead ?? (dispatching ? state.runHead!.sha : state.baseSha);
  const planned = planDispatches(flow, finishIfDone(state), head);
  const finished = finishIfDone(planned.state);
  await saveRun(flow, run, finished, config, statusSuffix ? { statusSuffix } : {});
  for (const inputs of planned.dispatches) await flow.gateway.dispatchWorkflow(WORKFLOW_FILE, finished.runBranch, inputs);
  if (finished.status === 'finished' && run.state.status !== 'finished') await finalize(flow, run.pull, config);
}
