import { createHash } from 'node:crypto';

/** A file of a git tree: its path and its blob id. */
export interface TreeEntry {
  path: string;
  object: string;
}

/**
 * SHA-256 identifying a set of protected files by path and git blob id, in path order. It can be
 * computed from a local checkout or from GitHub's tree API alike, so a result document's claim of
 * which evaluator measured it can be checked without trusting the document.
 */
export function protectedFilesHash(entries: readonly TreeEntry[]): string {
  const digest = createHash('sha256');
  for (const entry of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    digest.update(`${entry.path}\0${entry.object}\n`);
  }
  return digest.digest('hex');
}
