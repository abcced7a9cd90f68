import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Config } from '../core/config/config-schema.js';
import type { ExperimentRecord, ScopeViolation } from '../core/ledger/records.js';
import { checkScope, scopeRules, type FileChange } from '../core/scope/scope.js';
import { checkTreeEntries, SYMLINK_MODE } from '../core/scope/tree-safety.js';
import { ProposalError, type Proposal, type Proposer } from '../core/propose/proposer.js';
import { blobText, commitAll, diffPatch, fileChanges, prefetchDiffPatch, rawChanges, treeItems } from './git.js';
import { RepoGuard, removeStrayFiles, worktreeFiles } from './repo-guard.js';
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

/**
 * Asks the proposer for experiment `k` and commits what it wrote, on top of `parent`.
 *
 * The proposer shares the user's `.git` (its worktree is one of the repository's): what the git directory
 * holds that changes how git behaves (config, `info/`, hooks, the worktrees' configs and links) and every
 * ref are read before it runs. If any of it changed by the time it is done (an fsmonitor or smudge filter
 * configured, attributes or a hook planted, a replace ref created, the run branch moved) the change is
 * undone and the experiment is rejected, recorded invalid with what changed. Files the proposer left in the
 * worktree that the commit does not hold (ignored ones) are removed, so that what is measured is the commit.
 */
export async function proposeCandidate(options: ProposeOptions): Promise<ProposeOutcome> {
  const { signal } = options;
  const guard = await RepoGuard.of(options.worktree);
  await guard.trust({ refs: true });
  const filesBefore = await worktreeFiles(options.worktree);
  const started = performance.now();
  let proposal: Proposal | null = null;
  let failure: unknown;
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
    failure = error;
  }
  const proposeMs = performance.now() - started;
  // Undone before autoloop runs git in the worktree again: nothing the proposer configured may run through it.
  await guard.restore({ refs: true });
  const tampered = guard.changesSinceTrust();
  const removeStray = async (commit: string) => removeStrayFiles(options.worktree, filesBefore, new Set((await treeItems(options.worktree, commit)).map((item) => item.path)));
  const tamperedReason = tampered.length > 0 ? `the proposer changed the repository's git directory, which is not its to change (undone): ${tampered.join('; ')}` : null;
  if (failure !== undefined || tamperedReason) await removeStray(options.parent);

  if (failure !== undefined) {
    if (signal?.aborted) return { kind: 'interrupted' };
    if (failure instanceof ProposalError) {
      return { kind: 'failed', reason: [failure.message, tamperedReason].filter(Boolean).join('; '), notes: failure.notes, proposeMs };
    }
    throw failure;
  }
  if (tamperedReason) return { kind: 'failed', reason: tamperedReason, notes: { ...(proposal?.notes ?? {}), ...(proposal ? { hypothesis: proposal.hypothesis } : {}), gitChanges: tampered }, proposeMs };
  if (signal?.aborted) return { kind: 'interrupted' };
  if (!proposal) return { kind: 'exhausted' };
  // The trace's proposal.json is written while the candidate is committed; the diff that inspectCandidate
  // writes next, from the repository's checkout, is made while HEAD moves and stray files go (nothing runs
  // in the worktree or the git directory meanwhile).
  const [, candidate] = await Promise.all([
    writeFile(join(options.trace, 'proposal.json'), `${JSON.stringify({ experiment: options.experiment, parent: options.parent, proposer: options.proposer.kind, ...proposal }, null, 2)}\n`),
    commitAll(options.worktree, proposalCommitMessage(proposal.hypothesis, options.experiment), (commit) => prefetchDiffPatch(dirname(guard.commonDir), options.parent, commit)),
  ]);
  const stray = await removeStray(candidate);
  return { kind: 'proposed', proposal: stray.length > 0 ? { ...proposal, notes: { ...proposal.notes, removedUntracked: stray.slice(0, 50) } } : proposal, candidate, proposeMs };
}

/** What a candidate changed, and what of that its scope forbids. */
export interface Inspection {
  changes: FileChange[];
  violations: ScopeViolation[];
}

/** Every symlink of a commit's tree with its target. */
async function symlinkTargets(repo: string, commit: string): Promise<Map<string, string>> {
  const links = (await treeItems(repo, commit)).filter((item) => item.mode === SYMLINK_MODE);
  return new Map(await Promise.all(links.map(async (item): Promise<[string, string]> => [item.path, await blobText(repo, item.object)])));
}

/**
 * Lists the candidate's changes against its parent, checks them against the scope and against what no
 * scope allows (a `.gitattributes`, a symlink leaving the worktree, a gitlink), and writes the diff to
 * `diff.patch` in the trace: nothing of the candidate has run yet.
 */
export async function inspectCandidate(repo: string, config: Config, configFile: string, parent: string, candidate: string, trace: string): Promise<Inspection> {
  const [entries, patch] = await Promise.all([rawChanges(repo, parent, candidate), diffPatch(repo, parent, candidate)]);
  await writeFile(join(trace, 'diff.patch'), patch);
  const changes = fileChanges(entries);
  const links = entries.some((entry) => entry.newMode === SYMLINK_MODE) ? await symlinkTargets(repo, candidate) : new Map<string, string>();
  // A renamed entry is new at its path.
  const added = entries.map((entry) => (entry.status === 'R' || entry.status === 'C' ? { ...entry, oldMode: null } : entry));
  return { changes, violations: [...checkScope(changes, scopeRules(config, configFile)), ...checkTreeEntries(added, links)] };
}
