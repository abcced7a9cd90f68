import { execFile } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FileChange } from '../core/scope/scope.js';
import { scrubEnvironment } from '../core/env/secrets.js';
import { CommandShellPool } from './command-shell.js';
import { AutoloopError } from '../core/errors.js';

/** A git command failed; carries the command and what git said. */
export class GitError extends AutoloopError {
  constructor(
    readonly args: readonly string[],
    readonly cwd: string,
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed in ${cwd}: ${stderr.trim() || 'no output'}`, { subject: { operation: `git ${args.join(' ')}`, dir: cwd } });
    this.name = 'GitError';
  }
}

/** Who autoloop's own commits are by, so commits work where no git identity is configured. */
const IDENTITY = {
  GIT_AUTHOR_NAME: 'autoloop',
  GIT_AUTHOR_EMAIL: 'autoloop@localhost',
  GIT_COMMITTER_NAME: 'autoloop',
  GIT_COMMITTER_EMAIL: 'autoloop@localhost',
};

/**
 * The environment every git autoloop runs gets, on top of the inherited one without secrets and without
 * any `GIT_*` variable (a `GIT_DIR` or `GIT_CONFIG_*` of the caller's must not redirect autoloop's git):
 * no replace objects and no grafts (an agent's `git replace` of the evaluator's blob is invisible), no
 * system or global config or attributes (only the repository's own config, which {@link RepoGuard} keeps
 * as it was), no prompts.
 */
export const HARDENED_GIT_ENV: Readonly<Record<string, string>> = {
  GIT_NO_REPLACE_OBJECTS: '1',
  GIT_GRAFT_FILE: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_ATTR_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_PAGER: 'cat',
  GIT_EDITOR: ':',
};

/**
 * Settings given to every git autoloop runs, over anything a config says: no hooks, no fsmonitor (a hook
 * the repository's config would run on `status`), no global attributes file, no credential helper, no
 * signing program, no auto-gc or maintenance.
 */
export const HARDENED_GIT_CONFIG: readonly string[] = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.attributesFile=/dev/null',
  'credential.helper=',
  'commit.gpgSign=false',
  'tag.gpgSign=false',
  'advice.detachedHead=false',
  'gc.auto=0',
  'maintenance.auto=false',
  'submodule.recurse=false',
];

function inheritedEnvironment(): NodeJS.ProcessEnv {
  const env = scrubEnvironment(process.env, []).env;
  for (const name of Object.keys(env)) if (/^GIT_/i.test(name) || name === 'SSH_ASKPASS') delete env[name];
  return env;
}

// git gets no secrets either: nothing it runs for autoloop needs them.
const shell = new CommandShellPool({ ...inheritedEnvironment(), ...IDENTITY, ...HARDENED_GIT_ENV });

/**
 * The few settings of the user's own global and system config that autoloop's git keeps although it
 * reads neither: `safe.directory` (a checkout owned by another user, as in CI containers) and
 * `core.excludesFile` (what the user ignores everywhere). Read once, outside any repository.
 */
let userSettings: Promise<string[]> | undefined;

function readUserSettings(): Promise<string[]> {
  userSettings ??= new Promise((done) => {
    const env = { ...inheritedEnvironment(), GIT_TERMINAL_PROMPT: '0' };
    const args = ['config', '--show-scope', '--null', '--get-regexp', '^(safe\\.directory|core\\.excludesfile)$'];
    execFile('git', args, { cwd: tmpdir(), env, timeout: 10_000 }, (error, stdout) => {
      if (error && !stdout) return done([]);
      // `<scope>\0<key>\n<value>\0` per entry; only the user's own scopes count (never a repository's).
      const fields = String(stdout).split('\0');
      const settings: string[] = [];
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const scope = fields[i]!;
        const entry = fields[i + 1]!;
        const newline = entry.indexOf('\n');
        if ((scope !== 'global' && scope !== 'system') || newline < 0) continue;
        const key = entry.slice(0, newline).toLowerCase();
        settings.push(`${key === 'safe.directory' ? 'safe.directory' : 'core.excludesFile'}=${entry.slice(newline + 1)}`);
      }
      done(settings);
    });
  });
  return userSettings;
}

/**
 * Worktrees autoloop created, by path, with their administrative directory in `.git/worktrees/`: git
 * runs there with `--git-dir` and `--work-tree` given, never by the worktree's own `.git` file, which
 * code running in the worktree can rewrite to point at a repository of its own.
 */
const boundWorktrees = new Map<string, string>();

/**
 * The stat of each worktree's index when autoloop last knew it to list exactly a commit's tree (it just
 * wrote it, by `reset --hard` or a commit, or checked it entry by entry), by worktree and commit. An
 * index rewritten since (by code in the worktree, to hide a change from `reset`) is checked again.
 */
const knownIndexes = new Map<string, string>();

async function indexStat(worktree: string): Promise<string | null> {
  const gitDir = boundGitDir(worktree);
  if (!gitDir) return null;
  let stats;
  try {
    // Synchronous: one stat before and after every check of a worktree.
    stats = lstatSync(join(gitDir, 'index'), { bigint: true, throwIfNoEntry: false });
  } catch {
    return null;
  }
  return stats ? `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}` : null;
}

/** Records that `worktree`'s index, as it is now, lists exactly `commit`'s tree. */
export async function trustIndex(worktree: string, commit: string): Promise<void> {
  const stat = await indexStat(worktree);
  if (stat) knownIndexes.set(`${resolve(worktree)}\0${commit}`, stat);
}

/** Whether `worktree`'s index is still the one {@link trustIndex} recorded for `commit`. */
export async function indexTrusted(worktree: string, commit: string): Promise<boolean> {
  const stat = await indexStat(worktree);
  return stat !== null && knownIndexes.get(`${resolve(worktree)}\0${commit}`) === stat;
}

/** From now on git runs in `worktree` through its administrative directory `gitDir`, not its `.git` file. */
export function bindWorktree(worktree: string, gitDir: string): void {
  boundWorktrees.set(resolve(worktree), gitDir);
}

/** Forgets a worktree {@link bindWorktree} bound (it was removed). */
export function unbindWorktree(worktree: string): void {
  boundWorktrees.delete(resolve(worktree));
}

/** The administrative git directory autoloop uses for one of its worktrees, or undefined. */
export function boundGitDir(worktree: string): string | undefined {
  return boundWorktrees.get(resolve(worktree));
}

/** The worktrees autoloop created in this process, with their git directories. */
export function boundWorktreeList(): Array<{ worktree: string; gitDir: string }> {
  return [...boundWorktrees].map(([worktree, gitDir]) => ({ worktree, gitDir }));
}

let invocations = 0;

/** How many git commands autoloop has run in this process (each one a git process): for the benchmark. */
export function gitInvocations(): number {
  return invocations;
}

/**
 * Runs git in `cwd` and returns its stdout, hardened ({@link HARDENED_GIT_ENV}, {@link HARDENED_GIT_CONFIG}):
 * autoloop's commits are bookkeeping, not the user's, and nothing the repository's files or an agent
 * planted in `.git` runs through it. `input` is given on stdin and always ends with one newline.
 */
export async function git(cwd: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const settings = [...(await readUserSettings()), ...HARDENED_GIT_CONFIG];
  const gitDir = boundGitDir(cwd);
  const location = gitDir ? [`--git-dir=${gitDir}`, `--work-tree=${resolve(cwd)}`] : [];
  const argv = ['git', ...location, ...settings.flatMap((setting) => ['-c', setting]), ...args];
  let result;
  invocations++;
  try {
    result = await shell.run(argv, { cwd, input: options.input, env: options.env });
  } catch (error) {
    throw new GitError(args, cwd, (error as Error).message);
  }
  if (result.exitCode !== 0) throw new GitError(args, cwd, result.stderr.toString() || `exit code ${result.exitCode}`);
  return result.stdout.toString();
}

/** The top-level directory of the repository containing `cwd`. */
export async function repoRoot(cwd: string): Promise<string> {
  return (await git(cwd, ['rev-parse', '--show-toplevel'])).trim();
}

const commonDirs = new Map<string, string>();

/** The repository's `.git` directory, shared by all its worktrees (asked of git once per path). */
export async function gitCommonDir(repo: string): Promise<string> {
  const key = resolve(repo);
  const known = commonDirs.get(key);
  if (known) return known;
  const found = resolve(repo, (await git(repo, ['rev-parse', '--git-common-dir'])).trim());
  commonDirs.set(key, found);
  return found;
}

/** Full SHA of a commit-ish. */
export async function resolveCommit(cwd: string, ref: string): Promise<string> {
  return (await git(cwd, ['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`])).trim();
}

/** SHA the branch points at, or null when it does not exist. */
export async function branchHead(cwd: string, branch: string): Promise<string | null> {
  try {
    return (await git(cwd, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`])).trim();
  } catch {
    return null;
  }
}

/** Moves (or creates) a branch; with `expected`, only if it still points there. */
export async function setBranch(cwd: string, branch: string, commit: string, expected?: string): Promise<void> {
  await git(cwd, ['update-ref', '-m', 'autoloop', `refs/heads/${branch}`, commit, ...(expected ? [expected] : [])]);
}

/**
 * Commits everything in a worktree on top of its (detached) HEAD, even when nothing changed, and
 * returns the SHA. Plumbing rather than `git commit`, which also runs auto-maintenance and would follow
 * a `MERGE_HEAD` planted in the worktree's git directory: this is on the path of every experiment.
 * Callers learn whether anything changed from the diff they compute anyway. `onCommitted` is called
 * with the commit as soon as it exists, before HEAD has moved to it.
 */
export async function commitAll(worktree: string, message: string, onCommitted?: (commit: string) => void): Promise<string> {
  await git(worktree, ['add', '--all']);
  const tree = (await git(worktree, ['write-tree'])).trim();
  const commit = (await git(worktree, ['commit-tree', tree, '-p', 'HEAD', '-F', '-'], { input: message })).trim();
  const moved = git(worktree, ['update-ref', '--no-deref', 'HEAD', commit]);
  // The new commit's listing, which the worktree is checked against next, is read while HEAD moves; and
  // whatever the caller wants of the commit itself starts now too (after both: git runs two at a time).
  void treeItems(worktree, commit);
  onCommitted?.(commit);
  await moved;
  // The index just written is the tree just committed.
  await trustIndex(worktree, commit);
  return commit;
}

/** A commit with the same tree as `source` on `parent`, with a new message: how a kept candidate lands on the run branch. */
export async function recommit(repo: string, source: string, parent: string, message: string): Promise<string> {
  return (await git(repo, ['commit-tree', `${source}^{tree}`, '-p', parent, '-F', '-'], { input: message })).trim();
}

/** Files changed between two commits, renames detected. */
export async function changedFiles(repo: string, from: string, to: string): Promise<FileChange[]> {
  return fileChanges(await rawChanges(repo, from, to));
}

/** The changes of {@link rawChanges} as paths: a copy counts as added, a type change as modified. */
export function fileChanges(changes: readonly RawChange[]): FileChange[] {
  return changes.map((c): FileChange => {
    if (c.status === 'R') return { change: 'renamed', path: c.path, oldPath: c.oldPath! };
    return { change: c.status === 'A' || c.status === 'C' ? 'added' : c.status === 'D' ? 'deleted' : 'modified', path: c.path };
  });
}

/** A full commit id (SHA-1 or SHA-256): what a listing or a patch can be cached by. */
const FULL_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Patches {@link prefetchDiffPatch} started, by folder and commits: each taken once by {@link diffPatch}. */
const prefetchedPatches = new Map<string, Promise<string>>();
const PATCHES_KEPT = 4;

function patchKey(repo: string, from: string, to: string): string {
  return `${resolve(repo)}\0${from}\0${to}`;
}

/** Unified diff between two commits. */
export async function diffPatch(repo: string, from: string, to: string): Promise<string> {
  const key = patchKey(repo, from, to);
  const prefetched = prefetchedPatches.get(key);
  if (prefetched) {
    prefetchedPatches.delete(key);
    return prefetched;
  }
  return git(repo, ['diff', '--no-ext-diff', '--no-textconv', '-M', from, to]);
}

/**
 * Starts the {@link diffPatch} of two commits (full ids) in `repo` now, while other git commands run, for
 * the next `diffPatch` asking for it. The two commits are immutable, so the patch is what git would print
 * then; asked for nowhere, it is dropped.
 */
export function prefetchDiffPatch(repo: string, from: string, to: string): void {
  if (!FULL_ID.test(from) || !FULL_ID.test(to)) return;
  const patch = git(repo, ['diff', '--no-ext-diff', '--no-textconv', '-M', from, to]);
  // A failure is met again by whoever asks for the patch.
  patch.catch(() => undefined);
  prefetchedPatches.set(patchKey(repo, from, to), patch);
  if (prefetchedPatches.size > PATCHES_KEPT) prefetchedPatches.delete(prefetchedPatches.keys().next().value!);
}

/**
 * A commit of the working tree as it is (tracked changes and untracked, non-ignored files) on top of
 * HEAD, made through a temporary index so the user's index and files are left untouched.
 */
export async function snapshotWorkingTree(repo: string, message: string): Promise<string> {
  const index = join(tmpdir(), `autoloop-index-${process.pid}-${Date.now()}`);
  const env = { GIT_INDEX_FILE: index };
  try {
    await git(repo, ['read-tree', 'HEAD'], { env });
    await git(repo, ['add', '--all'], { env });
    const tree = (await git(repo, ['write-tree'], { env })).trim();
    return (await git(repo, ['commit-tree', tree, '-p', 'HEAD', '-F', '-'], { input: message })).trim();
  } finally {
    await rm(index, { force: true });
  }
}

/** Whether the repository has at least one commit and `cwd` is inside a work tree. */
export async function isGitRepo(cwd: string): Promise<boolean> {
  try {
    return (await git(cwd, ['rev-parse', '--is-inside-work-tree'])).trim() === 'true';
  } catch {
    return false;
  }
}

/** One entry of a git tree: mode (`100644`, `100755`, `120000` symlink, `160000` gitlink), type, object id and path. */
export interface TreeItem {
  mode: string;
  type: string;
  object: string;
  /** The blob's size in bytes; null for a gitlink. */
  size: number | null;
  path: string;
}

/** A commit's id names its tree, in any repository and worktree: the listings of the last few commits asked for, by commit. */
const treeListings = new Map<string, Promise<TreeItem[]>>();
const TREE_LISTINGS_KEPT = 16;

/** Every entry of `commit`'s tree (a full commit id), recursively (`git ls-tree -r -l`), in git's order. */
export function treeItems(repo: string, commit: string): Promise<TreeItem[]> {
  const key = commit;
  let listing = treeListings.get(key);
  if (!listing) {
    listing = git(repo, ['ls-tree', '-r', '-l', '-z', '--full-tree', commit]).then(parseTreeListing);
    listing.catch(() => treeListings.delete(key));
    treeListings.set(key, listing);
    if (treeListings.size > TREE_LISTINGS_KEPT) treeListings.delete(treeListings.keys().next().value!);
  }
  return listing;
}

/** Parses `git ls-tree -r -l -z` output: `<mode> <type> <object> <size>\t<path>\0` (the size padded, `-` for a gitlink). */
export function parseTreeListing(out: string): TreeItem[] {
  const items: TreeItem[] = [];
  for (const line of out.split('\0')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const [mode, type, object, size] = line.slice(0, tab).split(/ +/);
    items.push({ mode: mode!, type: type!, object: object!, size: size === undefined || size === '-' ? null : Number(size), path: line.slice(tab + 1) });
  }
  return items;
}

/** One path changed between two trees, with its modes and objects on both sides (`null` where it does not exist). */
export interface RawChange {
  /** `A`dded, `D`eleted, `M`odified, `T`ype changed, `R`enamed (from `oldPath`), `C`opied. */
  status: string;
  path: string;
  oldPath?: string;
  oldMode: string | null;
  newMode: string | null;
  oldObject: string | null;
  newObject: string | null;
}

/** The file type of a mode (`100644` and `100755` are both regular files): a change of type is git's `T`. */
function fileType(mode: string): string {
  return mode === '100755' ? '100644' : mode;
}

/**
 * The changes of `git diff --raw -M` between two tree listings, worked out without running git when rename
 * detection has nothing to pair: no path was both added and another deleted (`-M` pairs only a deleted
 * path with an added one), and no gitlink is involved (git's diff config may hide those). Then the changes
 * are exactly the paths added, deleted, or whose object or mode differ, in git's order (both listings are
 * in it; a `diff.orderFile` of the repository's config is not applied). Null when git must be asked.
 */
export function listingChanges(before: readonly TreeItem[], after: readonly TreeItem[]): RawChange[] | null {
  const old = new Map(before.map((item) => [item.path, item]));
  const now = new Map(after.map((item) => [item.path, item]));
  // A tree that names a path twice (only a crafted one can) is left to git.
  if (old.size !== before.length || now.size !== after.length) return null;
  const added = after.some((item) => !old.has(item.path));
  const deleted = before.some((item) => !now.has(item.path));
  if (added && deleted) return null;
  const changes: RawChange[] = [];
  // Walked in the listing that holds every changed path: git's order either way.
  for (const item of deleted ? before : after) {
    const was = old.get(item.path);
    const is = now.get(item.path);
    if (was && is && was.mode === is.mode && was.object === is.object) continue;
    if (was?.mode === '160000' || is?.mode === '160000') return null;
    const status = !was ? 'A' : !is ? 'D' : fileType(was.mode) === fileType(is.mode) ? 'M' : 'T';
    changes.push({ status, path: item.path, oldMode: was?.mode ?? null, newMode: is?.mode ?? null, oldObject: was?.object ?? null, newObject: is?.object ?? null });
  }
  return changes;
}

/**
 * The entries that differ between two commits, renames detected (`git diff --raw -M`): modes and objects
 * included. From the commits' tree listings (cached: they are needed to verify the checkouts anyway) when
 * no rename can be involved; otherwise from git.
 */
export async function rawChanges(repo: string, from: string, to: string): Promise<RawChange[]> {
  if (FULL_ID.test(from) && FULL_ID.test(to)) {
    const [before, after] = await Promise.all([treeItems(repo, from), treeItems(repo, to)]);
    const changes = listingChanges(before, after);
    if (changes) return changes;
  }
  return diffRawChanges(repo, from, to);
}

/** {@link rawChanges} as `git diff --raw -z -M` prints them, always from git. */
export async function diffRawChanges(repo: string, from: string, to: string): Promise<RawChange[]> {
  const out = await git(repo, ['diff', '--no-ext-diff', '--no-textconv', '--raw', '-z', '-M', '--no-abbrev', from, to]);
  const fields = out.split('\0');
  const changes: RawChange[] = [];
  const absent = (mode: string) => /^0+$/.test(mode);
  for (let i = 0; i < fields.length && fields[i]!.startsWith(':'); ) {
    const [oldMode, newMode, oldObject, newObject, score] = fields[i++]!.slice(1).split(' ');
    const status = score!.charAt(0);
    const oldPath = status === 'R' || status === 'C' ? fields[i++]! : undefined;
    const path = fields[i++]!;
    changes.push({
      status,
      path,
      ...(oldPath !== undefined ? { oldPath } : {}),
      oldMode: absent(oldMode!) ? null : oldMode!,
      newMode: absent(newMode!) ? null : newMode!,
      oldObject: absent(oldMode!) ? null : oldObject!,
      newObject: absent(newMode!) ? null : newObject!,
    });
  }
  return changes;
}

/** The content of a blob, as text (a symlink's target). */
export async function blobText(repo: string, object: string): Promise<string> {
  return git(repo, ['cat-file', 'blob', object]);
}
