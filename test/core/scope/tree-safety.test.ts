import { describe, expect, it } from 'vitest';
import { checkScope, describeViolations, unsafePath } from '../../../src/core/scope/scope.js';
import { checkTreeEntries, symlinkEscape } from '../../../src/core/scope/tree-safety.js';

describe('symlinkEscape', () => {
  const none = new Map<string, string>();

  it('accepts a symlink that stays inside the worktree', () => {
    expect(symlinkEscape('src/solve.js', 'impl/solve.js', none)).toBeNull();
    expect(symlinkEscape('src/solve.js', '../lib/solve.js', none)).toBeNull();
    expect(symlinkEscape('a/b/c', '../../x', none)).toBeNull();
    expect(symlinkEscape('link', './x/./y', none)).toBeNull();
  });

  it('rejects absolute targets, escapes with .., and targets in .git', () => {
    expect(symlinkEscape('src/solve.js', '/tmp/elsewhere.js', none)).toBe('points to an absolute path (/tmp/elsewhere.js)');
    expect(symlinkEscape('src/solve.js', '../../elsewhere.js', none)).toBe('leaves the worktree (../../elsewhere.js)');
    expect(symlinkEscape('x', '..', none)).toMatch(/^leaves the worktree/);
    expect(symlinkEscape('src/x', '../.git/config', none)).toMatch(/^points into \.git/);
    expect(symlinkEscape('src/x', '../.GIT', none)).toMatch(/^points into \.git/);
    expect(symlinkEscape('x', '', none)).toBe('has an empty target');
  });

  it('follows the tree\'s other symlinks as the file system would', () => {
    // `up` resolves to the root, so `up/..` is the worktree's parent, although `src/up/../x` looks inside.
    const links = new Map([
      ['src/up', '..'],
      ['src/x', 'up/../../elsewhere'],
    ]);
    expect(symlinkEscape('src/x', 'up/../../elsewhere', links)).toMatch(/^leaves the worktree/);
    expect(symlinkEscape('src/y', 'abs/file', new Map([['src/abs', '/etc']]))).toBe('leads through src/abs to an absolute path (/etc)');
    const loop = new Map([
      ['a', 'b'],
      ['b', 'a'],
    ]);
    expect(symlinkEscape('c', 'a', loop)).toMatch(/^is a loop of symlinks/);
  });
});

describe('checkTreeEntries', () => {
  it('rejects added or changed gitlinks and escaping symlinks, and leaves the parent\'s entries and plain files alone', () => {
    const links = new Map([
      ['src/solve.js', '/tmp/elsewhere.js'],
      ['src/ok.js', 'solve-impl.js'],
      ['data', '/mnt/datasets'],
    ]);
    const violations = checkTreeEntries(
      [
        { path: 'src/solve.js', oldMode: '100644', newMode: '120000' },
        { path: 'src/ok.js', oldMode: null, newMode: '120000' },
        { path: 'vendor/lib', oldMode: null, newMode: '160000' },
        { path: 'src/plain.js', oldMode: '100644', newMode: '100755' },
        { path: 'gone', oldMode: '120000', newMode: null },
      ],
      links,
    );
    expect(violations).toEqual([
      { path: 'src/solve.js', change: 'modified', rule: 'unsafe', pattern: 'a symlink that points to an absolute path (/tmp/elsewhere.js): what it runs is not in the commit' },
      { path: 'vendor/lib', change: 'added', rule: 'unsafe', pattern: 'a gitlink (submodule) holds code that is not in the commit' },
    ]);
  });
});

describe('.gitattributes in a proposal', () => {
  it('is never allowed, even inside scope.edit, and says why', () => {
    expect(unsafePath('.gitattributes')).toBeDefined();
    expect(unsafePath('src/.gitattributes')).toBeDefined();
    expect(unsafePath('src/gitattributes')).toBeUndefined();
    const violations = checkScope([{ change: 'added', path: 'src/.gitattributes' }], { edit: ['**'], protect: [], alwaysProtect: [] });
    expect(violations).toEqual([{ path: 'src/.gitattributes', change: 'added', rule: 'unsafe', pattern: 'a .gitattributes file changes how git checks out and stores files' }]);
    expect(describeViolations(violations)).toBe('src/.gitattributes (added) is not allowed: a .gitattributes file changes how git checks out and stores files');
  });
});
