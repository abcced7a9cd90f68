/** autoloop's own worktrees of a repository: created, reset to a commit, linked back and removed. */
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mergeLines } from '../core/merge/lines.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { bindWorktree, boundGitDir, git, gitCommonDir, rawChanges, trustIndex, unbindWorktree, type RawChange } from './git.js';
import { verifyCheckout } from './checkout.js';

/**
 * The baseline and candidate worktrees of one slot of a run (`root`: the run's folder in `.git/autoloop/`). With
 * `budget.parallel` experiments side by side each slot measures in its own pair; slot 0 keeps the names a
 * serial run has always used (`baseline`, `candidate`), slot 1 is `baseline-1` and `candidate-1`, and so on.
 */
export function slotWorktrees(root: string, slot: number): { baseline: string; candidate: string } {
  const suffix = slot === 0 ? '' : `-${slot}`;
  return { baseline: join(root, `baseline${suffix}`), candidate: join(root, `candidate${suffix}`) };
}

/** Worktree creation per repository, one at a time: concurrent `git worktree add` and `prune` race on `.git/worktrees`. */
const worktreeCreation = new Map<string, Promise<unknown>>();

function serialised<T>(repo: string, task: () => Promise<T>): Promise<T> {
  const result = (worktreeCreation.get(repo) ?? Promise.resolve()).then(task, task);
  worktreeCreation.set(repo, result.catch(() => undefined));
  return result;
}

/** `path` with its directory's symlinks resolved, as git records worktree paths (the file itself may be missing). */
function canonical(path: string): string {
  const absolute = resolve(path);
  try {
    return join(realpathSync(dirname(absolute)), absolute.slice(dirname(absolute).length + 1));
  } catch {
    return absolute;
  }
}

/** The administrative directory in `<commonDir>/worktrees/` whose `gitdir` file names `path`'s `.git`, if any. */
function findWorktreeGitDir(commonDir: string, path: string): string | undefined {
  const admin = join(commonDir, 'worktrees');
  const wanted = canonical(join(path, '.git'));
  let ids: string[];
  try {
    ids = readdirSync(admin);
  } catch {
    return undefined;
  }
  for (const id of ids) {
    let named: string;
    try {
      named = readFileSync(join(admin, id, 'gitdir'), 'utf8').trim();
    } catch {
      continue;
    }
    if (canonical(named) === wanted && existsSync(join(admin, id, 'HEAD'))) return join(admin, id);
  }
  return undefined;
}

/**
 * A small file of git's (`HEAD`, `commondir`, a `.git` file) as text, or null when it is not a regular
 * file or cannot be read. Synchronous (a few bytes, read before every measured run: cheaper than a trip
 * through the thread pool), so it never opens what could block it: a FIFO planted there, a symlink.
 */
export function readSmallFile(path: string): string | null {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) return null;
    return readFileSync(fd, 'utf8');
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Puts back the links between one of autoloop's worktrees and the repository, should code that ran there
 * have changed them: the worktree's `.git` file names its administrative directory, that directory's
 * `commondir` names the repository's, and it holds no `config.worktree`. Returns what it repaired.
 */
export async function repairWorktreeLinks(worktree: string, gitDir: string): Promise<string[]> {
  const repaired: string[] = [];
  const dotGit = join(worktree, '.git');
  const expected = `gitdir: ${gitDir}`;
  const current = readSmallFile(dotGit);
  if (current === null || (current.trim() !== expected && canonical(current.trim().replace(/^gitdir: /, '')) !== canonical(gitDir))) {
    await rm(dotGit, { recursive: true, force: true });
    await writeFile(dotGit, `${expected}\n`);
    repaired.push('.git');
  }
  const commonDir = join(gitDir, 'commondir');
  if (readSmallFile(commonDir)?.trim() !== '../..') {
    await writeFile(commonDir, '../..\n');
    repaired.push(`${gitDir}/commondir`);
  }
  const worktreeConfig = join(gitDir, 'config.worktree');
  if (existsSync(worktreeConfig)) {
    await rm(worktreeConfig, { recursive: true, force: true });
    repaired.push(`${gitDir}/config.worktree`);
  }
  return repaired;
}

/**
 * A detached worktree at `commit`, created or reset so it holds exactly that commit's files: tracked files
 * reset, untracked ones and nested repositories removed (ignored files stay: caches survive). From then on
 * autoloop runs git there through the worktree's administrative directory, not its `.git` file. Content is
 * verified, file by file, by `verifyCheckout` (checkout.ts) before anything is measured.
 *
 * A worktree whose HEAD already is `commit` (the baseline's, from one experiment to the next) is not reset
 * but put back by `verifyCheckout`, which checks HEAD, the index and every tracked file's content itself
 * (stricter than `reset --hard`, which trusts the stat data in an index that code run there could rewrite)
 * and then runs the same `git clean`: one git command instead of two. Should that fail, it is reset.
 */
export async function prepareWorktree(repo: string, path: string, commit: string): Promise<void> {
  const commonDir = await gitCommonDir(repo);
  const known = boundGitDir(path) ?? findWorktreeGitDir(commonDir, path);
  if (!known || !existsSync(path)) {
    await serialised(repo, async () => {
      await git(repo, ['worktree', 'prune']);
      // A folder left where the worktree goes (its registration pruned) is autoloop's own, below the git directory.
      if (existsSync(path) && resolve(path).startsWith(`${commonDir}/`)) await rm(path, { recursive: true, force: true });
      await git(repo, ['worktree', 'add', '--force', '--detach', path, commit]);
    });
    const created = findWorktreeGitDir(commonDir, path);
    if (created) bindWorktree(path, created);
    await trustIndex(path, commit);
    return;
  }
  bindWorktree(path, known);
  if (readSmallFile(join(known, 'HEAD'))?.trim() === commit) {
    const prepared = await verifyCheckout(path, commit, { clean: true }).then(
      () => true,
      () => false,
    );
    if (prepared) return;
  }
  await repairWorktreeLinks(path, known);
  // `--hard` rewrites every file and index entry that differs: the index then lists exactly the commit's tree.
  await git(path, ['reset', '--hard', '--quiet', commit]);
  await trustIndex(path, commit);
  await git(path, ['clean', '-ffdq']);
}

/** Removes a worktree autoloop created. */
export async function removeWorktree(repo: string, path: string): Promise<void> {
  unbindWorktree(path);
  await git(repo, ['worktree', 'remove', '--force', path]).catch(() => undefined);
}

/** A candidate's change carried over to another commit ({@link rebaseCommit}). */
export type Rebased =
  | { kind: 'rebased'; commit: string }
  /** Everything the change did is on the other commit already. */
  | { kind: 'empty' }
  /** The paths where it does not merge (changed on both sides, and not line-mergeable), shown in the reason. */
  | { kind: 'conflict'; paths: string[] };

/** A path `update-index --index-info` reads as it is: no control characters, quotes or backslashes (git would expect it quoted). */
// eslint-disable-next-line no-control-regex -- control characters are what it refuses.
const PLAIN_PATH = /^[^\x00-\x1f\x7f"\\]+$/;

/** The mode of a file both sides modified: the one side's that changed it, or null when both did, differently. */
function mergedMode(theirs: RawChange, ours: RawChange): string | null {
  if (theirs.newMode === theirs.oldMode) return ours.newMode;
  if (ours.newMode === ours.oldMode || ours.newMode === theirs.newMode) return theirs.newMode;
  return null;
}

/** A file's lines, each with its newline (the last one may have none), one character per byte: joined, they are the bytes again. */
function linesOf(bytes: Buffer): string[] {
  return bytes.toString('latin1').split(/(?<=\n)/);
}

/**
 * The three-way merge of a regular file both sides modified ({@link mergeLines}, on the blobs unpacked into
 * `scratch`), written as a blob: its id, or null when the changes do not merge or the file is binary.
 */
async function mergeBlobs(commonDir: string, scratch: string, base: string, ours: string, theirs: string): Promise<string | null> {
  const read = async (blob: string) => readFile(join(scratch, (await git(scratch, [`--git-dir=${commonDir}`, 'unpack-file', blob])).trim()));
  const blobs = [await read(base), await read(ours), await read(theirs)];
  if (blobs.some((bytes) => bytes.includes(0))) return null;
  const merged = mergeLines(...(blobs.map(linesOf) as [string[], string[], string[]]));
  if (!merged) return null;
  const file = join(scratch, 'merged');
  await writeFile(file, Buffer.from(merged.join(''), 'latin1'));
  return (await git(scratch, [`--git-dir=${commonDir}`, 'hash-object', '-w', '--no-filters', '--', file])).trim();
}

/**
 * The change `candidate` made to `parent`, as a new commit on `onto` (a descendant of `parent`: the run head
 * after other experiments were kept), made with plumbing through a temporary index, nothing checked out and
 * no hook, filter or merge driver run. A path only the candidate changed is taken as it is; a regular text
 * file both changed is merged line by line ({@link mergeLines}); anything else both changed does not merge. The
 * caller measures the result before keeping it: a merge that applies cleanly can still be worse.
 */
export async function rebaseCommit(repo: string, change: { parent: string; candidate: string }, onto: string, message: string): Promise<Rebased> {
  const [theirs, ours] = await Promise.all([rawChanges(repo, change.parent, change.candidate), rawChanges(repo, change.parent, onto)]);
  const touched = new Map<string, RawChange>();
  for (const c of ours) for (const path of [c.path, c.oldPath]) if (path !== undefined) touched.set(path, c);
  const commonDir = await gitCommonDir(repo);
  const scratch = await mkdtemp(join(tmpdir(), 'autoloop-rebase-'));
  const entries: string[] = [];
  const conflicts: string[] = [];
  const remove = (path: string) => entries.push(`0 ${'0'.repeat(onto.length)}\t${path}`);
  try {
    for (const c of theirs) {
      const paths = c.oldPath !== undefined ? [c.oldPath, c.path] : [c.path];
      const other = paths.map((path) => touched.get(path)).find((found) => found !== undefined);
      if (!paths.every((path) => PLAIN_PATH.test(path))) {
        conflicts.push(c.path);
      } else if (!other) {
        if (c.status === 'R') remove(c.oldPath!);
        if (c.newObject === null) remove(c.path);
        else entries.push(`${c.newMode} ${c.newObject}\t${c.path}`);
      } else if (other.status === c.status && other.path === c.path && other.oldPath === c.oldPath && other.newObject === c.newObject && other.newMode === c.newMode) {
        // The same change on both sides: `onto` has it already.
      } else {
        const regular = (mode: string | null) => mode === '100644' || mode === '100755';
        const mode = c.status === 'M' && other.status === 'M' && other.path === c.path && regular(c.newMode) && regular(other.newMode) ? mergedMode(c, other) : null;
        const blob = mode ? await mergeBlobs(commonDir, scratch, c.oldObject!, other.newObject!, c.newObject!) : null;
        if (mode && blob) entries.push(`${mode} ${blob}\t${c.path}`);
        else conflicts.push(c.path);
      }
    }
    if (conflicts.length > 0) return { kind: 'conflict', paths: conflicts };
    if (entries.length === 0) return { kind: 'empty' };
    const env = { GIT_INDEX_FILE: join(scratch, 'index') };
    await git(repo, ['read-tree', onto], { env });
    await git(repo, ['update-index', '--index-info'], { env, input: entries.join('\n') });
    const tree = (await git(repo, ['write-tree'], { env })).trim();
    if (tree === (await git(repo, ['rev-parse', `${onto}^{tree}`])).trim()) return { kind: 'empty' };
    return { kind: 'rebased', commit: (await git(repo, ['commit-tree', tree, '-p', onto, '-F', '-'], { input: message })).trim() };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
