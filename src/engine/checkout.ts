/**
 * A worktree holds exactly its commit before anything of it is measured: both sides, before every
 * measured run. Code that ran there (the candidate's `setup`, `check`, a previous run, an agent in the
 * sibling worktree) may have changed any file, the index that `git reset` trusts, HEAD, or the links
 * to the repository; all of that is put back, and then every tracked file's content on disk is hashed
 * and compared with the commit's blob, by autoloop itself. What cannot be put back makes the
 * measurement invalid, naming the file.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readlink, rm, chmod } from 'node:fs/promises';
import { lstatSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { AutoloopError } from '../core/errors.js';
import { boundGitDir, git, indexTrusted, treeItems, trustIndex, type TreeItem } from './git.js';
import { readSmallFile, repairWorktreeLinks } from './worktrees.js';

/** A checkout could not be made to hold exactly its commit: what is measured there would not be the commit. */
export class CheckoutVerificationError extends AutoloopError {
  constructor(
    message: string,
    readonly worktree: string,
    /** The file that differs, when one does. */
    readonly path: string | null,
  ) {
    super(message, { subject: { dir: worktree, ...(path ? { file: path } : {}) } });
    this.name = 'CheckoutVerificationError';
  }
}

/**
 * What autoloop itself saw of a file when it last hashed it, per worktree: its inode, size, times and
 * mode. A file whose stat still matches was not written since (its ctime would have moved), so it is
 * not read again. Kept in autoloop's memory, out of reach of what runs in the worktree (unlike the index).
 */
interface Seen {
  stat: string;
  object: string;
  mode: string;
}
const seen = new Map<string, Map<string, Seen>>();
/** What was put back in each worktree since it was last asked ({@link takeRepairs}). */
const repairs = new Map<string, string[]>();

/** What {@link verifyCheckout} had to put back in `worktree` since the last call, for the trace; clears it. */
export function takeRepairs(worktree: string): string[] {
  const found = repairs.get(worktree) ?? [];
  repairs.delete(worktree);
  return found;
}

/** A file written this recently may still change within the same clock tick: it is hashed again next time. */
const SETTLED_NS = 1_000_000_000n;

function statKey(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.mode}`;
}

/** The git object id of a blob with this content, in the repository's hash (SHA-1, or SHA-256 for 64-digit ids). */
export function blobId(content: Buffer, like: string): string {
  const hash = createHash(like.length === 64 ? 'sha256' : 'sha1');
  hash.update(`blob ${content.length}\0`);
  hash.update(content);
  return hash.digest('hex');
}

/** Why the file on disk is not the tree entry, or null when it is (exec bit aside: see {@link checkEntry}). */
async function entryProblem(worktree: string, item: TreeItem, known: Map<string, Seen>): Promise<{ problem: string | null; execBit?: boolean }> {
  const file = join(worktree, item.path);
  let stats: BigIntStats;
  try {
    // Synchronous: one stat per tracked file before every run, far cheaper than a trip through the thread pool.
    stats = lstatSync(file, { bigint: true });
  } catch {
    return { problem: 'is missing' };
  }
  const key = statKey(stats);
  const before = known.get(item.path);
  if (before && before.stat === key && before.object === item.object && before.mode === item.mode) return { problem: null };
  let content: Buffer;
  if (item.mode === '120000') {
    if (!stats.isSymbolicLink()) return { problem: 'is not a symbolic link' };
    content = Buffer.from(await readlink(file, { encoding: 'buffer' }));
  } else {
    if (!stats.isFile()) return { problem: stats.isSymbolicLink() ? 'is a symbolic link' : 'is not a regular file' };
    // Not read when its size already says it differs (git's filters, if any, get their say after).
    if (item.size !== null && stats.size !== BigInt(item.size)) return { problem: 'differs from the commit' };
    content = await readFile(file);
  }
  if (blobId(content, item.object) !== item.object) return { problem: 'differs from the commit' };
  const execBit = item.mode === '100755';
  const settled = BigInt(Date.now()) * 1_000_000n - stats.ctimeNs > SETTLED_NS;
  if (settled) known.set(item.path, { stat: key, object: item.object, mode: item.mode });
  else known.delete(item.path);
  return { problem: null, execBit: item.mode === '120000' || ((stats.mode & 0o100n) !== 0n) === execBit ? undefined : execBit };
}

/** Directories on the way to tracked files that are not real directories (a symlink planted to redirect them), shallowest first. */
async function brokenDirectories(worktree: string, items: readonly TreeItem[]): Promise<string[]> {
  const dirs = new Set<string>();
  for (const item of items) {
    const parts = item.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const broken: string[] = [];
  for (const dir of [...dirs].sort((a, b) => a.length - b.length)) {
    if (broken.some((b) => dir.startsWith(`${b}/`))) continue;
    const stats = lstatSync(join(worktree, dir), { throwIfNoEntry: false });
    if (stats && !stats.isDirectory()) broken.push(dir);
  }
  return broken;
}

/**
 * The tracked files whose content on disk is not the commit's: hashed as they are, and then, for those
 * that differ, as git would store them (`git hash-object`, through the repository's own filters, e.g.
 * Git LFS or end-of-line conversion; the filters an agent could plant are kept out by RepoGuard).
 */
async function differing(worktree: string, items: readonly TreeItem[], known: Map<string, Seen>): Promise<Array<{ item: TreeItem; problem: string }>> {
  const found: Array<{ item: TreeItem; problem: string }> = [];
  const execFixes: Array<{ item: TreeItem; exec: boolean }> = [];
  for (const item of items) {
    if (item.mode === '160000') continue;
    const { problem, execBit } = await entryProblem(worktree, item, known);
    if (problem) found.push({ item, problem });
    else if (execBit !== undefined) execFixes.push({ item, exec: execBit });
  }
  // The executable bit is put right in place; where the file system keeps none, there is nothing to measure differently.
  for (const { item, exec } of execFixes) {
    const file = join(worktree, item.path);
    const stats = await lstat(file);
    await chmod(file, exec ? stats.mode | 0o111 : stats.mode & ~0o111).catch(() => undefined);
    known.delete(item.path);
  }
  const filterable = found.filter((f) => f.problem === 'differs from the commit' && f.item.mode !== '120000');
  if (filterable.length === 0) return found;
  const hashes = (await git(worktree, ['hash-object', '--stdin-paths'], { input: filterable.map((f) => f.item.path).join('\n') })).trim().split('\n');
  const cleanAfterFilters = new Set(filterable.filter((f, i) => hashes[i] === f.item.object).map((f) => f.item.path));
  // Remembered like any file that matches, so a large file behind a filter (Git LFS) is not filtered again at every run.
  for (const f of filterable) {
    if (!cleanAfterFilters.has(f.item.path)) continue;
    const stats = await lstat(join(worktree, f.item.path), { bigint: true }).catch(() => null);
    if (stats && BigInt(Date.now()) * 1_000_000n - stats.ctimeNs > SETTLED_NS) known.set(f.item.path, { stat: statKey(stats), object: f.item.object, mode: f.item.mode });
  }
  return found.filter((f) => !cleanAfterFilters.has(f.item.path));
}

/** The index lists exactly the commit's entries (code in the worktree could rewrite it so `reset` and `clean` skip files). */
async function indexMatches(worktree: string, items: readonly TreeItem[]): Promise<boolean> {
  const out = await git(worktree, ['ls-files', '-s', '-z']);
  const entries = out.split('\0').filter((line) => line !== '');
  if (entries.length !== items.length) return false;
  return entries.every((line, i) => {
    const item = items[i]!;
    return line === `${item.mode} ${item.object} 0\t${item.path}`;
  });
}

/**
 * The untracked files of a worktree (`git ls-files -z --others`), by the repository's own ignore rules only
 * (not the user's global ones, which code could have edited). Started early, while the rest is checked,
 * it is given to {@link verifyCheckout}, which uses it only if it finds nothing to put back.
 */
export function listUntracked(worktree: string): Promise<string> {
  const listing = git(worktree, ['-c', 'core.excludesFile=/dev/null', 'ls-files', '-z', '--others', '--exclude-standard']);
  listing.catch(() => undefined);
  return listing;
}

/**
 * Makes `worktree` hold exactly `commit` and checks that it does: its links to the repository, HEAD, the
 * index, no untracked files (ignored ones stay: caches), and every tracked file's content and type on disk
 * equal to the commit's. Returns what had to be put back (empty when nothing was off); throws a
 * {@link CheckoutVerificationError} naming the file when a file cannot be made to match.
 *
 * With `clean` (how `prepareWorktree` resets a worktree already at its commit), untracked files and
 * directories are removed by `git clean -ffdq` as a reset does, with the user's own ignore rules too, and
 * what was put back is not kept for the measurement's trace: it is not the measurement's.
 */
export async function verifyCheckout(worktree: string, commit: string, options: { clean?: boolean; untracked?: Promise<string> } = {}): Promise<string[]> {
  const repaired: string[] = [];
  const gitDir = boundGitDir(worktree);
  if (gitDir) repaired.push(...(await repairWorktreeLinks(worktree, gitDir)));
  const head = gitDir
    ? (readSmallFile(join(gitDir, 'HEAD')) ?? '').trim()
    : (await git(worktree, ['rev-parse', '--verify', '--quiet', 'HEAD']).catch(() => '')).trim();
  if (head !== commit) {
    await git(worktree, ['update-ref', '--no-deref', 'HEAD', commit]);
    repaired.push('HEAD');
  }
  const items = await treeItems(worktree, commit);
  if (!(await indexTrusted(worktree, commit)) && !(await indexMatches(worktree, items))) {
    await git(worktree, ['read-tree', commit]);
    repaired.push('the index');
  }
  // With the links, HEAD and the index as they should be, the untracked files are listed while the tracked
  // ones are checked (or were, from the start: `untracked`); that listing is used only if nothing, not even
  // a tracked `.gitignore`, had to be put back.
  const early = options.clean ? null : repaired.length > 0 ? null : (options.untracked ?? listUntracked(worktree));

  let known = seen.get(worktree);
  if (!known) seen.set(worktree, (known = new Map()));
  const broken = await brokenDirectories(worktree, items);
  for (const dir of broken) await rm(join(worktree, dir), { recursive: true, force: true });
  let bad = await differing(worktree, items, known);
  const putBack = bad.length > 0 || broken.length > 0;
  if (putBack) {
    const restore = [...new Set([...bad.map((b) => b.item.path), ...items.filter((i) => broken.some((d) => i.path.startsWith(`${d}/`))).map((i) => i.path)])];
    repaired.push(...broken.map((d) => `${d} (not a directory)`), ...bad.map((b) => `${b.item.path} (${b.problem})`));
    for (const path of restore) {
      await rm(join(worktree, path), { recursive: true, force: true });
      known.delete(path);
    }
    await git(worktree, ['--literal-pathspecs', 'checkout', '--quiet', commit, '--pathspec-from-file=-'], { input: restore.join('\n') });
    const restored = new Set(restore);
    bad = await differing(worktree, items.filter((i) => restored.has(i.path)), known);
    if (bad.length > 0) {
      const first = bad[0]!;
      throw new CheckoutVerificationError(
        `${first.item.path} in the checkout of ${commit.slice(0, 12)} ${first.problem} even after it was restored: what would be measured is not the commit`,
        worktree,
        first.item.path,
      );
    }
  }
  // Untracked files go last, once the tracked `.gitignore` files are the commit's again.
  if (options.clean) {
    await git(worktree, ['clean', '-ffdq']);
  } else {
    let untracked: string;
    if (early && !putBack) {
      untracked = await early;
    } else {
      await options.untracked?.catch(() => undefined);
      await early?.catch(() => undefined);
      untracked = await listUntracked(worktree);
    }
    for (const path of untracked.split('\0').filter((p) => p !== '')) {
      await rm(join(worktree, path), { recursive: true, force: true });
      repaired.push(`${path.replace(/\/$/, '')} (untracked)`);
    }
  }
  await trustIndex(worktree, commit);
  if (repaired.length > 0 && !options.clean) repairs.set(worktree, [...(repairs.get(worktree) ?? []), ...repaired]);
  return repaired;
}
