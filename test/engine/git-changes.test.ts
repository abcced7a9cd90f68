import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffPatch, diffRawChanges, gitInvocations, listingChanges, prefetchDiffPatch, rawChanges, treeItems } from '../../src/engine/git.js';
import { prepareWorktree } from '../../src/engine/worktrees.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

/** Commits what `edit` does to the repository's checkout and returns the commit before and the one after. */
function commitEdit(repo: string, edit: () => void): { from: string; to: string } {
  const from = gitSync(repo, 'rev-parse', 'HEAD');
  edit();
  gitSync(repo, 'add', '--all');
  gitSync(repo, 'commit', '--quiet', '--allow-empty', '-m', 'edit');
  return { from, to: gitSync(repo, 'rev-parse', 'HEAD') };
}

describe('rawChanges from the tree listings', () => {
  const files = {
    'a.txt': 'a\n',
    'b.txt': 'some longer content so that rename detection has something to work with\n',
    'run.sh': 'echo run\n',
    'src/deep/x.js': 'x\n',
    'src/y.js': 'y\n',
    'src-z.js': 'z\n',
    'sp ace/é.txt': 'accent\n',
  };
  const cases: Array<[string, (repo: string) => void, 'derived' | 'git']> = [
    ['nothing changed', () => undefined, 'derived'],
    ['contents changed', (r) => (writeFileSync(join(r, 'a.txt'), 'A\n'), writeFileSync(join(r, 'src/deep/x.js'), 'X\n')), 'derived'],
    ['the executable bit set', (r) => chmodSync(join(r, 'run.sh'), 0o755), 'derived'],
    ['a file turned into a symlink', (r) => (unlinkSync(join(r, 'a.txt')), symlinkSync('b.txt', join(r, 'a.txt'))), 'derived'],
    ['files added only', (r) => (writeFileSync(join(r, 'new.txt'), 'n\n'), mkdirSync(join(r, 'src/new')), writeFileSync(join(r, 'src/new/n.js'), 'n\n'), writeFileSync(join(r, 'sp ace/ü.txt'), 'u\n')), 'derived'],
    ['files deleted only', (r) => (rmSync(join(r, 'src'), { recursive: true }), rmSync(join(r, 'run.sh'))), 'derived'],
    ['changed and added', (r) => (writeFileSync(join(r, 'src/y.js'), 'Y\n'), writeFileSync(join(r, 'src/a.js'), 'a\n')), 'derived'],
    ['changed and deleted', (r) => (writeFileSync(join(r, 'src-z.js'), 'Z\n'), rmSync(join(r, 'src/deep/x.js'))), 'derived'],
    ['a rename (added and deleted)', (r) => (writeFileSync(join(r, 'c.txt'), files['b.txt']), rmSync(join(r, 'b.txt'))), 'git'],
    ['a file replaced by a directory', (r) => (rmSync(join(r, 'a.txt')), mkdirSync(join(r, 'a.txt')), writeFileSync(join(r, 'a.txt/inner'), 'i\n')), 'git'],
  ];

  for (const [name, edit, how] of cases) {
    it(`${name}: the same changes as git diff --raw -M (${how === 'derived' ? 'without git' : 'from git'})`, async () => {
      const repo = makeRepo(files);
      const { from, to } = commitEdit(repo, () => edit(repo));
      const fromGit = await diffRawChanges(repo, from, to);
      const derived = listingChanges(await treeItems(repo, from), await treeItems(repo, to));
      if (how === 'derived') expect(derived).toEqual(fromGit);
      else expect(derived).toBeNull();
      expect(await rawChanges(repo, from, to)).toEqual(fromGit);
    });
  }

  it('leaves a gitlink to git', async () => {
    const repo = makeRepo(files);
    const from = gitSync(repo, 'rev-parse', 'HEAD');
    gitSync(repo, 'update-index', '--add', '--cacheinfo', `160000,${from},vendor/lib`);
    gitSync(repo, 'commit', '--quiet', '-m', 'gitlink');
    const to = gitSync(repo, 'rev-parse', 'HEAD');
    expect(listingChanges(await treeItems(repo, from), await treeItems(repo, to))).toBeNull();
    expect(await rawChanges(repo, from, to)).toEqual(await diffRawChanges(repo, from, to));
  });

  it('leaves a listing that names a path twice to git', () => {
    const item = { mode: '100644', type: 'blob', object: 'a'.repeat(40), size: 1, path: 'a.txt' };
    expect(listingChanges([item], [item, { ...item, object: 'b'.repeat(40) }])).toBeNull();
  });
});

describe('diffPatch', () => {
  it('gives the patch prefetched for the same folder and commits once, then asks git again', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    const { from, to } = commitEdit(repo, () => writeFileSync(join(repo, 'a.txt'), 'b\n'));
    const expected = gitSync(repo, 'diff', '--no-ext-diff', '--no-textconv', '-M', from, to);
    prefetchDiffPatch(repo, from, to);
    expect((await diffPatch(repo, from, to)).trim()).toBe(expected);
    expect((await diffPatch(repo, from, to)).trim()).toBe(expected);
  });
});

describe('prepareWorktree of a worktree already at its commit', () => {
  it('puts back what a reset and a clean would: files, the index, untracked files and nested repositories; ignored files stay', async () => {
    const repo = makeRepo({ '.gitignore': 'cache/\n', 'a.txt': 'a\n', 'src/b.js': 'b\n', 'run.sh': 'echo\n' });
    const commit = gitSync(repo, 'rev-parse', 'HEAD');
    const worktree = join(repo, '.git', 'autoloop', 'prepare', 'side');
    await prepareWorktree(repo, worktree, commit);
    await prepareWorktree(repo, worktree, commit);
    const before = gitInvocations();
    await prepareWorktree(repo, worktree, commit);
    // Nothing was off: checked by autoloop itself (against the commit's listing, read once), then one `git clean`.
    expect(gitInvocations() - before).toBe(1);

    writeFileSync(join(worktree, 'a.txt'), 'tampered\n');
    // The index is told the tampered content is the commit's, so that git's own reset would trust it.
    gitSync(worktree, 'update-index', '--add', '--cacheinfo', `100644,${gitSync(worktree, 'hash-object', '-w', 'a.txt')},a.txt`);
    writeFileSync(join(worktree, '.gitignore'), 'cache/\nsrc/\n');
    rmSync(join(worktree, 'src'), { recursive: true });
    mkdirSync(join(worktree, 'src'));
    symlinkSync('/tmp', join(worktree, 'src', 'b.js'));
    chmodSync(join(worktree, 'run.sh'), 0o755);
    writeFileSync(join(worktree, 'untracked.txt'), 'u\n');
    mkdirSync(join(worktree, 'nested'));
    gitSync(join(worktree, 'nested'), 'init', '--quiet');
    mkdirSync(join(worktree, 'cache'));
    writeFileSync(join(worktree, 'cache', 'kept'), 'k\n');

    await prepareWorktree(repo, worktree, commit);
    expect(gitSync(worktree, 'rev-parse', 'HEAD')).toBe(commit);
    expect(readFileSync(join(worktree, 'a.txt'), 'utf8')).toBe('a\n');
    expect(readFileSync(join(worktree, 'src/b.js'), 'utf8')).toBe('b\n');
    expect(readFileSync(join(worktree, '.gitignore'), 'utf8')).toBe('cache/\n');
    expect(gitSync(worktree, 'ls-files', '-s', 'a.txt')).toBe(`100644 ${gitSync(repo, 'rev-parse', 'HEAD:a.txt')} 0\ta.txt`);
    expect(existsSync(join(worktree, 'untracked.txt'))).toBe(false);
    expect(existsSync(join(worktree, 'nested'))).toBe(false);
    expect(readFileSync(join(worktree, 'cache', 'kept'), 'utf8')).toBe('k\n');
    expect(gitSync(worktree, 'status', '--porcelain', '--ignored')).toBe('!! cache/');
  });
});
