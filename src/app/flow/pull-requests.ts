/** Pushes to and closings of autoloop's pull requests by anyone but the App. */
import { withExperiment } from '../../core/app/state.js';
import { GATE_CHECK_NAME, parseExperimentBranch, parseRunBranch } from '../../core/protocol/protocol.js';
import { advance, findRun, runConfig, type Flow } from './run.js';

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
