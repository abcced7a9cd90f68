/**
 * Entries of a candidate's tree that no scope allows, because what would be measured is then not what
 * the commit holds: a symlink leaving the worktree (the code it runs lives elsewhere, in no commit), a
 * gitlink (a submodule: its code is not in the commit and autoloop never checks it out). Pure: over the
 * modes and symlink targets of `git diff --raw` and `git ls-tree -r`.
 */
import type { ScopeViolation } from '../ledger/records.js';

export const SYMLINK_MODE = '120000';
export const GITLINK_MODE = '160000';

/** One entry that differs between the parent's tree and the candidate's; `null` mode where it does not exist. */
export interface TreeEntryChange {
  path: string;
  oldMode: string | null;
  newMode: string | null;
}

/** Hops through symlinks before a chain counts as a loop (the kernel's limit). */
const MAX_HOPS = 40;

/**
 * Where a symlink at `path` (repository-relative, `/`-separated) pointing to `target` leads, resolved
 * against the tree's other symlinks (`links`: path → target) the way the file system would: null while
 * it stays inside the worktree and out of `.git`, else why not.
 */
export function symlinkEscape(path: string, target: string, links: ReadonlyMap<string, string>): string | null {
  if (target === '') return 'has an empty target';
  if (target.startsWith('/')) return `points to an absolute path (${target})`;
  const stack = path.split('/').slice(0, -1);
  let queue = target.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return `leaves the worktree (${target})`;
      stack.pop();
      continue;
    }
    if (part.toLowerCase() === '.git') return `points into .git (${target})`;
    stack.push(part);
    const next = links.get(stack.join('/'));
    if (next === undefined) continue;
    if (++hops > MAX_HOPS) return `is a loop of symlinks (${target})`;
    if (next.startsWith('/')) return `leads through ${stack.join('/')} to an absolute path (${next})`;
    stack.pop();
    queue = [...next.split('/'), ...queue];
  }
  return null;
}

/**
 * The added or changed entries of a candidate that are never allowed: gitlinks, and symlinks that leave
 * the worktree, point into `.git`, or are absolute ({@link symlinkEscape}; `links` holds every symlink of
 * the candidate's tree). Entries the parent already had unchanged are the user's and are not judged.
 */
export function checkTreeEntries(changes: readonly TreeEntryChange[], links: ReadonlyMap<string, string>): ScopeViolation[] {
  const violations: ScopeViolation[] = [];
  for (const entry of changes) {
    if (entry.newMode === null) continue;
    const change = entry.oldMode === null ? 'added' : 'modified';
    if (entry.newMode === GITLINK_MODE) {
      violations.push({ path: entry.path, change, rule: 'unsafe', pattern: 'a gitlink (submodule) holds code that is not in the commit' });
    } else if (entry.newMode === SYMLINK_MODE) {
      const escape = symlinkEscape(entry.path, links.get(entry.path) ?? '', links);
      if (escape) violations.push({ path: entry.path, change, rule: 'unsafe', pattern: `a symlink that ${escape}: what it runs is not in the commit` });
    }
  }
  return violations;
}
