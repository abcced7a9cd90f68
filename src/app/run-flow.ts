import {
  finishIfDone,
  newRunState,
  shouldDispatch,
  withExperiment,
  withNewExperiment,
  type AppExperiment,
  type AppRunState,
} from '../core/app/state.js';
import { decodeState } from '../core/app/state-codec.js';
import {
  renderExperimentComment,
  renderGateOutput,
  renderRefusal,
  renderRunPullRequestBody,
  renderStatusComment,
  neutralize,
} from '../core/render/app-render.js';
import {
  ARTIFACTS,
  EXPERIMENT_MARKER,
  experimentBranch,
  GATE_CHECK_NAME,
  LABELS,
  parseExperimentBranch,
  parseProposalRunName,
  parseRunBranch,
  proposalDispatchInputs,
  RESULT_FILE,
  runBranch,
  STATUS_MARKER,
  WORKFLOW_FILE,
  WORKFLOW_PATH,
} from '../core/protocol/protocol.js';
import { COMMAND_HELP, parseCommand, type OptimizeCommand } from '../core/app/command.js';
import { ConfigError, formatConfigIssue, parseConfig } from '../core/config/config.js';
import { diagnose, oversightOf, oversightWarnings, relevantRulesetIds, renderOversightWarnings, workflowTriggers, type DoctorInput } from '../core/app/doctor.js';
import { CONFIG_PATH, type Config } from '../core/config/config-schema.js';
import { decideExperiment } from '../core/judge/decision.js';
import type { Judgement } from '../core/ledger/records.js';
import { parseResultDocument, type ResultDocument } from '../core/result/result.js';
import { formatDuration, formatEffect } from '../core/config/units.js';
import { changeFromGitHub, protectedHashOfTree, verifyResult, type Verification } from '../core/result/verify.js';
import { readZip } from '../core/protocol/zip.js';
import { DryRunGateway } from './dry-run-gateway.js';
import { GitHubError } from './octokit-gateway.js';
import { UNKNOWN, type Permission, type PullRequestInfo, type RepoGateway } from './github.js';

/** A run's state lives in its pull request body, which bounds how long a run the App can keep. */
export const APP_MAX_EXPERIMENTS = 200;
const WRITERS: readonly Permission[] = ['admin', 'maintain', 'write'];

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

interface LoadedRun {
  pull: PullRequestInfo;
  state: AppRunState;
}

// ------------------------------------------------------------------------------------------------
// Reading the run and its config

/** The config as committed in `sha` (a run reads it at its base commit: one request, and the same all run long). */
async function loadConfigAt(gateway: RepoGateway, sha: string, where: string): Promise<{ config: Config; file: string }> {
  const text = await gateway.readFile(CONFIG_PATH, sha);
  if (text === null) {
    throw new ConfigError(CONFIG_PATH, [{ file: CONFIG_PATH, path: '', line: null, message: `not found on ${where}; add it there first (see autoloop's README)` }]);
  }
  return { config: parseConfig(text, CONFIG_PATH), file: CONFIG_PATH };
}

/** The config on the default branch, where a new run reads it. */
async function loadConfig(gateway: RepoGateway): Promise<{ config: Config; file: string; branch: { name: string; sha: string } }> {
  const branch = await gateway.defaultBranch();
  return { ...(await loadConfigAt(gateway, branch.sha, branch.name)), branch };
}

/** The config a run started with. */
function runConfig(gateway: RepoGateway, state: AppRunState): Promise<{ config: Config; file: string }> {
  return loadConfigAt(gateway, state.baseSha, `the run's base commit ${state.baseSha.slice(0, 7)}`);
}

function configSummary(config: Config): string[] {
  return [
    `metric: \`${config.metric.name}\`, ${config.metric.goal}, keep gains beyond ${formatEffect(config.metric.min_effect)}`,
    `evaluate: \`${config.evaluate.command}\`, ${config.evaluate.repeats} run(s) per side, ${config.evaluate.baseline}, timeout ${formatDuration(config.evaluate.timeout)}`,
    `scope: edit ${config.scope.edit.map((p) => `\`${p}\``).join(', ')}`,
    `proposer: ${config.proposer.kind}`,
  ];
}

/** The run started on `issue`: its pull request and the state in its body, or null. */
async function findRun(gateway: RepoGateway, issue: number): Promise<LoadedRun | null> {
  const pull = await gateway.findPullRequest(runBranch(issue));
  if (!pull) return null;
  const state = decodeState(pull.body);
  return state ? { pull, state } : null;
}

/** Writes the state into the run pull request and refreshes the status comment. */
async function saveRun(flow: Flow, run: LoadedRun, state: AppRunState, config: Config, options: { status?: boolean; statusSuffix?: string } = {}): Promise<void> {
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
async function advance(flow: Flow, run: LoadedRun, state: AppRunState, config: Config, knownHead?: string, statusSuffix?: string): Promise<void> {
  const head = knownHead ?? (shouldDispatch(finishIfDone(state)) > 0 ? ((await flow.gateway.branchSha(state.runBranch)) ?? state.baseSha) : state.baseSha);
  const dispatched = await dispatchMore(flow, finishIfDone(state), head);
  const finished = finishIfDone(dispatched);
  await saveRun(flow, run, finished, config, statusSuffix ? { statusSuffix } : {});
  if (finished.status === 'finished' && run.state.status !== 'finished') await finalize(flow, run, config);
}

// ------------------------------------------------------------------------------------------------
// Commands

/**
 * A new comment. Only a `/optimize` command from someone with write access does anything; anyone
 * else gets one polite reply. The permission check fails closed: if GitHub cannot say, nothing runs.
 */
export async function handleComment(flow: Flow, event: CommentEvent): Promise<void> {
  const parsed = parseCommand(event.body);
  if (!parsed) return;
  const { gateway } = flow;
  let permission: Permission;
  try {
    permission = await gateway.permission(event.user);
  } catch (error) {
    flow.log.warn(`permission check for ${event.user} failed: ${(error as Error).message}`);
    await gateway.createComment(event.issue, 'Sorry, autoloop could not check your permission on this repository, so it did nothing. Try again later.\n');
    return;
  }
  if (!WRITERS.includes(permission)) {
    await gateway.createComment(event.issue, renderRefusal('permission', { user: event.user, permission }));
    return;
  }
  await gateway.reactToComment(event.commentId, 'eyes');
  if ('error' in parsed) {
    await gateway.createComment(event.issue, `${parsed.error}\n`);
    return;
  }
  const command = parsed.command;
  switch (command.kind) {
    case 'help':
      return help(flow, event);
    case 'status':
      return status(flow, event);
    case 'doctor':
      return doctor(flow, event);
    case 'stop':
      return stop(flow, event);
    case 'start':
      return start(flow, event, command);
  }
}

async function help(flow: Flow, event: CommentEvent): Promise<void> {
  let state: string;
  try {
    const { config, branch } = await loadConfig(flow.gateway);
    state = `The config on \`${branch.name}\` is valid: ${configSummary(config).join('; ')}.`;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    state = renderRefusal('config', { file: error.file, issues: error.issues });
  }
  await flow.gateway.createComment(event.issue, `${COMMAND_HELP}\n\n${state}\n`);
}

async function status(flow: Flow, event: CommentEvent): Promise<void> {
  const run = await findRun(flow.gateway, event.issue);
  // The reply shows what the status comment shows, without its marker: only the status comment carries that.
  const reply = run ? renderStatusComment(run.state, run.pull.url).replace(`${STATUS_MARKER}\n`, '') : 'There is no autoloop run on this issue. Start one with `/optimize`.\n';
  await flow.gateway.createComment(event.issue, reply);
}

/** A read the doctor can live without: an error (other than the 403/404 the gateway already answers `unknown` to) is logged and unknown. */
function orUnknown<T>(flow: Flow, what: string, read: Promise<T>): Promise<T | typeof UNKNOWN> {
  return read.catch((error: unknown) => {
    flow.log.warn(`doctor: reading ${what} failed: ${(error as Error).message}`);
    return UNKNOWN;
  });
}

/**
 * What the doctor finds on the default branch, except the config: the rules and protection (and, only when rules
 * come from rulesets, the rulesets for the App's bypass) and the workflow file. Three requests on an unprotected repository.
 */
async function inspectBranch(flow: Flow, branch: { name: string; sha: string }): Promise<Omit<DoctorInput, 'config'>> {
  const { gateway } = flow;
  const [rules, protection, workflowText] = await Promise.all([
    orUnknown(flow, 'the branch rules', gateway.branchRules(branch.name)),
    orUnknown(flow, 'the branch protection', gateway.branchProtection(branch.name)),
    orUnknown(flow, 'the workflow file', gateway.workflowFile(branch.sha)),
  ]);
  const rulesets = relevantRulesetIds(rules).length > 0 ? await orUnknown(flow, 'the rulesets', gateway.rulesets()) : undefined;
  const app = flow.app ?? { id: null, slug: null };
  const workflow =
    workflowText === UNKNOWN ? { exists: false, dispatch: false, pullRequest: false } : workflowTriggers(workflowText);
  return { ...oversightOf({ rules, protection, app, ...(rulesets === undefined ? {} : { rulesets }) }), workflow, branch: branch.name };
}

async function doctor(flow: Flow, event: CommentEvent): Promise<void> {
  const branch = await flow.gateway.defaultBranch();
  const [found, config] = await Promise.all([
    inspectBranch(flow, branch),
    loadConfigAt(flow.gateway, branch.sha, branch.name).then(
      () => ({ valid: true, errors: [] }),
      (error: unknown) => {
        if (!(error instanceof ConfigError)) throw error;
        return { valid: false, errors: error.issues.length > 0 ? error.issues.map(formatConfigIssue) : [`${error.file}: invalid`] };
      },
    ),
  ]);
  await flow.gateway.createComment(event.issue, diagnose({ ...found, config }).markdown);
}

async function stop(flow: Flow, event: CommentEvent): Promise<void> {
  const run = await findRun(flow.gateway, event.issue);
  if (!run || run.state.status !== 'running') {
    await flow.gateway.createComment(event.issue, run ? 'This run is already stopping or finished.\n' : 'There is no autoloop run on this issue.\n');
    return;
  }
  const { config } = await runConfig(flow.gateway, run.state);
  await advance(flow, run, { ...run.state, status: 'stopping', stopReason: `stopped by @${event.user}` }, config);
}

async function start(flow: Flow, event: CommentEvent, command: Extract<OptimizeCommand, { kind: 'start' }>): Promise<void> {
  const real = flow.gateway;
  let loaded;
  try {
    loaded = await loadConfig(real);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    await real.createComment(event.issue, renderRefusal('config', { file: error.file, issues: error.issues }));
    return;
  }
  const { config, branch } = loaded;
  const existing = await real.findPullRequest(runBranch(event.issue));
  if (existing) {
    const state = decodeState(existing.body);
    // A redelivered webhook, or the same command seen twice: no second effect, not even a reply; but a
    // start that failed before its first dispatch is picked up where it stopped.
    if (state && state.commandComment === event.commentId) {
      if (state.status === 'running' && state.experiments.length === 0) await advance(flow, { pull: existing, state }, state, config);
      return;
    }
    await real.createComment(event.issue, renderRefusal('busy', { issue: event.issue, pullRequest: existing.number, url: existing.url }));
    return;
  }
  const experiments = command.experiments ?? config.budget.experiments;
  if (experiments > APP_MAX_EXPERIMENTS) {
    await real.createComment(event.issue, `The App runs at most ${APP_MAX_EXPERIMENTS} experiments per run (its state lives in the run pull request). Use fewer, or the action's \`loop\` mode. See \`/optimize help\`.\n`);
    return;
  }
  const gateway = command.dryRun ? new DryRunGateway(real) : real;
  const dry: Flow = { ...flow, gateway };
  const protectedHash = protectedHashOfTree(await real.tree(branch.sha), config, loaded.file);
  // A run where the default branch lacks oversight still starts, but says so where people look first.
  const warnings = oversightWarnings(diagnose({ ...(await inspectBranch(flow, branch)), config: { valid: true, errors: [] } }));
  const statusSuffix = renderOversightWarnings(warnings);
  let state = newRunState({
    protectedHash,
    issue: event.issue,
    baseBranch: branch.name,
    baseSha: branch.sha,
    metric: { name: config.metric.name, goal: config.metric.goal },
    goalText: command.goal,
    startedBy: event.user,
    commandComment: event.commentId,
    startedAt: flow.now().toISOString(),
    budget: { experiments, parallel: command.parallel ?? config.budget.parallel, maxFailures: config.budget.max_failures },
  });
  await gateway.createBranch(state.runBranch, branch.sha);
  const pull = await gateway.createPullRequest({
    head: state.runBranch,
    base: branch.name,
    title: `autoloop: ${config.metric.name} (${config.metric.goal}), run of #${event.issue}`,
    body: renderRunPullRequestBody(state, { configSummary: configSummary(config) }),
    draft: true,
  });
  state = { ...state, pullRequest: pull.number };
  state = { ...state, statusComment: await gateway.upsertComment(event.issue, STATUS_MARKER, renderStatusComment(state, pull.url) + statusSuffix) };
  await advance(dry, { pull, state }, state, config, undefined, statusSuffix);
  if (gateway instanceof DryRunGateway) {
    await real.createComment(event.issue, `Dry run: the config is valid, and this is what \`/optimize\` would do:\n\n${gateway.describe()}\n`);
  }
}

// ------------------------------------------------------------------------------------------------
// Workflow runs: proposals and evaluations

/** The artifact `name` of a workflow run, unzipped: `file` inside it, or null. */
async function artifactFile(gateway: RepoGateway, runId: number, name: string, file: string): Promise<{ text: string; url: string } | null> {
  const artifact = (await gateway.listArtifacts(runId)).find((a) => a.name === name);
  if (!artifact) return null;
  const content = readZip(await gateway.downloadArtifact(artifact.id)).get(file);
  return content ? { text: content.toString('utf8'), url: artifact.url } : null;
}

/** A completed run of the autoloop workflow: a proposal (workflow_dispatch) or an evaluation (pull_request). */
export async function handleWorkflowRun(flow: Flow, run: WorkflowRunEvent): Promise<void> {
  if (run.path !== WORKFLOW_PATH) return;
  if (run.event === 'workflow_dispatch') return proposalCompleted(flow, run);
  if (run.event === 'pull_request') return evaluationCompleted(flow, run);
}

async function proposalCompleted(flow: Flow, workflowRun: WorkflowRunEvent): Promise<void> {
  const issue = parseRunBranch(workflowRun.headBranch ?? '')?.issue;
  const k = parseProposalRunName(workflowRun.displayTitle);
  if (!issue || !k) return;
  const run = await findRun(flow.gateway, issue);
  const experiment = run?.state.experiments.find((e) => e.k === k);
  if (!run || !experiment || experiment.state !== 'proposing') return;
  const { config } = await runConfig(flow.gateway, run.state);
  const proposalRun = workflowRun.htmlUrl;
  const branch = experimentBranch(issue, k);
  // The action commits the proposal with its hypothesis as the message: one request gives both.
  const commit = workflowRun.conclusion === 'success' ? await flow.gateway.commit(branch) : null;
  if (!commit) {
    const reason = workflowRun.conclusion === 'success' ? 'the proposer pushed nothing (nothing left to try, or the change was empty)' : `the proposal workflow ended: ${workflowRun.conclusion}`;
    await advance(flow, run, withExperiment(run.state, k, { state: 'invalid', reason, proposalRun }), config);
    return;
  }
  const hypothesis = commit.message.split('\n')[0]!.trim();
  const request = {
    head: branch,
    base: run.state.runBranch,
    title: `autoloop #${issue}, experiment ${k}: ${(hypothesis || 'proposal').slice(0, 200)}`,
    body: [
      `Experiment ${k} of the autoloop run on #${issue} (run pull request #${run.pull.number}).`,
      '',
      `**Hypothesis:** ${hypothesis ? neutralize(hypothesis) : '(none given)'}`,
      '',
      `Proposed by [this workflow run](${proposalRun}) (its \`${ARTIFACTS.trace}\` artifact holds the trace). CI measures it against the run branch; the sticky comment below will show the result.`,
    ].join('\n'),
    draft: false,
  };
  // Opened directly; a redelivered event finds GitHub's "already exists" and the pull request it means.
  const pull = await flow.gateway.createPullRequest(request).catch(async (error: unknown) => {
    const existing = error instanceof GitHubError && error.status === 422 ? await flow.gateway.findPullRequest(branch) : null;
    if (!existing) throw error;
    return existing;
  });
  await flow.gateway.addLabels(pull.number, [LABELS.experiment]);
  const state = withExperiment(run.state, k, { state: 'evaluating', branch, pullRequest: pull.number, headSha: commit.sha, hypothesis, proposalRun });
  // The dashboard shows the new pull request; the status comment changes when an experiment is decided.
  await saveRun(flow, run, state, config, { status: false });
}

/** Reads, verifies and re-judges the evaluation of an experiment or of the run pull request. */
async function judgeEvaluation(
  flow: Flow,
  workflowRun: WorkflowRunEvent,
  pull: PullRequestInfo,
  config: Config,
  file: string,
  protectedHash: string | null,
): Promise<{ document: ResultDocument | null; verification: Verification; artifact: string | null }> {
  const fail = (reason: string) => ({ ok: false as const, reason, scopeViolations: [] });
  if (pull.head.sha !== workflowRun.headSha) return { document: null, verification: fail('changed after evaluation'), artifact: null };
  let document: ResultDocument;
  let artifact: string | null = null;
  try {
    const found = await artifactFile(flow.gateway, workflowRun.id, ARTIFACTS.result, RESULT_FILE);
    if (!found) return { document: null, verification: fail(`no ${ARTIFACTS.result} artifact in the evaluation run`), artifact: null };
    artifact = found.url;
    document = parseResultDocument(JSON.parse(found.text));
  } catch (error) {
    return { document: null, verification: fail(`the result artifact is unreadable: ${(error as Error).message.slice(0, 200)}`), artifact };
  }
  const [files, expectedHash] = await Promise.all([
    flow.gateway.compare(pull.base.sha, pull.head.sha),
    protectedHash ?? flow.gateway.tree(pull.base.sha).then((tree) => protectedHashOfTree(tree, config, file)),
  ]);
  const verification = verifyResult(document, { headSha: pull.head.sha, baseSha: pull.base.sha, changes: files.map(changeFromGitHub), protectedHash: expectedHash }, config, file);
  return { document, verification, artifact };
}

async function evaluationCompleted(flow: Flow, workflowRun: WorkflowRunEvent): Promise<void> {
  const branch = workflowRun.headBranch ?? '';
  const experimentOf = parseExperimentBranch(branch);
  const runOf = parseRunBranch(branch);
  const issue = experimentOf?.issue ?? runOf?.issue;
  if (!issue) return;
  const run = await findRun(flow.gateway, issue);
  if (!run) return;
  const { config, file } = await runConfig(flow.gateway, run.state);

  if (runOf) {
    // The whole run against the default branch (which may have moved): the gate reports the cumulative delta.
    const { document, verification } = await judgeEvaluation(flow, workflowRun, run.pull, config, file, null);
    await setGate(flow, run.pull.head.sha, document, verification, workflowRun.htmlUrl);
    return;
  }
  const k = experimentOf!.k;
  const experiment = run.state.experiments.find((e) => e.k === k);
  if (!experiment?.pullRequest || experiment.state !== 'evaluating') return;
  const pull = await flow.gateway.getPullRequest(experiment.pullRequest);
  // Protected files never change along the run branch (the scope forbids it): the hash taken at the start holds.
  const { document, verification, artifact } = await judgeEvaluation(flow, workflowRun, pull, config, file, run.state.protectedHash);
  await setGate(flow, pull.head.sha, document, verification, workflowRun.htmlUrl);
  if (!verification.ok && verification.reason === 'changed after evaluation') return;

  const judgement = verification.ok ? verification.judgement : null;
  const outcome = await decide(flow, pull, experiment, judgement, verification);
  const figures = judgement && judgement.verdict !== 'invalid'
    ? { baseline: judgement.baseline.mean, candidate: judgement.candidate.mean, delta: judgement.delta, deltaRelative: judgement.deltaRelative, verdict: judgement.verdict }
    : { verdict: 'invalid' as const };
  const state = withExperiment(run.state, k, {
    ...figures,
    state: outcome.state,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
    evaluationRun: workflowRun.htmlUrl,
    ...(artifact ? { artifact } : {}),
  });
  const comment = renderExperimentComment({
    state,
    experiment: state.experiments.find((e) => e.k === k)!,
    document,
    ...(judgement ? { judgement } : {}),
    ...(verification.ok ? {} : { verdictOverride: `verification failed: ${verification.reason}` }),
    links: { proposalRun: experiment.proposalRun, evaluationRun: workflowRun.htmlUrl, ...(artifact ? { artifact } : {}) },
  });
  // One sticky comment per experiment pull request: created once, then edited by the id the state keeps.
  const commentId =
    experiment.commentId !== undefined && (await flow.gateway.updateComment(experiment.commentId, comment))
      ? experiment.commentId
      : await flow.gateway.upsertComment(pull.number, EXPERIMENT_MARKER, comment);
  await advance(flow, run, withExperiment(state, k, { commentId }), config, outcome.head);
}

async function setGate(flow: Flow, sha: string, document: ResultDocument | null, verification: Verification, detailsUrl: string): Promise<void> {
  const gate = renderGateOutput({
    document,
    ...(verification.ok ? { judgement: verification.judgement } : { verificationFailure: verification.reason, scopeViolations: verification.scopeViolations }),
  });
  await flow.gateway.setCheckRun({ name: GATE_CHECK_NAME, sha, status: 'completed', conclusion: gate.conclusion, output: { title: gate.title, summary: gate.summary }, detailsUrl });
}

/** Keep (merge into the run branch), leave for a human (suspicious), or discard (close). */
async function decide(
  flow: Flow,
  pull: PullRequestInfo,
  experiment: AppExperiment,
  judgement: Judgement | null,
  verification: Verification,
): Promise<{ state: AppExperiment['state']; reason?: string; head?: string }> {
  const { gateway } = flow;
  const decision = verification.ok ? decideExperiment(judgement) : 'invalid';
  if (decision === 'keep') {
    const merged = await gateway.mergePullRequest(pull.number, pull.head.sha, `autoloop experiment ${experiment.k}: ${experiment.hypothesis ?? ''}`.trim());
    if (merged.merged) return { state: 'kept', ...(merged.sha ? { head: merged.sha } : {}) };
    await gateway.setCheckRun({
      name: GATE_CHECK_NAME,
      sha: pull.head.sha,
      status: 'completed',
      conclusion: 'failure',
      output: { title: 'not merged: the run branch moved', summary: 'The improvement was measured against a run branch head that another kept experiment has since moved; it was discarded.' },
    });
    await gateway.closePullRequest(pull.number);
    await gateway.addLabels(pull.number, [LABELS.discarded]);
    return { state: 'invalid', reason: 'could not merge into the run branch (it moved); discarded' };
  }
  if (decision === 'review') {
    await gateway.addLabels(pull.number, [LABELS.review]);
    return { state: 'needs-review', reason: 'gain beyond suspicious_effect: a human must review it' };
  }
  await gateway.closePullRequest(pull.number);
  await gateway.addLabels(pull.number, [LABELS.discarded]);
  if (!verification.ok) return { state: 'invalid', reason: verification.reason };
  if (decision === 'invalid') return { state: 'invalid', reason: judgement?.reasons.join('; ') ?? 'no valid result' };
  return { state: 'discarded', reason: judgement!.reasons.join('; ') };
}

// ------------------------------------------------------------------------------------------------
// Pull request events

/**
 * A push to an autoloop pull request by anyone but the App invalidates its gate until it is evaluated
 * again; a human closing an experiment pull request discards the experiment.
 */
export async function handlePullRequestEvent(
  flow: Flow,
  event: { action: string; number: number; headRef: string; headSha: string; merged: boolean; senderIsApp: boolean },
): Promise<void> {
  const experimentOf = parseExperimentBranch(event.headRef);
  if (!experimentOf && !parseRunBranch(event.headRef)) return;
  if (event.action === 'synchronize' && !event.senderIsApp) {
    await flow.gateway.setCheckRun({
      name: GATE_CHECK_NAME,
      sha: event.headSha,
      status: 'completed',
      conclusion: 'failure',
      output: { title: 'changed after evaluation', summary: 'This pull request changed after autoloop measured it. The gate holds until CI evaluates the new head.' },
    });
    return;
  }
  if (event.action === 'closed' && !event.merged && !event.senderIsApp && experimentOf) {
    const { issue, k } = experimentOf;
    const run = await findRun(flow.gateway, issue);
    const experiment = run?.state.experiments.find((e) => e.k === k);
    if (!run || !experiment || (experiment.state !== 'evaluating' && experiment.state !== 'needs-review')) return;
    const { config } = await runConfig(flow.gateway, run.state);
    await advance(flow, run, withExperiment(run.state, k, { state: 'discarded', reason: 'closed by a human' }), config);
  }
}
