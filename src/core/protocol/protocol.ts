/**
 * The contract between autoloop's front ends: what the Action writes and the App reads (artifact and file
 * names, the workflow, its dispatch inputs and run name), the branches both use, and the hidden markers and
 * names the App puts on GitHub. Every literal that two sides must agree on is here, built and parsed side
 * by side, so that one side cannot change without the other. Branch names are deterministic, so that every
 * step can find its work again (and repeat it without a second effect).
 */
import { CONFIG_PATH, RESULT_FILE, RUN_NAME_PATTERN } from './names.js';
import { clip, title } from '../render/markdown.js';

export { CONFIG_PATH, RESULT_FILE, RUN_NAME_PATTERN };

// ---------------------------------------------------------------------------------------------------
// Branches

/** Every branch autoloop owns starts with this. */
export const BRANCH_PREFIX = 'autoloop/';


/** The run branch that accumulates kept experiments: `autoloop/<run>/run`. */
export function runBranch(run: string | number): string {
  return `${runBranchesPrefix(run)}run`;
}

/** What every branch of run `run` starts with (its run branch and its experiments'): `autoloop/<run>/`. */
export function runBranchesPrefix(run: string | number): string {
  return `${BRANCH_PREFIX}${run}/`;
}

/**
 * The message of the run branch's first commit: an empty commit (the default branch's tree) that gives the run pull
 * request a commit of its own, which GitHub requires of every pull request.
 */
export function runStartCommitMessage(run: string | number): string {
  return `autoloop: start run #${run}\n\nAn empty commit: the run pull request needs a commit of its own. Kept experiments follow it.`;
}

/** The branch of experiment `k` of a run: `autoloop/<run>/exp-<k>`. */
export function experimentBranch(run: string | number, k: number): string {
  return `${BRANCH_PREFIX}${run}/exp-${k}`;
}

const RUN_BRANCH = /^autoloop\/(\d+)\/run$/;
const EXPERIMENT_BRANCH = /^autoloop\/(\d+)\/exp-(\d+)$/;

/** The issue of an App run branch (`autoloop/<issue>/run`), or null for any other branch. */
export function parseRunBranch(branch: string): { issue: number } | null {
  const match = RUN_BRANCH.exec(branch);
  const issue = Number(match?.[1]);
  return match && issue > 0 ? { issue } : null;
}

/** The issue and experiment of an App experiment branch (`autoloop/<issue>/exp-<k>`), or null for any other branch. */
export function parseExperimentBranch(branch: string): { issue: number; k: number } | null {
  const match = EXPERIMENT_BRANCH.exec(branch);
  const issue = Number(match?.[1]);
  const k = Number(match?.[2]);
  return match && issue > 0 && k > 0 ? { issue, k } : null;
}

/** Whether a branch is one of autoloop's (a run or an experiment branch, App or local). */
export function isAutoloopBranch(branch: string): boolean {
  return branch.startsWith(BRANCH_PREFIX);
}

// ---------------------------------------------------------------------------------------------------
// The workflow the App dispatches and the Action runs in

/** The workflow file the App dispatches (copied from examples/workflows/autoloop.yml). */
export const WORKFLOW_FILE = 'autoloop.yml';
/** Where that workflow lives in the repository: the App acts only on runs of this file. */
export const WORKFLOW_PATH = `.github/workflows/${WORKFLOW_FILE}`;

/** The `workflow_dispatch` inputs of a proposal, by the name the workflow and the Action's inputs give them. */
export const DISPATCH_INPUTS = { run: 'run', experiment: 'experiment', parentSha: 'parent-sha' } as const;

/** The inputs the App dispatches for experiment `k` of run `issue`, starting from `parentSha`. */
export function proposalDispatchInputs(issue: number, k: number, parentSha: string): Record<string, string> {
  return { [DISPATCH_INPUTS.run]: String(issue), [DISPATCH_INPUTS.experiment]: String(k), [DISPATCH_INPUTS.parentSha]: parentSha };
}

/**
 * The title (`run-name`) of a proposal's workflow run: `autoloop <run> exp <k>`. The workflow builds it with
 * `format('autoloop {0} exp {1}', inputs.run, inputs.experiment)`; the App reads the experiment back from it.
 */
export function proposalRunName(run: string | number, k: string | number): string {
  return `autoloop ${run} exp ${k}`;
}

/** The experiment number in a proposal run's title ({@link proposalRunName}), or null. */
export function parseProposalRunName(title: string): number | null {
  const k = Number(/\bexp(?:eriment)? (\d+)\b/.exec(title)?.[1]);
  return k > 0 ? k : null;
}

/** Longest hypothesis kept, in characters: in a commit subject, a pull request title and the run state. */
export const MAX_HYPOTHESIS_LENGTH = 200;

/**
 * The message of a candidate's commit: the proposer's hypothesis on the first line (one line, at most
 * MAX_HYPOTHESIS_LENGTH characters, inert: no closing keyword, reference, mention or link, since the commit may
 * reach the default branch, where GitHub acts on them), then the experiment. The Action commits proposals with
 * it; the App reads the hypothesis back with {@link hypothesisOfCommit}.
 */
export function proposalCommitMessage(hypothesis: string, k: number): string {
  return `${title(hypothesis, MAX_HYPOTHESIS_LENGTH)}\n\nautoloop experiment ${k} (candidate)`;
}

/**
 * The hypothesis of a proposal commit ({@link proposalCommitMessage}): its first line, trimmed, at most
 * MAX_HYPOTHESIS_LENGTH characters (whoever pushed the commit, the App keeps no more of it).
 */
export function hypothesisOfCommit(message: string): string {
  return clip(message.slice(0, message.indexOf('\n') < 0 ? message.length : message.indexOf('\n')).trim(), MAX_HYPOTHESIS_LENGTH);
}

// ---------------------------------------------------------------------------------------------------
// Artifacts

/** Artifact names: the evaluation's result document, the proposal's trace, and a whole `loop` run. */
export const ARTIFACTS = { result: 'autoloop-result', trace: 'autoloop-trace', run: 'autoloop-run' } as const;

// ---------------------------------------------------------------------------------------------------
// What the App writes on GitHub

/** The App's check run on experiment and run pull requests; branch protection requires it. */
export const GATE_CHECK_NAME = 'autoloop/gate';
/** First line of the one status comment on the issue that started a run. */
export const STATUS_MARKER = '<!-- autoloop:status -->';
/** First line of the one sticky comment on an experiment pull request. */
export const EXPERIMENT_MARKER = '<!-- autoloop:experiment -->';
/** First line of the one comment on a run pull request whose state the App refused (altered): the run is paused. */
export const STATE_REFUSED_MARKER = '<!-- autoloop:refused-state -->';
/** How every run-state marker in a run pull request's body starts. */
export const STATE_MARKER_PREFIX = '<!-- autoloop:state';
/** Labels of experiment pull requests. */
export const LABELS = { experiment: 'autoloop', discarded: 'autoloop:discarded', review: 'autoloop:needs-review' } as const;

/**
 * The hidden marker on the first line of a `loop` run's pull request body, `<!-- autoloop:run:<tag> -->`, by
 * which a re-run finds its pull request. The tag is percent-encoded and `--` cannot occur, so the marker
 * cannot end the comment early.
 */
export function runPullRequestMarker(tag: string): string {
  return `<!-- autoloop:run:${encodeURIComponent(tag).replace(/-(?=-)/g, '%2D')} -->`;
}
