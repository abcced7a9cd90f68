/** autoloop's own worktrees of a repository: created, reset to a commit, linked back and removed. */
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { bindWorktree, boundGitDir, git, gitCommonDir, trustIndex, unbindWorktree } from './git.js';
import { verifyCheckout } from './checkout.js';

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
