import { protectedEntries, protectedFilesHash, type TreeEntry } from '../core/scope/protected.js';
import type { ScopeRules } from '../core/scope/scope.js';
import { CheckoutVerificationError, listUntracked, verifyCheckout } from './checkout.js';
import { boundGitDir, git, treeItems } from './git.js';
import { RepoGuard } from './repo-guard.js';

/**
 * What every measured run starts from: the repository's git directory as autoloop last trusted it (what
 * changed is put back, and the run is refused: code that ran had no business there), and the worktree
 * holding exactly `commit` (what differs is put back; what cannot be is refused). Throws a
 * {@link CheckoutVerificationError} naming the cause.
 */
export async function verifyBeforeRun(worktree: string, commit: string): Promise<string[]> {
  // Listed while everything else is checked, and used only if nothing at all had to be put back.
  const untracked = boundGitDir(worktree) ? listUntracked(worktree) : undefined;
  const changed = await (await RepoGuard.of(worktree)).restore();
  if (changed.length > 0) {
    await untracked?.catch(() => undefined);
    throw new CheckoutVerificationError(`the repository's git directory was changed (put back): ${changed.join('; ')}`, worktree, null);
  }
  return verifyCheckout(worktree, commit, { untracked });
}

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
    // From here on, what the git directory holds is what every measured run is checked against.
    await (await RepoGuard.of(repo)).trust();
    return new ProtectedFiles(baseCommit, entries, protectedFilesHash(entries));
  }

  /** Whether `commit` holds every protected file exactly as the base commit does. */
  private async sameIn(worktree: string, commit: string): Promise<boolean> {
    const objects = new Map((await treeItems(worktree, commit)).map((item) => [item.path, `${item.type} ${item.object}`]));
    return this.entries.every((entry) => objects.get(entry.path) === `blob ${entry.object}`);
  }

  /**
   * Restores every protected file of the base commit into `worktree`. Given the `commit` the worktree is
   * measured at (the evaluator does, before every run), first makes the worktree hold exactly that commit
   * and the git directory what it held ({@link verifyBeforeRun}).
   */
  async pin(worktree: string, commit?: string): Promise<void> {
    if (commit) await verifyBeforeRun(worktree, commit);
    if (this.entries.length === 0) return;
    // Just verified to hold `commit`: when its protected files are the base's (the usual case), they are in place.
    if (commit && (await this.sameIn(worktree, commit))) return;
    await git(worktree, ['--literal-pathspecs', 'checkout', this.baseCommit, '--pathspec-from-file=-'], {
      input: this.entries.map((e) => e.path).join('\n'),
    });
  }
}
