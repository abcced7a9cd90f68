import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandShell, CommandShellPool, shellQuote } from '../../src/engine/command-shell.js';

describe('CommandShell', () => {
  const shell = new CommandShell(process.env);

  it('runs argv without shell expansion and returns stdout, stderr and the exit code', async () => {
    const result = await shell.run(['sh', '-c', 'printf "%s|" "$0" "$1"; echo oops >&2; exit 3', '$HOME', "it's; rm -rf /"], { cwd: '/tmp' });
    expect(result.stdout.toString()).toBe("$HOME|it's; rm -rf /|");
    expect(result.stderr.toString()).toBe('oops\n');
    expect(result.exitCode).toBe(3);
  });

  it('keeps output byte for byte, including binary and text that looks like its markers', async () => {
    const result = await shell.run(['printf', '\\000\\377\\n__autoloop_0000000000000000__:0\\nend'], { cwd: '/tmp' });
    expect([...result.stdout]).toEqual([0, 255, 10, ...Buffer.from('__autoloop_0000000000000000__:0\nend')]);
  });

  it('passes stdin, the working directory and extra environment to one command only', async () => {
    const result = await shell.run(['sh', '-c', 'cat; pwd; echo "$EXTRA"'], { cwd: '/tmp', input: 'line 1\nline 2\n', env: { EXTRA: 'x y' } });
    expect(result.stdout.toString()).toBe('line 1\nline 2\n/tmp\nx y\n');
    const next = await shell.run(['sh', '-c', 'echo "[$EXTRA]"; pwd'], { cwd: '/' });
    expect(next.stdout.toString()).toBe('[]\n/\n');
  });

  it('handles large outputs and many queued commands in order', async () => {
    const big = shell.run(['head', '-c', '5000000', '/dev/zero'], { cwd: '/tmp' });
    const small = Array.from({ length: 20 }, (_, i) => shell.run(['echo', String(i)], { cwd: '/tmp' }));
    expect((await big).stdout.length).toBe(5_000_000);
    expect((await Promise.all(small)).map((r) => r.stdout.toString().trim())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it('reports a missing working directory as a failed command', async () => {
    const result = await shell.run(['true'], { cwd: '/does/not/exist' });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.toString()).toMatch(/does\/not\/exist/);
  });

  it('starts a new shell after the old one was closed', async () => {
    const own = new CommandShell(process.env);
    expect((await own.run(['echo', 'a'], { cwd: '/tmp' })).stdout.toString()).toBe('a\n');
    own.close();
    expect((await own.run(['echo', 'b'], { cwd: '/tmp' })).stdout.toString()).toBe('b\n');
    own.close();
  });

  it('runs commands of a pool side by side', async () => {
    // The first command waits for a file only the second creates: serialised, it would give up.
    const flag = join(mkdtempSync(join(tmpdir(), 'autoloop-pool-')), 'flag');
    const pool = new CommandShellPool(process.env, 2);
    const waiter = pool.run(['sh', '-c', 'i=0; while [ ! -f "$0" ]; do i=$((i+1)); [ $i -gt 500 ] && exit 1; sleep 0.01; done', flag], { cwd: '/tmp' });
    const maker = pool.run(['touch', flag], { cwd: '/tmp' });
    expect((await Promise.all([waiter, maker])).map((r) => r.exitCode)).toEqual([0, 0]);
  });

  it('quotes single quotes', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});
