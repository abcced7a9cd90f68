/**
 * The agent's own git repository: a throw-away copy of the parent commit, never the user's `.git`.
 *
 * Agent CLIs expect a repository (aider commits, codex refuses to run outside one, every agent reads
 * `git status` and `git diff`), but the candidate worktree is one of the user's repository's worktrees,
 * and what an agent can write there (config, hooks, refs, replace objects) would run in the user's git
 * later. So the agent gets a repository of its own, pointed at by `GIT_DIR`: one commit (the parent,
 * fetched `--depth 1`, so no other branch or history of the user's is in it), its index matching the
 * worktree, `core.worktree` naming it. Whatever the agent does to it (commits, config, hooks) is thrown
 * away with it; autoloop reads the proposal from the worktree's files with its own hardened git.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { git } from '../engine/git.js';

/** The branch the agent's repository is on, at the parent commit. */
export const AGENT_BRANCH = 'autoloop-experiment';

/** A throw-away repository for one proposal; `dispose` removes it. */
export interface AgentRepository {
  /** Its git directory, outside the worktree: what `GIT_DIR` names (bound at the same path in the sandbox). */
  gitDir: string;
  dispose(): Promise<void>;
}

/**
 * Creates the agent's repository for `worktree`, which holds `commit`: a fresh git directory with that one
 * commit on {@link AGENT_BRANCH}, its work tree the worktree, its index read from the commit (so `git status`
 * shows exactly what the agent changes).
 */
export async function createAgentRepository(worktree: string, commit: string): Promise<AgentRepository> {
  const root = await mkdtemp(path.join(tmpdir(), 'autoloop-agent-repo-'));
  const gitDir = path.join(root, 'git');
  const dispose = () => rm(root, { recursive: true, force: true });
  try {
    const at = ['--git-dir', gitDir];
    await git(root, ['init', '--quiet', '--bare', gitDir]);
    // Fetched from autoloop's worktree by id: the repository's own objects, read by the hardened git.
    await git(root, [...at, 'fetch', '--quiet', '--depth', '1', '--no-tags', path.resolve(worktree), commit]);
    await git(root, [...at, 'update-ref', `refs/heads/${AGENT_BRANCH}`, commit]);
    await git(root, [...at, 'symbolic-ref', 'HEAD', `refs/heads/${AGENT_BRANCH}`]);
    await git(root, [...at, 'config', 'core.bare', 'false']);
    await git(root, [...at, 'config', 'core.worktree', path.resolve(worktree)]);
    await git(root, [...at, '--work-tree', path.resolve(worktree), 'reset', '--quiet', '--mixed', commit]);
    return { gitDir, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
