/** What the `command` proposer's agent changed in its worktree, and putting back what it may not change. */
import { rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { ScopeViolation } from '../core/ledger/records.js';
import { checkScope, type FileChange, type ScopeRules } from '../core/scope/scope.js';
import { git } from '../engine/git.js';
import { ProposalError } from '../core/propose/proposer.js';

/** Paths per git command when restoring files, well below any argument-length limit. */
const PATH_BATCH = 200;

/** Where HEAD is: the commit, and the branch when it is not detached (autoloop's worktrees are). */
export async function headOf(worktree: string): Promise<{ commit: string; branch: string | null }> {
  const commit = (await git(worktree, ['rev-parse', 'HEAD'])).trim();
  const branch = await git(worktree, ['symbolic-ref', '--quiet', 'HEAD']).then((out) => out.trim(), () => null);
  return { commit, branch };
}

/**
 * Undoes what the agent did to HEAD and the index, leaving its files as they are: a commit it made
 * (aider commits by default) or a branch it switched to, and anything it staged.
 */
export async function restoreHead(worktree: string, before: { commit: string; branch: string | null }): Promise<void> {
  const after = await headOf(worktree);
  if (after.commit !== before.commit || after.branch !== before.branch) {
    if (before.branch) {
      await git(worktree, ['update-ref', '-m', 'autoloop: undo the agent\'s commit', before.branch, before.commit]);
      await git(worktree, ['symbolic-ref', 'HEAD', before.branch]);
    } else {
      await git(worktree, ['update-ref', '--no-deref', 'HEAD', before.commit]);
    }
  }
  await git(worktree, ['reset', '--quiet']);
}

/** Every change in the worktree against HEAD (the index is HEAD's), untracked files one by one. */
export async function worktreeChanges(worktree: string): Promise<FileChange[]> {
  const out = await git(worktree, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames', '--ignore-submodules=none']);
  const changes: FileChange[] = [];
  for (const entry of splitNul(out)) {
    const status = entry.slice(0, 2);
    const file = entry.slice(3);
    changes.push({ path: file, change: status === '??' ? 'added' : status.includes('D') ? 'deleted' : 'modified' });
  }
  return changes;
}

/**
 * Reverts the changes outside the scope, then looks again (a reverted `.gitignore` can reveal files it
 * hid) until nothing outside is left. Returns every violation reverted.
 */
export async function revertOutOfScope(worktree: string, changes: FileChange[], rules: ScopeRules): Promise<ScopeViolation[]> {
  const reverted: ScopeViolation[] = [];
  let current = changes;
  for (let pass = 0; pass < 3; pass++) {
    const violations = checkScope(current, rules);
    if (violations.length === 0) return reverted;
    const outside = new Set(violations.map((violation) => violation.path));
    await revert(worktree, current.filter((change) => outside.has(change.path)));
    reverted.push(...violations);
    current = await worktreeChanges(worktree);
  }
  const left = checkScope(current, rules);
  if (left.length > 0) throw new ProposalError(`could not revert the agent's changes outside the scope: ${summarisePaths(left.map((v) => v.path))}`, { reverted });
  return reverted;
}

/** Puts the listed paths back as HEAD has them: new files deleted, changed and deleted ones restored. */
export async function revert(worktree: string, changes: readonly FileChange[]): Promise<void> {
  const root = path.resolve(worktree);
  for (const change of changes.filter((c) => c.change === 'added')) {
    const file = path.resolve(root, change.path);
    if (!file.startsWith(root + path.sep)) continue;
    await rm(file, { force: true, recursive: true });
    await removeEmptyParents(root, path.dirname(file));
  }
  const restore = changes.filter((c) => c.change !== 'added').map((c) => c.path);
  for (let i = 0; i < restore.length; i += PATH_BATCH) {
    await git(worktree, ['--literal-pathspecs', 'checkout', '--quiet', 'HEAD', '--', ...restore.slice(i, i + PATH_BATCH)]);
  }
}

async function removeEmptyParents(root: string, dir: string): Promise<void> {
  for (let current = dir; current.startsWith(root + path.sep); current = path.dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
  }
}

/** `a, b and 3 more`. */
export function summarisePaths(paths: readonly string[]): string {
  const unique = [...new Set(paths)];
  return unique.length <= 3 ? unique.join(', ') : `${unique.slice(0, 3).join(', ')} and ${unique.length - 3} more`;
}

/** The fields of git's NUL-separated output. */
export function splitNul(text: string): string[] {
  return text.split('\0').filter((field) => field !== '');
}
