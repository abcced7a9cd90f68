import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../core/config/config-schema.js';
import type { ExperimentRecord, ScopeViolation } from '../core/ledger/records.js';
import { checkScope, scopeRules, type FileChange } from '../core/scope/scope.js';
import { ProposalError, type Proposal, type Proposer } from '../core/propose/proposer.js';
import { changedFiles, commitAll, diffPatch } from './git.js';
import { proposalCommitMessage } from '../core/protocol/protocol.js';

export interface ProposeOptions {
  proposer: Proposer;
  config: Config;
  /** A worktree checked out at `parent`; the proposer edits it and the candidate is committed there. */
  worktree: string;
  parent: string;
  experiment: number;
  history: readonly ExperimentRecord[];
  goal?: string;
  signal?: AbortSignal;
  /** The experiment's trace folder: `proposal.json` is written there. */
  trace: string;
}

/** The proposer's answer, committed: or why there is none. */
export type ProposeOutcome =
  | { kind: 'proposed'; proposal: Proposal; candidate: string; proposeMs: number }
  | { kind: 'exhausted' }
  | { kind: 'interrupted' }
  /** The proposer gave up on this experiment (ProposalError): recorded invalid with the reason. */
  | { kind: 'failed'; reason: string; notes: Record<string, unknown>; proposeMs: number };

/** Asks the proposer for experiment `k` and commits what it wrote, on top of `parent`. */
export async function proposeCandidate(options: ProposeOptions): Promise<ProposeOutcome> {
  const { signal } = options;
  const started = performance.now();
  let proposal: Proposal | null;
  try {
    proposal = await options.proposer.propose({
      worktree: options.worktree,
      config: options.config,
      experiment: options.experiment,
      history: options.history,
      goal: options.goal,
      signal,
      trace: options.trace,
    });
  } catch (error) {
    if (signal?.aborted) return { kind: 'interrupted' };
    if (error instanceof ProposalError) return { kind: 'failed', reason: error.message, notes: error.notes, proposeMs: performance.now() - started };
    throw error;
  }
  const proposeMs = performance.now() - started;
  if (signal?.aborted) return { kind: 'interrupted' };
  if (!proposal) return { kind: 'exhausted' };
  await writeFile(
    join(options.trace, 'proposal.json'),
    `${JSON.stringify({ experiment: options.experiment, parent: options.parent, proposer: options.proposer.kind, ...proposal }, null, 2)}\n`,
  );
  const candidate = await commitAll(options.worktree, proposalCommitMessage(proposal.hypothesis, options.experiment));
  return { kind: 'proposed', proposal, candidate, proposeMs };
}

/** What a candidate changed, and what of that its scope forbids. */
export interface Inspection {
  changes: FileChange[];
  violations: ScopeViolation[];
}

/**
 * Lists the candidate's changes against its parent, checks them against the scope, and writes the
 * diff to `diff.patch` in the trace: nothing of the candidate has run yet.
 */
export async function inspectCandidate(repo: string, config: Config, configFile: string, parent: string, candidate: string, trace: string): Promise<Inspection> {
  const [changes, patch] = await Promise.all([changedFiles(repo, parent, candidate), diffPatch(repo, parent, candidate)]);
  await writeFile(join(trace, 'diff.patch'), patch);
  return { changes, violations: checkScope(changes, scopeRules(config, configFile)) };
}
