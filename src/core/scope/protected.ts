import { createHash } from 'node:crypto';
import { pathMatcher, protectedPatterns, type ScopeRules } from './scope.js';

/** A file of a git tree: its path and its blob id. */
export interface TreeEntry {
  path: string;
  object: string;
}

const byPath = (a: TreeEntry, b: TreeEntry): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The files of a tree that a scope protects (the evaluator, its data, `.github/**`, the config), sorted by
 * path. The one matcher of protected files: the Action pins and hashes a checkout's files with it, the App
 * hashes GitHub's tree with it, and the two hashes must agree.
 */
export function protectedEntries(tree: Iterable<TreeEntry>, rules: ScopeRules): TreeEntry[] {
  const isProtected = pathMatcher(protectedPatterns(rules));
  return [...tree].filter((entry) => isProtected(entry.path) !== undefined).sort(byPath);
}

/**
 * SHA-256 identifying a set of protected files by path and git blob id, in path order. It can be
 * computed from a local checkout or from GitHub's tree API alike, so a result document's claim of
 * which evaluator measured it can be checked without trusting the document.
 */
export function protectedFilesHash(entries: readonly TreeEntry[]): string {
  const digest = createHash('sha256');
  for (const entry of [...entries].sort(byPath)) {
    digest.update(`${entry.path}\0${entry.object}\n`);
  }
  return digest.digest('hex');
}
