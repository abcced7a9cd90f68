import { existsSync } from 'node:fs';
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

// git gets no secrets either: nothing it runs for autoloop needs them.
const shell = new CommandShellPool({ ...scrubEnvironment(process.env, []).env, ...IDENTITY, GIT_TERMINAL_PROMPT: '0' });

/**
 * Runs git in `cwd` and returns its stdout. Hooks and auto-gc are off: autoloop's commits are
 * bookkeeping, not the user's. `input` is given on stdin and always ends with one newline.
 */
export async function git(cwd: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const argv = ['git', '-c', 'core.hooksPath=/dev/null', '-c', 'advice.detachedHead=false', '-c', 'gc.auto=0', ...args];
  let result;
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

/** The repository's `.git` directory, shared by all its worktrees. */
export async function gitCommonDir(repo: string): Promise<string> {
  return resolve(repo, (await git(repo, ['rev-parse', '--git-common-dir'])).trim());
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

/** Worktree creation per repository, one at a time: concurrent `git worktree add` and `prune` race on `.git/worktrees`. */
const worktreeCreation = new Map<string, Promise<unknown>>();

function serialised<T>(repo: string, task: () => Promise<T>): Promise<T> {
  const result = (worktreeCreation.get(repo) ?? Promise.resolve()).then(task, task);
  worktreeCreation.set(repo, result.catch(() => undefined));
  return result;
}

/** A detached worktree at `commit`, created or reset so it holds exactly that commit's files (ignored files stay: caches survive). */
export async function prepareWorktree(repo: string, path: string, commit: string): Promise<void> {
  if (!existsSync(`${path}/.git`)) {
    await serialised(repo, async () => {
      await git(repo, ['worktree', 'prune']);
      await git(repo, ['worktree', 'add', '--force', '--detach', path, commit]);
    });
    return;
  }
  await git(path, ['reset', '--hard', '--quiet', commit]);
  await git(path, ['clean', '-fdq']);
}

/** Removes a worktree autoloop created. */
export async function removeWorktree(repo: string, path: string): Promise<void> {
  await git(repo, ['worktree', 'remove', '--force', path]).catch(() => undefined);
}

/**
 * Commits everything in a worktree on top of its (detached) HEAD, even when nothing changed, and
 * returns the SHA. Plumbing rather than `git commit`, which also runs auto-maintenance: this is on
 * the path of every experiment. Callers learn whether anything changed from the diff they compute anyway.
 */
export async function commitAll(worktree: string, message: string): Promise<string> {
  await git(worktree, ['add', '--all']);
  const tree = (await git(worktree, ['write-tree'])).trim();
  const commit = (await git(worktree, ['commit-tree', tree, '-p', 'HEAD', '-F', '-'], { input: message })).trim();
  await git(worktree, ['update-ref', '--no-deref', 'HEAD', commit]);
  return commit;
}

/** A commit with the same tree as `source` on `parent`, with a new message: how a kept candidate lands on the run branch. */
export async function recommit(repo: string, source: string, parent: string, message: string): Promise<string> {
  return (await git(repo, ['commit-tree', `${source}^{tree}`, '-p', parent, '-F', '-'], { input: message })).trim();
}

/** Files changed between two commits, renames detected. */
export async function changedFiles(repo: string, from: string, to: string): Promise<FileChange[]> {
  const out = await git(repo, ['diff', '--name-status', '-z', '-M', from, to]);
  const fields = out.split('\0').filter((field) => field !== '');
  const changes: FileChange[] = [];
  for (let i = 0; i < fields.length; ) {
    const status = fields[i++]!;
    if (status.startsWith('R') || status.startsWith('C')) {
      const oldPath = fields[i++]!;
      const path = fields[i++]!;
      changes.push(status.startsWith('R') ? { change: 'renamed', path, oldPath } : { change: 'added', path });
    } else {
      const path = fields[i++]!;
      changes.push({ change: status === 'A' ? 'added' : status === 'D' ? 'deleted' : 'modified', path });
    }
  }
  return changes;
}

/** Unified diff between two commits. */
export async function diffPatch(repo: string, from: string, to: string): Promise<string> {
  return git(repo, ['diff', '-M', from, to]);
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
