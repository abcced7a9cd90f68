/**
 * Reconciliation: what lost webhooks, crashes between two requests and racing replicas left undone, found on GitHub
 * and done. Every step of a run records its intent (the state) before its side effect, and every side effect is
 * idempotent, so redoing a step completes it: a workflow run whose `workflow_run` webhook never arrived is looked up
 * through the Actions API and handled as its webhook would have been (the run pull request's own evaluation too, so that
 * its gate reports the run); a dispatch that never started a run marks its experiment invalid; a stop or a spent budget
 * finishes the run; a finished run is made ready for review.
 */
import { finishIfDone, isInFlight, shouldDispatch, withExperiment, type AppExperiment } from '../../core/app/state.js';
import { LABELS, parseRunBranch, proposalRunName, WORKFLOW_FILE } from '../../core/protocol/protocol.js';
import type { ListedWorkflowRun } from '../github.js';
import { advance, dispatchProposal, finalize, findRun, isThisRepository, RunPausedError, runConfig, saveRun, type Flow, type WorkflowRunEvent } from './run.js';
import { handleWorkflowRun } from './workflow-runs.js';

/**
 * A dispatched proposal with no workflow run after this long was lost: GitHub lists a dispatched run from the moment it
 * is queued (https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow), seconds after the dispatch.
 */
export const DISPATCH_GRACE_MS = 10 * 60_000;
/** How often a proposal is dispatched before the sweep gives up on it: a transient failure of the dispatch is retried once. */
export const MAX_DISPATCHES = 2;
/**
 * An experiment pull request with no evaluation run for its head after this long never started one (the
 * `pull_request` trigger queues it when the pull request opens; a queued run is listed).
 */
export const EVALUATION_GRACE_MS = 30 * 60_000;

/** A listed run, as its `workflow_run.completed` webhook would have described it. */
function asEvent(run: ListedWorkflowRun): WorkflowRunEvent {
  return {
    id: run.id,
    path: run.path,
    event: run.event,
    conclusion: run.conclusion,
    headBranch: run.headBranch,
    headSha: run.headSha,
    displayTitle: run.displayTitle,
    htmlUrl: run.htmlUrl,
    repository: run.repository,
    headRepository: run.headRepository,
    pullRequests: run.pullRequests,
  };
}

function olderThan(flow: Flow, since: string, ms: number): boolean {
  const at = Date.parse(since);
  return !Number.isFinite(at) || flow.now().getTime() - at > ms;
}

/** A listed run of this repository on a head of this repository (a fork's is never acted on, as its webhook would not be). */
function ours(flow: Flow, run: ListedWorkflowRun): boolean {
  return isThisRepository(run.repository, flow.gateway.ref) && isThisRepository(run.headRepository, flow.gateway.ref);
}

/** What one in-flight experiment needs, found on GitHub: a completed run to handle, a lost one to give up on, or nothing yet. */
async function lookUp(flow: Flow, issue: number, runBranch: string, experiment: AppExperiment): Promise<{ run: ListedWorkflowRun } | { lost: string } | { redispatch: true } | null> {
  if (experiment.state === 'proposing') {
    const runs = (await flow.gateway.listWorkflowRuns(WORKFLOW_FILE, { branch: runBranch, event: 'workflow_dispatch', headSha: experiment.parentSha }))
      .filter((run) => ours(flow, run) && run.displayTitle === proposalRunName(issue, experiment.k));
    const completed = runs.find((run) => run.status === 'completed');
    if (completed) return { run: completed };
    if (runs.length > 0 || !olderThan(flow, experiment.dispatchedAt, DISPATCH_GRACE_MS)) return null;
    if ((experiment.dispatches ?? 1) < MAX_DISPATCHES) return { redispatch: true };
    return { lost: `its proposal workflow never started, dispatched ${MAX_DISPATCHES} times (the dispatches were lost)` };
  }
  if (!experiment.branch || !experiment.headSha) return null;
  const runs = (await flow.gateway.listWorkflowRuns(WORKFLOW_FILE, { branch: experiment.branch, event: 'pull_request', headSha: experiment.headSha })).filter((run) => ours(flow, run));
  const completed = runs.find((run) => run.status === 'completed');
  if (completed) return { run: completed };
  if (runs.length > 0 || !olderThan(flow, experiment.openedAt ?? experiment.dispatchedAt, EVALUATION_GRACE_MS)) return null;
  return { lost: `no evaluation ran for its head ${experiment.headSha.slice(0, 7)} within ${EVALUATION_GRACE_MS / 60_000} minutes (is \`.github/workflows/autoloop.yml\` triggered by pull_request?)` };
}

/**
 * Brings the run on `issue` up to date with GitHub; returns what it did, one line each (empty when nothing was
 * missing). Only an open run pull request with a state the App signed is touched.
 */
export async function reconcileRun(flow: Flow, issue: number): Promise<string[]> {
  const done: string[] = [];
  const first = await findRun(flow, issue);
  if (!first) return done;
  for (const experiment of first.state.experiments.filter(isInFlight)) {
    const found = await lookUp(flow, issue, first.state.runBranch, experiment);
    if (found === null) continue;
    if ('run' in found) {
      // Handled exactly as its webhook: the same binding checks, and the state re-read first.
      await handleWorkflowRun(flow, asEvent(found.run));
      done.push(`experiment ${experiment.k}: handled workflow run ${found.run.id}, whose webhook was missed`);
      continue;
    }
    const run = await findRun(flow, issue);
    const current = run?.state.experiments.find((e) => e.k === experiment.k);
    if (!run || !current || current.state !== experiment.state) continue;
    const { config } = await runConfig(flow.gateway, run.state);
    if ('redispatch' in found) {
      // Recorded first, dispatched after (as every dispatch): a crash in between leaves it for the next sweep.
      const dispatches = (current.dispatches ?? 1) + 1;
      await saveRun(flow, run, withExperiment(run.state, current.k, { dispatches, dispatchedAt: flow.now().toISOString() }), config, { status: false });
      await dispatchProposal(flow, run.state, current.k, current.parentSha);
      done.push(`experiment ${current.k}: dispatched again, no workflow run had started`);
      continue;
    }
    // Closed and labelled in one request, as a discard is (see `decide` in ./workflow-runs.ts).
    if (current.pullRequest !== undefined) await flow.gateway.updateIssue(current.pullRequest, { state: 'closed', labels: [LABELS.experiment, LABELS.discarded] });
    await advance(flow, run, withExperiment(run.state, experiment.k, { state: 'invalid', reason: found.lost }), config);
    done.push(`experiment ${experiment.k}: invalid, ${found.lost}`);
  }
  const run = await findRun(flow, issue);
  if (!run) return done;
  const { state } = run;
  if (finishIfDone(state) !== state || shouldDispatch(state) > 0) {
    const { config } = await runConfig(flow.gateway, state);
    await advance(flow, run, state, config);
    done.push(finishIfDone(state).status === 'finished' ? 'finished the run' : 'dispatched what the budget allows');
  } else if (state.status === 'finished' && run.pull.draft) {
    const { config } = await runConfig(flow.gateway, state);
    await finalize(flow, run.pull, config);
    done.push('made the finished run ready for review');
  } else if (state.status === 'finished' && !run.pull.draft && state.confirmation?.headSha !== run.pull.head.sha) {
    // Ready for review, and CI's evaluation of its head against the base branch not judged yet: its workflow run may
    // have completed with its webhook lost, and then the gate of the head would never report the run.
    const completed = (await flow.gateway.listWorkflowRuns(WORKFLOW_FILE, { branch: state.runBranch, event: 'pull_request', headSha: run.pull.head.sha }))
      .filter((listed) => ours(flow, listed))
      .find((listed) => listed.status === 'completed');
    if (completed) {
      // Handled exactly as its webhook: the same binding checks (the run pull request, its head), the state re-read first.
      await handleWorkflowRun(flow, asEvent(completed));
      done.push(`run pull request #${run.pull.number}: handled workflow run ${completed.id}, whose webhook was missed`);
    }
  }
  return done;
}

/**
 * {@link reconcileRun} for every open run pull request of the repository (its open pull requests from `autoloop/<n>/run`).
 * A run that fails to reconcile is logged and the others still are. Returns the number of runs looked at.
 */
export async function sweepRepository(flow: Flow): Promise<number> {
  const issues = new Set<number>();
  for (const pull of await flow.gateway.listOpenPullRequests()) {
    const issue = parseRunBranch(pull.head.ref)?.issue;
    if (issue !== undefined) issues.add(issue);
  }
  const where = `${flow.gateway.ref.owner}/${flow.gateway.ref.repo}`;
  for (const issue of issues) {
    try {
      const done = await reconcileRun(flow, issue);
      for (const line of done) flow.log.info(`autoloop: sweep of ${where}#${issue}: ${line}`);
    } catch (error) {
      if (error instanceof RunPausedError) continue;
      flow.log.warn(`autoloop: sweep of ${where}#${issue} failed: ${(error as Error).message}`);
    }
  }
  return issues.size;
}
