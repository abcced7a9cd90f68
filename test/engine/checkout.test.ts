import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blobId, verifyCheckout } from '../../src/engine/checkout.js';
import { git, resolveCommit } from '../../src/engine/git.js';
import { prepareWorktree } from '../../src/engine/worktrees.js';
import { RepoGuard, removeStrayFiles, worktreeFiles } from '../../src/engine/repo-guard.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

async function worktreeOf(files: Record<string, string>) {
  const repo = makeRepo(files);
  const commit = await resolveCommit(repo, 'HEAD');
  const worktree = join(repo, '.git', 'autoloop', 'verify', 'side');
  await prepareWorktree(repo, worktree, commit);
  return { repo, commit, worktree };
}

describe('verifyCheckout', () => {
  it('hashes blobs as git does', () => {
    const repo = makeRepo({ 'a.txt': 'hello\n' });
    expect(blobId(Buffer.from('hello\n'), 'x'.repeat(40))).toBe(gitSync(repo, 'rev-parse', 'HEAD:a.txt'));
  });

  it('finds nothing to put back in a fresh checkout', async () => {
    const { worktree, commit } = await worktreeOf({ 'a.txt': 'a\n', 'src/b.js': 'b\n' });
    expect(await verifyCheckout(worktree, commit)).toEqual([]);
    expect(await verifyCheckout(worktree, commit)).toEqual([]);
  });

  it('puts back edited, deleted and retyped files, a moved HEAD and untracked files, and reports each', async () => {
    const { worktree, commit, repo } = await worktreeOf({ 'a.txt': 'a\n', 'src/b.js': 'b\n', 'run.sh': 'echo\n', 'c.txt': 'c\n' });
    chmodSync(join(worktree, 'run.sh'), 0o644);
    gitSync(repo, 'update-index', '--chmod=+x', 'run.sh');
    gitSync(repo, 'commit', '--quiet', '-m', 'exec');
    const withExec = gitSync(repo, 'rev-parse', 'HEAD');
    await prepareWorktree(repo, worktree, withExec);
    await verifyCheckout(worktree, withExec);

    writeFileSync(join(worktree, 'a.txt'), 'tampered\n');
    rmSync(join(worktree, 'c.txt'));
    chmodSync(join(worktree, 'run.sh'), 0o644);
    writeFileSync(join(worktree, 'untracked.js'), 'x\n');
    // A directory swapped for a symlink to somewhere else: restoring must not write through it.
    const elsewhere = mkdtempSync(join(tmpdir(), 'autoloop-elsewhere-'));
    writeFileSync(join(elsewhere, 'b.js'), 'slow\n');
    rmSync(join(worktree, 'src'), { recursive: true });
    symlinkSync(elsewhere, join(worktree, 'src'));
    await git(worktree, ['update-ref', '--no-deref', 'HEAD', commit]);

    const repaired = await verifyCheckout(worktree, withExec);
    expect(repaired).toEqual(expect.arrayContaining(['HEAD', 'src (not a directory)', 'a.txt (differs from the commit)', 'c.txt (is missing)', 'untracked.js (untracked)']));
    expect(readFileSync(join(worktree, 'a.txt'), 'utf8')).toBe('a\n');
    expect(readFileSync(join(worktree, 'c.txt'), 'utf8')).toBe('c\n');
    expect(readFileSync(join(worktree, 'src/b.js'), 'utf8')).toBe('b\n');
    expect(readFileSync(join(elsewhere, 'b.js'), 'utf8')).toBe('slow\n');
    expect(statSync(join(worktree, 'run.sh')).mode & 0o111).not.toBe(0);
    expect(gitSync(worktree, 'rev-parse', 'HEAD')).toBe(withExec);
    expect(gitSync(worktree, 'status', '--porcelain')).toBe('');
    expect(await verifyCheckout(worktree, withExec)).toEqual([]);
  });

  it('does not trust an index rewritten to hide a change from git reset', async () => {
    const { worktree, commit } = await worktreeOf({ 'a.txt': 'a\n' });
    await verifyCheckout(worktree, commit);
    // Same size, and the index refreshed to the new stat: `git reset --hard` and `git status` see nothing.
    writeFileSync(join(worktree, 'a.txt'), 'b\n');
    gitSync(worktree, 'update-index', '--assume-unchanged', 'a.txt');
    expect(gitSync(worktree, 'status', '--porcelain')).toBe('');
    expect(await verifyCheckout(worktree, commit)).toEqual(expect.arrayContaining(['a.txt (differs from the commit)']));
    expect(readFileSync(join(worktree, 'a.txt'), 'utf8')).toBe('a\n');
  });

  it('keeps ignored files (caches survive)', async () => {
    const { worktree, commit } = await worktreeOf({ '.gitignore': 'node_modules/\n', 'a.txt': 'a\n' });
    mkdirSync(join(worktree, 'node_modules'));
    writeFileSync(join(worktree, 'node_modules', 'dep.js'), 'dep\n');
    expect(await verifyCheckout(worktree, commit)).toEqual([]);
    expect(readFileSync(join(worktree, 'node_modules', 'dep.js'), 'utf8')).toBe('dep\n');
  });
});

describe('RepoGuard', () => {
  it('puts back config, info and hooks changed since it trusted them, and the refs when asked', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    const guard = await RepoGuard.of(repo);
    await guard.trust({ refs: true });
    const config = readFileSync(join(repo, '.git', 'config'), 'utf8');
    gitSync(repo, 'config', 'core.fsmonitor', '/bin/true');
    writeFileSync(join(repo, '.git', 'info', 'attributes'), '* filter=x\n');
    writeFileSync(join(repo, '.git', 'info', 'exclude'), `${readFileSync(join(repo, '.git', 'info', 'exclude'), 'utf8')}/.autoloop/\n`);
    gitSync(repo, 'branch', 'planted');
    expect(await guard.restore()).toEqual(['.git/config changed', '.git/info/attributes added']);
    expect(readFileSync(join(repo, '.git', 'config'), 'utf8')).toBe(config);
    expect(readFileSync(join(repo, '.git', 'info', 'exclude'), 'utf8')).toContain('/.autoloop/');
    expect(await guard.restore({ refs: true })).toEqual([expect.stringMatching(/^refs\/heads\/planted created \([0-9a-f]{12}\): deleted$/)]);
    expect(gitSync(repo, 'branch', '--list', 'planted')).toBe('');
    expect(guard.changesSinceTrust()).toHaveLength(3);
    expect(await guard.restore({ refs: true })).toEqual([]);
  });

  it('removes files written in a worktree since a snapshot that its commit does not hold', async () => {
    const { worktree } = await worktreeOf({ '.gitignore': 'cache/\n', 'a.txt': 'a\n' });
    mkdirSync(join(worktree, 'cache'));
    writeFileSync(join(worktree, 'cache', 'old.js'), 'old\n');
    const before = await worktreeFiles(worktree);
    writeFileSync(join(worktree, 'cache', 'new.js'), 'new\n');
    writeFileSync(join(worktree, 'a.txt'), 'edited\n');
    expect(await removeStrayFiles(worktree, before, new Set(['.gitignore', 'a.txt']))).toEqual(['cache/new.js']);
    expect(readFileSync(join(worktree, 'cache', 'old.js'), 'utf8')).toBe('old\n');
  });
});
