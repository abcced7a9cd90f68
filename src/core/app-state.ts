/**
 * The state of one App run, kept in GitHub itself (hidden in the run pull request's body) so the App
 * is stateless: any instance can pick a run up from the next event.
 */
import type { Goal } from './config-schema.js';
import type { Verdict } from './records.js';

/** Where one experiment of an App run stands. */
export type AppExperimentState =
  /** The propose workflow was dispatched; no branch yet. */
  | 'proposing'
  /** The experiment pull request is open; CI evaluates it. */
  | 'evaluating'
  | 'kept'
  | 'discarded'
  | 'invalid'
  /** A suspicious gain: left open for a human. */
  | 'needs-review';

export interface AppExperiment {
  k: number;
  state: AppExperimentState;
  /** The run branch head the experiment started from. */
  parentSha: string;
  dispatchedAt: string;
  hypothesis?: string;
  /** Experiment branch and pull request, once proposed. */
  branch?: string;
  pullRequest?: number;
  headSha?: string;
  /** Measured figures, once evaluated. */
  baseline?: number | null;
  candidate?: number | null;
  delta?: number | null;
  deltaRelative?: number | null;
  verdict?: Verdict;
  /** Why it is invalid or was discarded, for people. */
  reason?: string;
  /** Links: the proposal workflow run, the evaluation workflow run, the result artifact. */
  proposalRun?: string;
  evaluationRun?: string;
  artifact?: string;
}

export interface AppRunState {
  version: 1;
  /** The issue (or pull request) whose `/optimize` started the run. */
  issue: number;
  runBranch: string;
  /** The default branch the run started from and will be merged into. */
  baseBranch: string;
  baseSha: string;
  /** The run pull request (the dashboard). */
  pullRequest: number | null;
  /** The status comment on the issue. */
  statusComment: number | null;
  metric: { name: string; goal: Goal };
  goalText: string;
  startedBy: string;
  startedAt: string;
  budget: { experiments: number; parallel: number; maxFailures: number };
  status: 'running' | 'stopping' | 'finished';
  stopReason: string | null;
  experiments: AppExperiment[];
}
