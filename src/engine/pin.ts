import { protectedEntries, protectedFilesHash, type TreeEntry } from '../core/scope/protected.js';
import type { ScopeRules } from '../core/scope/scope.js';
import { git } from './git.js';

/**
 * The protected files of a run (the evaluator, its data, `.github/**`, the config) as they are in
 * the base commit. Before every measured run they are restored from there, so that candidate code
 * run by `setup` or `check` (or an edit that slipped past the scope check) can never change what
 * measures it.
 */
export class ProtectedFiles {
  private constructor(
    private readonly baseCommit: string,
    /** The base commit's files that match a protected pattern, sorted by path. */
    readonly entries: readonly TreeEntry[],
    /** SHA-256 identifying exactly these files; recorded with every result. */
    readonly hash: string,
  ) {}

  /** Lists the base commit's files that the scope protects. */
  static async load(repo: string, baseCommit: string, rules: ScopeRules): Promise<ProtectedFiles> {
    const listing = await git(repo, ['ls-tree', '-r', '-z', baseCommit]);
    const blobs: TreeEntry[] = [];
    for (const line of listing.split('\0')) {
      // "<mode> <type> <object>\t<path>"
      const tab = line.indexOf('\t');
      if (tab < 0) continue;
      const [, type, object] = line.slice(0, tab).split(' ');
      const path = line.slice(tab + 1);
      if (type === 'blob') blobs.push({ path, object: object! });
    }
    const entries = protectedEntries(blobs, rules);
    return new ProtectedFiles(baseCommit, entries, protectedFilesHash(entries));
  }

  /** Restores every protected file of the base commit into `worktree`. */
  async pin(worktree: string): Promise<void> {
    if (this.entries.length === 0) return;
    await git(worktree, ['--literal-pathspecs', 'checkout', this.baseCommit, '--pathspec-from-file=-'], {
      input: this.entries.map((e) => e.path).join('\n'),
    });
  }
}
