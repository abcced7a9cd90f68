import type { Config } from '../config/config-schema.js';
import type { ExperimentRecord } from '../ledger/records.js';
import { AutoloopError, EXIT } from '../errors.js';

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
  /** The experiment's trace folder, where a proposer may write its prompt and answers (redacted). */
  trace?: string;
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

/**
 * The proposer tried and gave up on this experiment (answers that never applied, left the scope or
 * failed the check): the loop records the experiment as invalid with `message` and `notes`, and goes on.
 */
export class ProposalError extends AutoloopError {
  constructor(
    message: string,
    readonly notes: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ProposalError';
  }
}

/** The proposer cannot work as configured (a refused API key, an unknown model): the run stops; the CLI exits 3. */
export class ProposerConfigError extends AutoloopError {
  override readonly exitCode = EXIT.config;

  constructor(message: string) {
    super(message);
    this.name = 'ProposerConfigError';
  }
}
