import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changedFiles, commitAll, GitError, git, prepareWorktree, resolveCommit, snapshotWorkingTree } from '../../src/engine/git.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

describe('git helpers', () => {
  it('commits a worktree and lists added, modified, deleted and renamed files', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.txt': 'some longer content so rename detection works\n' });
    const head = await resolveCommit(repo, 'HEAD');
    const worktree = join(repo, '.git', 'autoloop', 'wt');
    await prepareWorktree(repo, worktree, head);
    await writeFile(join(worktree, 'a.txt'), 'changed\n');
    await writeFile(join(worktree, 'new.txt'), 'new\n');
    await rename(join(worktree, 'c.txt'), join(worktree, 'd.txt'));
    await git(worktree, ['rm', '--quiet', 'b.txt']);
    const commit = await commitAll(worktree, 'candidate');
    expect(gitSync(worktree, 'rev-parse', 'HEAD')).toBe(commit);
    expect(gitSync(repo, 'log', '-1', '--format=%s%n%an', commit)).toBe('candidate\nautoloop');
    expect(await changedFiles(repo, head, commit)).toEqual([
      { change: 'modified', path: 'a.txt' },
      { change: 'deleted', path: 'b.txt' },
      { change: 'renamed', oldPath: 'c.txt', path: 'd.txt' },
      { change: 'added', path: 'new.txt' },
    ]);
    // Resetting restores exactly the commit's files and drops untracked ones.
    await writeFile(join(worktree, 'junk.txt'), 'x');
    await prepareWorktree(repo, worktree, head);
    expect(gitSync(worktree, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(worktree, 'a.txt'), 'utf8')).toBe('a\n');
  });

  it('snapshots the working tree without touching the index or HEAD', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    await writeFile(join(repo, 'a.txt'), 'edited\n');
    await writeFile(join(repo, 'untracked.txt'), 'u\n');
    gitSync(repo, 'add', 'a.txt');
    const before = gitSync(repo, 'status', '--porcelain');
    const snapshot = await snapshotWorkingTree(repo, 'snapshot');
    expect(gitSync(repo, 'status', '--porcelain')).toBe(before);
    expect(gitSync(repo, 'show', `${snapshot}:a.txt`)).toBe('edited');
    expect(gitSync(repo, 'show', `${snapshot}:untracked.txt`)).toBe('u');
    expect(gitSync(repo, 'rev-parse', `${snapshot}^`)).toBe(gitSync(repo, 'rev-parse', 'HEAD'));
  });

  it('wraps failures in a GitError that names the command and the folder', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    await expect(resolveCommit(repo, 'no-such-ref')).rejects.toBeInstanceOf(GitError);
    await expect(git(repo, ['frobnicate'])).rejects.toThrow(`git frobnicate failed in ${repo}`);
  });
});
