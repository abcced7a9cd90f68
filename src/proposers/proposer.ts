import type { Config } from '../core/config-schema.js';
import type { ExperimentRecord } from '../core/records.js';

/** What a proposer is given for one experiment. */
export interface ProposalContext {
  /** The candidate worktree, checked out at the best commit so far; edits go here. */
  worktree: string;
  config: Config;
  /** 1-based experiment number. */
  experiment: number;
  /** Every experiment recorded so far in this run, baseline (experiment 0) first: the run's memory. */
  history: readonly ExperimentRecord[];
  /** Free-text goal hint from the user, if any. */
  goal?: string;
  signal?: AbortSignal;
}

/** A proposal: the edits are already written in the worktree. */
export interface Proposal {
  /** One line saying what changed and why, e.g. `lr 0.01 → 0.02`. */
  hypothesis: string;
  /** Anything the proposer wants recorded in the ledger and given back to it as history. */
  notes: Record<string, unknown>;
}

/** Writes candidate changes. Returns null when it has nothing left to propose. */
export interface Proposer {
  readonly kind: string;
  propose(context: ProposalContext): Promise<Proposal | null>;
}
