/** Pushes to and closings of autoloop's pull requests by anyone but the App. */
import { withExperiment } from '../../core/app/state.js';
import { GATE_CHECK_NAME, LABELS, parseExperimentBranch, parseRunBranch } from '../../core/protocol/protocol.js';
import { advance, findRun, ignore, isThisRepository, requireAppIdentity, RunPausedError, runConfig, saveRun, type Flow } from './run.js';

/** The part of a `pull_request` payload the App reads. */
export interface PullRequestEvent {
  action: string;
  number: number;
  headRef: string;
  headSha: string;
  merged: boolean;
  senderIsApp: boolean;
  /**
   * `pull_request.head.repo.full_name` (null when GitHub names none: a deleted fork). A fork's pull request is ignored
   * before anything is read. Left out by a caller, the number alone binds it: the recorded pull requests are the App's
   * own, opened from this repository's branches, and a pull request's head repository never changes.
   */
  headRepository?: string | null;
}

/**
 * A push to an autoloop pull request by anyone but the App invalidates its gate until it is evaluated
 * again; a human closing an experiment pull request discards the experiment. Only the run's own pull requests
 * count: from this repository, and the run pull request or an experiment's as the run state records them; a
 * pull request of a fork, or of this repository on a branch of the same name, is ignored.
 */
export async function handlePullRequestEvent(flow: Flow, event: PullRequestEvent): Promise<void> {
  requireAppIdentity(flow);
  const experimentOf = parseExperimentBranch(event.headRef);
  const runOf = parseRunBranch(event.headRef);
  if (!experimentOf && !runOf) return;
  if (event.headRepository !== undefined && !isThisRepository(event.headRepository, flow.gateway.ref)) {
    return ignore(flow, `pull request #${event.number}: its head ${event.headRef} is in ${event.headRepository ?? 'an unknown repository'}, not this repository`);
  }
  const synchronized = event.action === 'synchronize' && !event.senderIsApp;
  const closed = event.action === 'closed' && !event.merged && !event.senderIsApp && experimentOf !== null;
  if (!synchronized && !closed) return;
  const issue = (experimentOf ?? runOf)!.issue;
  try {
    const run = await findRun(flow, issue);
    if (!run) return ignore(flow, `pull request #${event.number}: no run on #${issue}`);
    const experiment = experimentOf ? run.state.experiments.find((e) => e.k === experimentOf.k) : undefined;
    const recorded = experimentOf ? experiment?.pullRequest : run.pull.number;
    if (recorded !== event.number) {
      return ignore(flow, `pull request #${event.number} from ${event.headRef}: run #${issue} records ${recorded === undefined ? 'no pull request' : `#${recorded}`} for it`);
    }
    if (synchronized) {
      // Pushed back to the very commit the App proposed: that is the experiment again, and only its evaluation writes the
      // gate of that commit (so that an evaluation finding its pull request without comments may create it unlooked-for).
      if (experiment && event.headSha === experiment.headSha) return ignore(flow, `pull request #${event.number}: pushed back to the proposed commit ${event.headSha.slice(0, 7)}`);
      await flow.gateway.setCheckRun({
        name: GATE_CHECK_NAME,
        sha: event.headSha,
        status: 'completed',
        conclusion: 'failure',
        output: { title: 'changed after evaluation', summary: 'This pull request changed after autoloop measured it. The gate holds until CI evaluates the new head.' },
      });
      // The run branch moved under the run: the App no longer knows its head, and reads it when it next dispatches (from
      // GitHub, so that webhooks of several pushes arriving out of order cannot leave an older head in the state).
      if (runOf && run.state.runHead !== undefined) {
        const { runHead: _forgotten, ...forgetting } = run.state;
        const { config } = await runConfig(flow.gateway, run.state);
        await saveRun(flow, run, forgetting, config, { status: false });
      }
      return;
    }
    if (!experiment || (experiment.state !== 'evaluating' && experiment.state !== 'needs-review')) return;
    const { config } = await runConfig(flow.gateway, run.state);
    // Labelled as every decided experiment is (added to what the person left on it).
    await flow.gateway.addLabels(event.number, [LABELS.experiment, LABELS.discarded]);
    await advance(flow, run, withExperiment(run.state, experiment.k, { state: 'discarded', reason: 'closed by a human' }), config);
  } catch (error) {
    if (error instanceof RunPausedError) return flow.log.warn(`autoloop: pull request #${event.number} not acted on: ${error.message}`);
    throw error;
  }
}
