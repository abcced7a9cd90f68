import { ARTIFACTS } from '../protocol/protocol.js';
import { code, link, oneLine, title } from './markdown.js';

/** What the experiment pull request names: its run, its number, the proposer's hypothesis and the run that proposed it. */
export interface ExperimentPullRequestInput {
  issue: number;
  k: number;
  /** The run pull request, the dashboard. */
  runPullRequest: number;
  /** The first line of the proposal's commit message; empty when the proposer gave none. */
  hypothesis: string;
  /** The workflow run that proposed it, whose trace artifact holds the prompt and the diff. */
  proposalRun: string;
}

/** Most characters of the hypothesis in the title (GitHub allows 256 in all) and in the body. */
const MAX_TITLE_HYPOTHESIS = 200;
const MAX_BODY_HYPOTHESIS = 2_000;

/**
 * The title and body of experiment k's pull request into the run branch: the run it belongs to, the
 * hypothesis (proposer text, inert and capped by the App: at most 200 characters in the title, 2,000 in the body), and
 * where its trace is. The sticky comment shows the result.
 */
export function renderExperimentPullRequest(input: ExperimentPullRequestInput): { title: string; body: string } {
  const { issue, k, hypothesis } = input;
  return {
    title: `autoloop #${issue}, experiment ${k}: ${title(hypothesis || 'proposal', MAX_TITLE_HYPOTHESIS)}`,
    body: [
      `Experiment ${k} of the autoloop run on #${issue} (run pull request #${input.runPullRequest}).`,
      '',
      `**Hypothesis:** ${hypothesis ? oneLine(hypothesis, MAX_BODY_HYPOTHESIS) : '(none given)'}`,
      '',
      `Proposed by ${link('this workflow run', input.proposalRun)} (its ${code(ARTIFACTS.trace)} artifact holds the trace). CI measures it against the run branch; the sticky comment below will show the result.`,
    ].join('\n'),
  };
}
