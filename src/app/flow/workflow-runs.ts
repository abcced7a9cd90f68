/** Completed runs of the autoloop workflow: proposals (workflow_dispatch) and evaluations (pull_request). */
import { runBaseline, withExperiment, type AppExperiment } from '../../core/app/state.js';
import { renderExperimentComment } from '../../core/render/experiment-comment.js';
import { renderGateOutput } from '../../core/render/gate.js';
import { renderExperimentPullRequest } from '../../core/render/experiment-pull-request.js';
import { ARTIFACTS, EXPERIMENT_MARKER, hypothesisOfCommit, experimentBranch, GATE_CHECK_NAME, LABELS, parseExperimentBranch, parseProposalRunName, parseRunBranch, RESULT_FILE, WORKFLOW_PATH } from '../../core/protocol/protocol.js';
import type { Config } from '../../core/config/config-schema.js';
import { againstRunBase, decideExperiment } from '../../core/judge/decision.js';
import type { Judgement } from '../../core/ledger/records.js';
import { parseResultDocument, type ResultDocument } from '../../core/result/result.js';
import { changeFromGitHub, protectedHashOfTree, verifyResult, type Verification } from '../../core/result/verify.js';
import { readZip } from '../../core/protocol/zip.js';
import { PullRequestExistsError } from '../github-errors.js';
import { type PullRequestInfo, type RepoGateway } from '../github.js';
import { advance, findRun, runConfig, saveRun, type Flow, type WorkflowRunEvent } from './run.js';

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
  const judged = await judgeEvaluation(flow, workflowRun, pull, config, file, run.state.protectedHash);
  const { document, artifact } = judged;
  // suspicious_effect against the run's base too, so that steps each below it cannot add up past it unseen:
  // the gate, the comment and the decision all see the candidate marked suspicious.
  const runBase = judged.verification.ok ? againstRunBase(judged.verification.judgement, runBaseline(run.state), config) : null;
  const verification: Verification = runBase ? { ok: true, judgement: runBase.judgement } : judged.verification;
  await setGate(flow, pull.head.sha, document, verification, workflowRun.htmlUrl);
  if (!verification.ok && verification.reason === 'changed after evaluation') return;

  const judgement = verification.ok ? verification.judgement : null;
  const outcome = await decide(flow, pull, experiment, judgement, verification, runBase?.beyond ?? null);
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

/** Why a kept improvement was discarded after all: the run branch is no longer the head it was measured on. */
export const NOT_FAST_FORWARD_REASON = 'the run branch moved since it was measured (no fast-forward to it); discarded';

/**
 * Keep (fast-forward the run branch to it), leave for a human (suspicious), or discard (close). `beyond`: why the
 * judgement was marked suspicious against the run's base ({@link againstRunBase}), null when it was not.
 */
async function decide(
  flow: Flow,
  pull: PullRequestInfo,
  experiment: AppExperiment,
  judgement: Judgement | null,
  verification: Verification,
  beyond: string | null,
): Promise<{ state: AppExperiment['state']; reason?: string; head?: string }> {
  const { gateway } = flow;
  const decision = verification.ok ? decideExperiment(judgement) : 'invalid';
  if (decision === 'keep') {
    // The run branch moves to the very commit that was measured (no merge commit, no merge method): what lands is
    // what was measured, and GitHub marks the experiment pull request merged.
    const landed = await gateway.fastForward(pull.base.ref, pull.head.sha);
    if (landed !== 'not-fast-forward') return { state: 'kept', head: pull.head.sha };
    await gateway.setCheckRun({
      name: GATE_CHECK_NAME,
      sha: pull.head.sha,
      status: 'completed',
      conclusion: 'failure',
      output: { title: 'not kept: the run branch moved', summary: 'The improvement was measured against a run branch head that has since moved (another experiment was kept); the run branch cannot be fast-forwarded to it, so it was discarded.' },
    });
    await gateway.closePullRequest(pull.number);
    await gateway.addLabels(pull.number, [LABELS.discarded]);
    return { state: 'invalid', reason: NOT_FAST_FORWARD_REASON };
  }
  if (decision === 'review') {
    await gateway.addLabels(pull.number, [LABELS.review]);
    return { state: 'needs-review', reason: beyond ?? 'gain beyond suspicious_effect: a human must review it' };
  }
  await gateway.closePullRequest(pull.number);
  await gateway.addLabels(pull.number, [LABELS.discarded]);
  if (!verification.ok) return { state: 'invalid', reason: verification.reason };
  if (decision === 'invalid') return { state: 'invalid', reason: judgement?.reasons.join('; ') ?? 'no valid result' };
  return { state: 'discarded', reason: judgement!.reasons.join('; ') };
}
