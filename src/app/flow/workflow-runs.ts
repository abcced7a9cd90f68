/** Completed runs of the autoloop workflow: proposals (workflow_dispatch) and evaluations (pull_request). */
import { runBaseline, withExperiment, type AppExperiment, type AppRunState, type RunConfirmation } from '../../core/app/state.js';
import { renderExperimentComment } from '../../core/render/experiment-comment.js';
import { renderGateOutput } from '../../core/render/gate.js';
import { renderExperimentPullRequest } from '../../core/render/experiment-pull-request.js';
import { ARTIFACTS, EXPERIMENT_MARKER, hypothesisOfCommit, experimentBranch, GATE_CHECK_NAME, LABELS, parseExperimentBranch, parseProposalRunName, parseRunBranch, proposalRunName, RESULT_FILE, WORKFLOW_PATH } from '../../core/protocol/protocol.js';
import type { Config } from '../../core/config/config-schema.js';
import { againstRunBase, decideExperiment } from '../../core/judge/decision.js';
import type { Judgement } from '../../core/ledger/records.js';
import { parseResultDocument, type ResultDocument } from '../../core/result/result.js';
import { changeFromGitHub, protectedHashOfTree, verifyResult, type Verification } from '../../core/result/verify.js';
import { readZip } from '../../core/protocol/zip.js';
import { PullRequestExistsError } from '../github-errors.js';
import { type CheckRunWritten, type RepoGateway, type WorkflowRunOrigin } from '../github.js';
import { advance, findRun, ignore, isThisRepository, requireAppIdentity, RunPausedError, runConfig, saveRun, type Flow, type LoadedRun, type WorkflowRunEvent } from './run.js';

/** The artifact `name` of a workflow run, unzipped: `file` inside it, or null. */
async function artifactFile(gateway: RepoGateway, runId: number, name: string, file: string): Promise<{ text: string; url: string } | null> {
  const artifact = (await gateway.listArtifacts(runId)).find((a) => a.name === name);
  if (!artifact) return null;
  const content = readZip(await gateway.downloadArtifact(artifact.id)).get(file);
  return content ? { text: content.toString('utf8'), url: artifact.url } : null;
}

/**
 * A completed run of the autoloop workflow: a proposal (workflow_dispatch) or an evaluation (pull_request). It counts
 * only when it is bound to the run: from `.github/workflows/autoloop.yml`, run in this repository on a head of this
 * repository, for the expected pull request (or, for a proposal, the expected experiment on the run branch) and head
 * SHA; anything else is ignored, with a log line. A run whose state was refused does nothing (see `readRunState`).
 */
export async function handleWorkflowRun(flow: Flow, run: WorkflowRunEvent): Promise<void> {
  requireAppIdentity(flow);
  if (run.path !== WORKFLOW_PATH) return ignore(flow, `workflow run ${run.id}: ${run.path} is not ${WORKFLOW_PATH}`);
  try {
    if (run.event === 'workflow_dispatch') return await proposalCompleted(flow, run);
    if (run.event === 'pull_request') return await evaluationCompleted(flow, run);
    ignore(flow, `workflow run ${run.id}: triggered by ${run.event}, not workflow_dispatch or pull_request`);
  } catch (error) {
    // Refused and said so on the run pull request already: nothing more to do for this event.
    if (error instanceof RunPausedError) return flow.log.warn(`autoloop: workflow run ${run.id} not acted on: ${error.message}`);
    throw error;
  }
}

/** Where a workflow run ran, from its webhook, or asked of GitHub when the webhook's fields were not passed on. */
async function originOf(flow: Flow, run: WorkflowRunEvent): Promise<WorkflowRunOrigin> {
  if (run.repository !== undefined && run.headRepository !== undefined && run.pullRequests !== undefined) {
    return { repository: run.repository, headRepository: run.headRepository, pullRequests: run.pullRequests };
  }
  return flow.gateway.workflowRun(run.id);
}

/**
 * Why workflow run `run` is not the one expected: it ran elsewhere, on a fork's head, or for other pull requests than
 * `pullRequest` (null for a proposal, which has none); null when it is bound. GitHub lists in `pull_requests` only the
 * pull requests of this repository whose head is the run's head, and none for a fork's (github/docs#22501).
 */
async function unbound(flow: Flow, run: WorkflowRunEvent, pullRequest: number | null): Promise<string | null> {
  const origin = await originOf(flow, run);
  if (!isThisRepository(origin.repository, flow.gateway.ref)) return `ran in ${origin.repository}`;
  if (!isThisRepository(origin.headRepository, flow.gateway.ref)) return `its head is from ${origin.headRepository ?? 'an unknown repository'} (a fork)`;
  if (pullRequest !== null && !origin.pullRequests.includes(pullRequest)) {
    return `it ran for ${origin.pullRequests.length ? origin.pullRequests.map((n) => `#${n}`).join(', ') : 'no pull request of this repository'}, not #${pullRequest}`;
  }
  return null;
}

async function proposalCompleted(flow: Flow, workflowRun: WorkflowRunEvent): Promise<void> {
  const issue = parseRunBranch(workflowRun.headBranch ?? '')?.issue;
  const k = parseProposalRunName(workflowRun.displayTitle);
  if (!issue || !k || workflowRun.displayTitle !== proposalRunName(issue, k)) return ignore(flow, `workflow run ${workflowRun.id}: not a proposal of an autoloop run branch`);
  const run = await findRun(flow, issue);
  const experiment = run?.state.experiments.find((e) => e.k === k);
  if (!run || !experiment || experiment.state !== 'proposing') return ignore(flow, `workflow run ${workflowRun.id}: run #${issue} has no experiment ${k} being proposed`);
  // The App dispatched it on the run branch at the experiment's parent: the run's head is that commit.
  if (workflowRun.headSha !== experiment.parentSha) {
    return ignore(flow, `workflow run ${workflowRun.id}: ran on ${workflowRun.headSha.slice(0, 7)}, experiment ${k} was dispatched on ${experiment.parentSha.slice(0, 7)}`);
  }
  // A dispatched run has no pull request; it runs in this repository (only writers may dispatch), which is checked when the webhook says so.
  if (workflowRun.repository !== undefined && workflowRun.headRepository !== undefined) {
    const why = await unbound(flow, { ...workflowRun, pullRequests: workflowRun.pullRequests ?? [] }, null);
    if (why) return ignore(flow, `workflow run ${workflowRun.id}: ${why}`);
  }
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
  const hypothesis = hypothesisOfCommit(commit.message);
  const request = {
    head: branch,
    base: run.state.runBranch,
    ...renderExperimentPullRequest({ issue, k, runPullRequest: run.pull.number, hypothesis, proposalRun }),
    draft: false,
  };
  // Opened directly; a redelivered event finds GitHub's "already exists" and the pull request it means.
  const pull = await flow.gateway.createPullRequest(request).catch(async (error: unknown) => {
    const existing = error instanceof PullRequestExistsError ? await flow.gateway.findPullRequest(branch) : null;
    if (!existing) throw error;
    return existing;
  });
  // Labelled when it is decided, in the one request that closes or labels it then (see `decide`).
  const state = withExperiment(run.state, k, { state: 'evaluating', branch, pullRequest: pull.number, headSha: commit.sha, hypothesis, proposalRun, openedAt: flow.now().toISOString() });
  // The dashboard shows the new pull request; the status comment changes only at a step of the run.
  await saveRun(flow, run, state, config, { status: false });
}

/** What an evaluation is checked against, from GitHub and the run state, never from the artifact. */
interface Measured {
  /** The commit that must have been measured: the workflow run's head must be it. */
  headSha: string;
  /** The commit it must have been measured against, and compared with for the scope check. */
  baseSha: string;
}

/** An experiment's pull request as the run state records it: what its evaluation is bound to, and where a keep lands. */
interface ExperimentPull extends Measured {
  number: number;
  /** The run branch: a kept experiment lands there, whatever the pull request's base has been changed to since. */
  runBranch: string;
}

/** Reads, verifies and re-judges the evaluation of an experiment or of the run pull request. */
async function judgeEvaluation(
  flow: Flow,
  workflowRun: WorkflowRunEvent,
  measured: Measured,
  config: Config,
  file: string,
  protectedHash: string | null,
): Promise<{ document: ResultDocument | null; verification: Verification; artifact: string | null }> {
  const fail = (reason: string) => ({ ok: false as const, reason, scopeViolations: [] });
  if (measured.headSha !== workflowRun.headSha) return { document: null, verification: fail('changed after evaluation'), artifact: null };
  // A failed or cancelled evaluation measured nothing that can be trusted, whatever it uploaded.
  if (workflowRun.conclusion !== 'success') return { document: null, verification: fail(`the evaluation workflow ended: ${workflowRun.conclusion ?? 'without a conclusion'}`), artifact: null };
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
    flow.gateway.compare(measured.baseSha, measured.headSha),
    protectedHash ?? flow.gateway.tree(measured.baseSha).then((tree) => protectedHashOfTree(tree, config, file)),
  ]);
  const verification = verifyResult(document, { headSha: measured.headSha, baseSha: measured.baseSha, changes: files.map(changeFromGitHub), protectedHash: expectedHash }, config, file);
  return { document, verification, artifact };
}

async function evaluationCompleted(flow: Flow, workflowRun: WorkflowRunEvent): Promise<void> {
  const branch = workflowRun.headBranch ?? '';
  const experimentOf = parseExperimentBranch(branch);
  const runOf = parseRunBranch(branch);
  const issue = experimentOf?.issue ?? runOf?.issue;
  if (!issue) return ignore(flow, `workflow run ${workflowRun.id}: ${branch || 'no branch'} is not an autoloop branch`);
  const run = await findRun(flow, issue);
  if (!run) return ignore(flow, `workflow run ${workflowRun.id}: no run on #${issue}`);

  if (runOf) return runEvaluationCompleted(flow, workflowRun, run);
  const k = experimentOf!.k;
  const experiment = run.state.experiments.find((e) => e.k === k);
  if (!experiment?.pullRequest || !experiment.headSha || experiment.state !== 'evaluating') return ignore(flow, `workflow run ${workflowRun.id}: experiment ${k} of run #${issue} is not being evaluated`);
  const why = await unbound(flow, workflowRun, experiment.pullRequest);
  if (why) return ignore(flow, `workflow run ${workflowRun.id}: not the evaluation of experiment ${k} (#${experiment.pullRequest}): ${why}`);
  // What counts is the evaluation of the commit the App opened the pull request with (recorded at the proposal), measured
  // against the run branch head it was proposed on: no read of the pull request needed, and a run on any other head (a
  // later push to the branch) is not this experiment's evaluation.
  if (workflowRun.headSha !== experiment.headSha) {
    return ignore(flow, `workflow run ${workflowRun.id}: ran on ${workflowRun.headSha.slice(0, 7)}, experiment ${k} was proposed as ${experiment.headSha.slice(0, 7)}`);
  }
  const pull: ExperimentPull = { number: experiment.pullRequest, headSha: experiment.headSha, baseSha: experiment.parentSha, runBranch: run.state.runBranch };
  const { config, file } = await runConfig(flow.gateway, run.state);
  // Protected files never change along the run branch (the scope forbids it): the hash taken at the start holds.
  const judged = await judgeEvaluation(flow, workflowRun, pull, config, file, run.state.protectedHash);
  const { document, artifact } = judged;
  // suspicious_effect against the run's base too, so that steps each below it cannot add up past it unseen:
  // the gate, the comment and the decision all see the candidate marked suspicious.
  const runBase = judged.verification.ok ? againstRunBase(judged.verification.judgement, runBaseline(run.state), config) : null;
  const verification: Verification = runBase ? { ok: true, judgement: runBase.judgement } : judged.verification;

  const judgement = verification.ok ? verification.judgement : null;
  const outcome = await decide(flow, pull, judgement, verification, runBase?.beyond ?? null);
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
  // One sticky comment per experiment pull request, then one gate on its head, each written once: when the pull request
  // had no comment at all as it was decided, no earlier attempt at this evaluation got as far as its comment, nor (written
  // after it) its gate, so neither is looked for. Otherwise (a redelivery after a partial failure, or a person's comment)
  // the comment is looked for by its marker and edited, and the gate looked up.
  // A gate only where it gates something: on a kept head (the run pull request's head now, until the run's own
  // evaluation reports on it) and on a pull request left open for a human. A discarded one is closed and its comment
  // says why; reopened and merged by hand, it would land on the run branch, whose gate then fails as changed after
  // evaluation.
  const commentId =
    experiment.commentId !== undefined && (await flow.gateway.updateComment(experiment.commentId, comment))
      ? experiment.commentId
      : outcome.earlier
        ? await flow.gateway.upsertComment(pull.number, EXPERIMENT_MARKER, comment)
        : await flow.gateway.createComment(pull.number, comment);
  const open = outcome.state === 'kept' || outcome.state === 'needs-review';
  const gate = open ? await setGate(flow, pull.headSha, document, verification, workflowRun.htmlUrl, outcome.earlier ? {} : { known: 'none' }) : null;
  const decided = withExperiment(state, k, { commentId });
  // Where the run branch is now: the kept head, with its gate; the head read when a fast-forward was refused; else unchanged.
  const runHead =
    outcome.state === 'kept' && gate ? { sha: pull.headSha, gate: gate.id }
    : outcome.head !== undefined && outcome.head !== run.state.runHead?.sha ? { sha: outcome.head }
    : run.state.runHead;
  await advance(flow, run, { ...decided, ...(runHead ? { runHead } : {}) }, config, outcome.head);
}

/**
 * The run pull request's own evaluation: the run head against the default branch (which may have moved since the run
 * started). Bound like an experiment's (this repository, the run pull request, a success), and to the run pull
 * request's head now: a run of an earlier head says nothing of this one (a push to it has failed its gate already).
 * The gate of the head reports the cumulative delta, and the dashboard shows it as the run's result.
 */
async function runEvaluationCompleted(flow: Flow, workflowRun: WorkflowRunEvent, run: LoadedRun): Promise<void> {
  const why = await unbound(flow, workflowRun, run.pull.number);
  if (why) return ignore(flow, `workflow run ${workflowRun.id}: not the evaluation of run pull request #${run.pull.number}: ${why}`);
  const measured = { headSha: run.pull.head.sha, baseSha: run.pull.base.sha };
  if (workflowRun.headSha !== measured.headSha) {
    return ignore(flow, `workflow run ${workflowRun.id}: ran on ${workflowRun.headSha.slice(0, 7)}, run pull request #${run.pull.number} is at ${measured.headSha.slice(0, 7)}`);
  }
  const { config, file } = await runConfig(flow.gateway, run.state);
  const { document, verification, artifact } = await judgeEvaluation(flow, workflowRun, measured, config, file, null);
  // Its id is in the state when the App wrote the gate of this head: a kept experiment's, or an earlier evaluation's of it.
  const known = run.state.runHead?.sha === measured.headSha ? run.state.runHead.gate : undefined;
  const gate = await setGate(flow, measured.headSha, document, verification, workflowRun.htmlUrl, known === undefined ? {} : { known });
  const state: AppRunState = {
    ...run.state,
    runHead: { sha: measured.headSha, gate: gate.id },
    confirmation: confirmationOf(measured, verification, workflowRun.htmlUrl, artifact),
  };
  await saveRun(flow, run, state, config);
}

/** A finite number, or null (what JSON keeps of NaN and Infinity). */
function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** The run pull request's evaluation, as the run state records it. */
function confirmationOf(measured: Measured, verification: Verification, evaluationRun: string, artifact: string | null): RunConfirmation {
  const judgement = verification.ok ? verification.judgement : null;
  const links = { evaluationRun, ...(artifact ? { artifact } : {}) };
  if (!judgement || judgement.verdict === 'invalid') {
    const reason = verification.ok ? judgement!.reasons.join('; ') : verification.reason;
    return { ...measured, verdict: 'invalid', ...(reason ? { reason: reason.slice(0, 500) } : {}), ...links };
  }
  return {
    ...measured,
    verdict: judgement.verdict,
    baseline: finiteOrNull(judgement.baseline.mean),
    candidate: finiteOrNull(judgement.candidate.mean),
    delta: finiteOrNull(judgement.delta),
    deltaRelative: finiteOrNull(judgement.deltaRelative),
    interval: judgement.interval ? { low: finiteOrNull(judgement.interval.low), high: finiteOrNull(judgement.interval.high), level: judgement.interval.level } : null,
    ...links,
  };
}

/** Sets `autoloop/gate` on `sha` from the verified result. */
async function setGate(
  flow: Flow,
  sha: string,
  document: ResultDocument | null,
  verification: Verification,
  detailsUrl: string,
  options: { known?: number | 'none' } = {},
): Promise<CheckRunWritten> {
  const gate = renderGateOutput({
    document,
    ...(verification.ok ? { judgement: verification.judgement } : { verificationFailure: verification.reason, scopeViolations: verification.scopeViolations }),
  });
  return flow.gateway.setCheckRun({
    name: GATE_CHECK_NAME,
    sha,
    status: 'completed',
    conclusion: gate.conclusion,
    output: { title: gate.title, summary: gate.summary },
    detailsUrl,
    ...(options.known === undefined ? {} : { known: options.known }),
  });
}

/** Why a kept improvement was discarded after all: the run branch is no longer the head it was measured on. */
export const NOT_FAST_FORWARD_REASON = 'the run branch moved since it was measured (no fast-forward to it); discarded';

/** What {@link decide} did with an experiment. */
interface Outcome {
  state: AppExperiment['state'];
  reason?: string;
  /** The run branch head now, when the decision moved it (a keep) or read it (a fast-forward refused). */
  head?: string;
  /**
   * The experiment pull request had comments as it was decided: an earlier attempt at this evaluation may have written
   * its comment and gate, so both are looked for before they are written.
   */
  earlier: boolean;
}

/**
 * Keep (fast-forward the run branch to it), leave for a human (suspicious), or discard (close); then label it, in the
 * same request as the close (`PATCH .../issues/{number}` sets state and labels at once: every pull request is an issue,
 * https://docs.github.com/en/rest/issues/issues#update-an-issue), whose answer also says whether the pull request has
 * comments. `beyond`: why the judgement was marked suspicious against the run's base ({@link againstRunBase}), null when
 * it was not.
 */
async function decide(flow: Flow, pull: ExperimentPull, judgement: Judgement | null, verification: Verification, beyond: string | null): Promise<Outcome> {
  const { gateway } = flow;
  const discard = async () => (await gateway.updateIssue(pull.number, { state: 'closed', labels: [LABELS.experiment, LABELS.discarded] })).comments > 0;
  const decision = verification.ok ? decideExperiment(judgement) : 'invalid';
  if (decision === 'keep') {
    // The run branch moves to the very commit that was measured (no merge commit, no merge method): what lands is
    // what was measured, and GitHub marks the experiment pull request merged.
    const landed = await gateway.fastForward(pull.runBranch, pull.headSha);
    if (landed !== 'not-fast-forward') {
      const { comments } = await gateway.updateIssue(pull.number, { labels: [LABELS.experiment] });
      return { state: 'kept', head: pull.headSha, earlier: comments > 0 };
    }
    // Moved by someone the state may not know of yet: where it is now is where the next experiments start.
    const earlier = await discard();
    const head = await gateway.branchSha(pull.runBranch);
    return { state: 'invalid', reason: NOT_FAST_FORWARD_REASON, earlier, ...(head === null ? {} : { head }) };
  }
  if (decision === 'review') {
    const { comments } = await gateway.updateIssue(pull.number, { labels: [LABELS.experiment, LABELS.review] });
    return { state: 'needs-review', reason: beyond ?? 'gain beyond suspicious_effect: a human must review it', earlier: comments > 0 };
  }
  const earlier = await discard();
  if (!verification.ok) return { state: 'invalid', reason: verification.reason, earlier };
  if (decision === 'invalid') return { state: 'invalid', reason: judgement?.reasons.join('; ') ?? 'no valid result', earlier };
  return { state: 'discarded', reason: judgement!.reasons.join('; '), earlier };
}
