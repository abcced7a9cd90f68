import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changedFiles, commitAll, GitError, git, resolveCommit, snapshotWorkingTree } from '../../src/engine/git.js';
import { prepareWorktree } from '../../src/engine/worktrees.js';
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

  it('runs hardened: no fsmonitor, no hooks, no replace objects, whatever the repository\'s config says', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    const dir = mkdtempSync(join(tmpdir(), 'autoloop-hardened-'));
    const marker = join(dir, 'ran');
    const script = join(dir, 'hook.sh');
    writeFileSync(script, `#!/bin/sh\necho "$0" >> '${marker}'\nexit 1\n`);
    chmodSync(script, 0o755);
    gitSync(repo, 'config', 'core.fsmonitor', script);
    gitSync(repo, 'config', 'core.hooksPath', dir);
    writeFileSync(join(dir, 'pre-commit'), `#!/bin/sh\necho pre-commit >> '${marker}'\n`);
    chmodSync(join(dir, 'pre-commit'), 0o755);
    const blob = gitSync(repo, 'rev-parse', 'HEAD:a.txt');
    writeFileSync(join(dir, 'cheat.txt'), 'cheat\n');
    gitSync(repo, 'replace', blob, gitSync(repo, 'hash-object', '-w', join(dir, 'cheat.txt')));

    await git(repo, ['status', '--porcelain']);
    await git(repo, ['commit', '--quiet', '--allow-empty', '-m', 'x']);
    expect(existsSync(marker)).toBe(false);
    expect(await git(repo, ['cat-file', 'blob', blob])).toBe('a\n');
    // The user's own git does all three.
    expect(gitSync(repo, 'cat-file', 'blob', blob)).toBe('cheat');
  });

  it('runs git in its worktrees through their administrative directory, not a rewritten .git file', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    const head = await resolveCommit(repo, 'HEAD');
    const worktree = join(repo, '.git', 'autoloop', 'bound');
    await prepareWorktree(repo, worktree, head);
    const other = makeRepo({ 'b.txt': 'b\n' });
    writeFileSync(join(worktree, '.git'), `gitdir: ${join(other, '.git')}\n`);
    expect((await git(worktree, ['rev-parse', 'HEAD'])).trim()).toBe(head);
    await prepareWorktree(repo, worktree, head);
    expect(readFileSync(join(worktree, '.git'), 'utf8')).toBe(`gitdir: ${join(repo, '.git', 'worktrees', 'bound')}\n`);
  });
});
