import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allowlistEnvironment, BASE_ENVIRONMENT } from '../../src/core/env/secrets.js';
import { bwrapArgs, isolationLabel, linkedRepositoryPaths, readWrittenFile, SANDBOX_HOME, SANDBOX_INIT } from '../../src/engine/sandbox.js';

/** The arguments as `flag operands…` groups, for readable expectations. */
function mounts(args: string[]): string[] {
  const out: string[] = [];
  const arity: Record<string, number> = { '--ro-bind': 2, '--bind': 2, '--tmpfs': 1, '--dir': 1, '--dev': 1, '--proc': 1, '--remount-ro': 1, '--chdir': 1 };
  for (let i = 0; i < args.length; i++) {
    const n = arity[args[i]!];
    if (n === undefined) continue;
    out.push([args[i], ...args.slice(i + 1, i + 1 + n)].join(' '));
    i += n;
  }
  return out;
}

describe('bwrapArgs', () => {
  it('runs the command under autoloop\'s reaping init, as PID 1 of its own namespace, only when CPU time is measured', () => {
    const timed = bwrapArgs({ worktree: '/w', network: false, hide: [], accountCpu: true });
    expect(timed).toContain('--unshare-pid');
    expect(timed.slice(-5)).toEqual(['--as-pid-1', '/bin/sh', '-c', SANDBOX_INIT, 'autoloop-init']);
    // kill -1 would reach every process of the user's outside a PID namespace of its own: the init checks.
    expect(SANDBOX_INIT).toContain('if [ "$$" = 1 ]; then');
    expect(bwrapArgs({ worktree: '/w', network: false, hide: [] })).not.toContain('--as-pid-1');
  });


  const worktree = '/home/u/repo/.git/autoloop/t/candidate';

  it('isolates processes and the network, and mounts in an order where each cover comes before what it must not hide', () => {
    const args = bwrapArgs({
      worktree,
      network: false,
      hide: ['/home/u/repo', '/home/u/repo/.git', '/home/u/repo/.autoloop', '/home/u', `${worktree}/.trace`, '/', '/tmp'],
      reveal: ['/home/u/.nvm/versions/node/v20', '/usr/lib', '/home/u'],
      binds: [{ source: '/tmp/autoloop-metrics-1', target: '/run/autoloop', writable: true }, { source: '/tmp/p.md', target: '/run/autoloop/prompt.md', writable: false }],
    });
    expect(args.slice(0, 7)).toEqual(['--die-with-parent', '--new-session', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--unshare-net']);
    expect(mounts(args)).toEqual([
      '--ro-bind / /',
      '--dev /dev',
      '--proc /proc',
      '--tmpfs /tmp',
      `--dir ${SANDBOX_HOME}`,
      '--tmpfs /run',
      // /home/u covers the repository and its .git: one cover is enough.
      '--tmpfs /home/u',
      // node's install is shown again; /usr/lib is visible anyway and /home/u would undo the cover.
      '--ro-bind /home/u/.nvm/versions/node/v20 /home/u/.nvm/versions/node/v20',
      `--bind ${worktree} ${worktree}`,
      `--tmpfs ${worktree}/.trace`,
      '--bind /tmp/autoloop-metrics-1 /run/autoloop',
      '--ro-bind /tmp/p.md /run/autoloop/prompt.md',
      '--remount-ro /run',
      '--remount-ro /home/u',
      `--remount-ro ${worktree}/.trace`,
      `--chdir ${worktree}`,
    ]);
  });

  it('keeps the network when allowed, and covers a hidden directory below /tmp on its own, read-only', () => {
    const args = bwrapArgs({ worktree: '/tmp/r/.git/autoloop/t/baseline', network: true, hide: ['/tmp/r', '/tmp/r/.git/autoloop/t/candidate', '/tmp/r/.git/autoloop/t/baseline'] });
    expect(args).not.toContain('--unshare-net');
    expect(mounts(args).filter((m) => m.includes('/tmp/r'))).toEqual([
      '--tmpfs /tmp/r',
      '--bind /tmp/r/.git/autoloop/t/baseline /tmp/r/.git/autoloop/t/baseline',
      '--remount-ro /tmp/r',
      '--chdir /tmp/r/.git/autoloop/t/baseline',
    ]);
  });

  it('never covers the sandbox\'s own HOME, /tmp or /run', () => {
    const args = bwrapArgs({ worktree: '/w', network: false, hide: ['/tmp', SANDBOX_HOME, '/run', '/run/autoloop', '/'] });
    expect(mounts(args).filter((m) => m.startsWith('--tmpfs') || m.startsWith('--remount-ro'))).toEqual(['--tmpfs /tmp', '--tmpfs /run', '--remount-ro /run']);
  });
});

describe('linkedRepositoryPaths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autoloop-linked-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a linked worktree\'s git dir, the common dir and the checkout holding it, without git', () => {
    const repo = join(dir, 'repo');
    const gitDir = join(repo, '.git', 'worktrees', 'candidate');
    const worktree = join(repo, '.git', 'autoloop', 't', 'candidate');
    mkdirSync(gitDir, { recursive: true });
    mkdirSync(worktree, { recursive: true });
    writeFileSync(join(gitDir, 'commondir'), '../..\n');
    writeFileSync(join(worktree, '.git'), `gitdir: ${gitDir}\n`);
    expect(linkedRepositoryPaths(worktree)).toEqual([gitDir, join(repo, '.git'), repo]);
  });

  it('finds nothing to hide in a plain clone or a folder', () => {
    mkdirSync(join(dir, 'clone', '.git'), { recursive: true });
    expect(linkedRepositoryPaths(join(dir, 'clone'))).toEqual([]);
    expect(linkedRepositoryPaths(dir)).toEqual([]);
  });
});

describe('readWrittenFile', () => {
  it('reads a regular file, and neither a symlink nor a missing file', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'autoloop-written-')));
    try {
      writeFileSync(join(dir, 'secret'), 'host secret');
      writeFileSync(join(dir, 'metrics.json'), '{"loss": 1}');
      expect(await readWrittenFile(join(dir, 'metrics.json'))).toBe('{"loss": 1}');
      expect(await readWrittenFile(join(dir, 'metrics.json'), 4)).toBe('{"lo');
      symlinkSync(join(dir, 'secret'), join(dir, 'link.json'));
      expect(await readWrittenFile(join(dir, 'link.json'))).toBeNull();
      expect(await readWrittenFile(join(dir, 'missing.json'))).toBeNull();
      expect(await readWrittenFile(dir)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('isolationLabel', () => {
  it('says where commands ran, network included', () => {
    expect(isolationLabel('auto', false)).toBe('sandboxed (bwrap), no network');
    expect(isolationLabel('bwrap', true)).toBe('sandboxed (bwrap), network allowed');
    expect(isolationLabel('none', true)).toBe('unsandboxed');
  });
});

describe('allowlistEnvironment', () => {
  it('passes the base and the named variables only, whatever the others are called', () => {
    const env = { PATH: '/bin', LANG: 'C.UTF-8', TZ: 'UTC', GH_PAT: 'x', DATABASE_URL: 'postgres://u:p@h/db', SSH_AUTH_SOCK: '/s', NPM_TOKEN: 't', HOME: '/root', MY_SETTING: '1', UNSET: undefined };
    const result = allowlistEnvironment(env, ['MY_SETTING', 'NOT_SET']);
    expect(result.env).toEqual({ PATH: '/bin', LANG: 'C.UTF-8', TZ: 'UTC', MY_SETTING: '1' });
    expect(result.withheld).toEqual(['DATABASE_URL', 'GH_PAT', 'HOME', 'NPM_TOKEN', 'SSH_AUTH_SOCK']);
    expect(result.secretWithheld).toEqual(['NPM_TOKEN']);
    expect(BASE_ENVIRONMENT).toEqual(['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TERM']);
  });
});
