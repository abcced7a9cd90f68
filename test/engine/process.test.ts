import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputCapture, parseCpuReport, runCommand, type RunCommandOptions } from '../../src/engine/process.js';

const dir = mkdtempSync(join(tmpdir(), 'autoloop-process-'));
// Processes a test could not kill through runCommand (escaped with setsid), cleaned up at the end.
const strays: number[] = [];
afterAll(() => {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

let pidFiles = 0;
function pidFile(): string {
  return join(dir, `pids-${pidFiles++}`);
}

function readPids(file: string): number[] {
  return readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
}

/**
 * True while `pid` is a live process. A zombie counts as dead: it runs nothing, and the
 * sandbox's init may reap orphans only seconds later, so `kill(pid, 0)` still succeeds on it.
 */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Waits briefly for `pid` to finish dying: the kernel closes a killed process's pipes a
 * moment before it becomes a zombie, so right after EOF it can still look alive.
 */
async function expectGone(pid: number): Promise<void> {
  const deadline = performance.now() + 500;
  while (isRunning(pid) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(isRunning(pid), `process ${pid} still running`).toBe(false);
}

async function timedRun(options: Partial<RunCommandOptions> & { command: string }) {
  const start = performance.now();
  const result = await runCommand({ cwd: dir, env: process.env, timeoutMs: 10_000, ...options });
  return { result, elapsed: performance.now() - start };
}

// Every behaviour holds the same with the timing shell of `measureCpu` between autoloop and the command.
describe.each([false, true])('runCommand (measureCpu: %s)', (measureCpu) => {
  const timed = (options: Partial<RunCommandOptions> & { command: string }) => timedRun({ measureCpu, ...options });

  it('runs a command through /bin/sh and reports its exit code and output', async () => {
    const { result } = await timed({ command: 'echo hello; echo oops >&2; exit 3' });
    expect(result.outcome).toMatchObject({ command: 'echo hello; echo oops >&2; exit 3', exitCode: 3, signal: null, timedOut: false, droppedBytes: 0 });
    expect(result.outcome.durationMs).toBeGreaterThan(0);
    expect(result.outcome.durationMs).toBeLessThan(5_000);
    expect(result.stdout).toBe('hello\n');
    expect(result.stderr).toBe('oops\n');
    expect(result.aborted).toBe(false);
  });

  it('uses the given cwd and exactly the given environment', async () => {
    const { result } = await timed({ command: 'pwd; echo "$AUTOLOOP_TEST_VALUE|$HOME"', env: { PATH: process.env.PATH, AUTOLOOP_TEST_VALUE: 'x y' } });
    expect(result.outcome.exitCode).toBe(0);
    expect(result.stdout).toBe(`${dir}\nx y|\n`);
  });

  it('streams decoded output to onOutput', async () => {
    const chunks: Array<[string, string]> = [];
    await timed({ command: 'printf "a\\n"; printf "b\\n" >&2', onOutput: (chunk, stream) => chunks.push([stream, chunk]) });
    expect(chunks.filter(([stream]) => stream === 'stdout').map(([, text]) => text).join('')).toBe('a\n');
    expect(chunks.filter(([stream]) => stream === 'stderr').map(([, text]) => text).join('')).toBe('b\n');
  });

  it('ends a command that overruns its budget with SIGTERM', async () => {
    const { result, elapsed } = await timed({ command: 'sleep 30', timeoutMs: 300, graceMs: 500 });
    expect(result.outcome).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 500 + 1_000);
  });

  it('SIGKILLs a shell and child that ignore SIGTERM once the grace period is over', async () => {
    const file = pidFile();
    const { result, elapsed } = await timed({
      command: 'trap "" TERM; sleep 30 & echo $$ $! > "$PID_FILE"; wait',
      env: { ...process.env, PID_FILE: file },
      timeoutMs: 300,
      graceMs: 500,
    });
    expect(result.outcome).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true });
    expect(elapsed).toBeGreaterThanOrEqual(300 + 500 - 10);
    expect(elapsed).toBeLessThan(300 + 500 + 1_000);
    const pids = readPids(file);
    expect(pids).toHaveLength(2);
    for (const pid of pids) await expectGone(pid);
  });

  it('does not wait for a backgrounded grandchild that holds the pipes after a normal exit, and kills it', async () => {
    const file = pidFile();
    const { result, elapsed } = await timed({ command: 'sleep 30 & echo $! > "$PID_FILE"; echo done', env: { ...process.env, PID_FILE: file } });
    expect(result.outcome).toMatchObject({ exitCode: 0, signal: null, timedOut: false });
    expect(result.stdout).toBe('done\n');
    expect(elapsed).toBeLessThan(1_000);
    await expectGone(readPids(file)[0]!);
  });

  it('kills a grandchild that ignores SIGTERM and holds the pipes when the budget runs out', async () => {
    const file = pidFile();
    const { result, elapsed } = await timed({
      command: '(trap "" TERM; exec sleep 30) & echo $! > "$PID_FILE"; sleep 30',
      env: { ...process.env, PID_FILE: file },
      timeoutMs: 300,
      graceMs: 500,
    });
    expect(result.outcome).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true });
    // The shell died at once; the grandchild kept the pipes until the SIGKILL at the end of grace.
    expect(result.outcome.durationMs).toBeLessThan(300 + 400);
    expect(elapsed).toBeGreaterThanOrEqual(300 + 500 - 10);
    expect(elapsed).toBeLessThan(300 + 500 + 1_000);
    await expectGone(readPids(file)[0]!);
  });

  it('stops waiting for pipes held by a process that escaped the group (setsid)', async () => {
    const file = pidFile();
    const { result, elapsed } = await timed({ command: 'setsid sleep 30 & echo $! > "$PID_FILE"; echo ok', env: { ...process.env, PID_FILE: file } });
    strays.push(readPids(file)[0]!);
    expect(result.outcome.exitCode).toBe(0);
    expect(result.stdout).toBe('ok\n');
    expect(elapsed).toBeLessThan(1_500);
  });

  it('keeps the first and last half of a large output and counts the dropped bytes', async () => {
    const total = 50_000_000;
    const max = 256 * 1024;
    const { result } = await timed({ command: `yes | head -c ${total}` });
    expect(result.outcome.exitCode).toBe(0);
    expect(result.outcome.droppedBytes).toBe(total - max);
    const marker = `\n[… ${total - max} bytes dropped …]\n`;
    expect(result.stdout).toContain(marker);
    const [head, tail] = result.stdout.split(marker);
    expect(Buffer.byteLength(head!)).toBe(max / 2);
    expect(Buffer.byteLength(tail!)).toBe(max / 2);
    expect(head!.startsWith('y\ny\n')).toBe(true);
    expect(tail!.endsWith('y\ny\n')).toBe(true);
    expect(result.stderr).toBe('');
  });

  it('stays bounded in memory while a command prints without end', async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const { result, elapsed } = await timed({ command: 'yes', timeoutMs: 1_500, graceMs: 300, maxOutputBytes: 1024 });
      expect(result.outcome.timedOut).toBe(true);
      expect(elapsed).toBeLessThan(1_500 + 300 + 1_000);
      expect(result.outcome.droppedBytes).toBeGreaterThan(50 * 1024 * 1024);
      expect(Buffer.byteLength(result.stdout)).toBeLessThan(1024 + 64);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('ends the command when the AbortSignal fires', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const { result, elapsed } = await timed({ command: 'sleep 30', signal: controller.signal, graceMs: 500 });
    expect(result.aborted).toBe(true);
    expect(result.outcome).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: false });
    expect(elapsed).toBeLessThan(200 + 500 + 1_000);
  });

  it('does not start a command whose signal is already aborted', async () => {
    const file = pidFile();
    const { result } = await timed({ command: 'echo ran > "$PID_FILE"', env: { ...process.env, PID_FILE: file }, signal: AbortSignal.abort() });
    expect(result.aborted).toBe(true);
    expect(result.outcome).toMatchObject({ exitCode: null, signal: null, timedOut: false });
    expect(() => readFileSync(file)).toThrow();
  });

  it('returns a start error instead of throwing when the cwd does not exist', async () => {
    const missing = join(dir, 'missing');
    const { result } = await timed({ command: 'echo hi', cwd: missing });
    expect(result.outcome).toMatchObject({ exitCode: null, signal: null, timedOut: false });
    expect(result.startError).toBe(`working directory ${missing} does not exist`);
    expect(result.stderr).toContain(`could not run \`echo hi\`: working directory ${missing} does not exist`);
  });

  it('keeps the exit code of a command that catches SIGTERM, reporting the signal autoloop sent', async () => {
    const { result } = await timed({ command: 'trap "exit 3" TERM; sleep 30 & wait', timeoutMs: 300, graceMs: 500 });
    expect(result.outcome).toMatchObject({ exitCode: 3, signal: 'SIGTERM', timedOut: true });
  });

  it('reports a command that killed itself as it would without the timing shell: code 128 + signal or the signal', async () => {
    const { result } = await timed({ command: 'kill -9 $$' });
    // dash exits with 137 for a child killed by SIGKILL; a command sh itself runs as its last one dies of it.
    expect(result.outcome.timedOut).toBe(false);
    expect(result.outcome.exitCode === 137 || result.outcome.signal === 'SIGKILL').toBe(true);
    expect(result.stderr).toBe('');
  });
});

describe('parseCpuReport', () => {
  it('adds the children\'s user and system time of a times report, in milliseconds', () => {
    expect(parseCpuReport('0m0.010000s 0m0.000000s\n0m1.250000s 1m0.500000s\n')).toBe(61_750);
    expect(parseCpuReport('0m0.00s 0m0.00s\n0m0.12s 0m0.03s\n')).toBe(150);
  });

  it('takes nothing but exactly the timing shell\'s two lines', () => {
    for (const text of ['', '0m0.1s 0m0.1s\n', 'x\n0m0.1s 0m0.1s\n0m0.1s 0m0.1s\n', '0m0.1s 0m0.1s\n0m0.1s 0m0.1s\n0m9.0s 0m0.0s\n', '0m0.1s 0m0.1s\n-1m0.1s 0m0.1s\n']) {
      expect(parseCpuReport(text), JSON.stringify(text)).toBeUndefined();
    }
  });
});

describe('OutputCapture', () => {
  it('keeps exactly the first and last halves across arbitrary chunk sizes', () => {
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    for (const max of [0, 1, 2, 7, 64, 101]) {
      const capture = new OutputCapture(max);
      const parts: Buffer[] = [];
      for (let i = 0; i < 60; i++) {
        const chunk = Buffer.from(Array.from({ length: random(40) }, () => 97 + random(26)));
        parts.push(chunk);
        capture.push(chunk);
      }
      const all = Buffer.concat(parts).toString('latin1');
      const head = Math.floor(max / 2);
      const tail = max - head;
      const dropped = all.length - max;
      expect(capture.droppedBytes).toBe(dropped);
      expect(capture.text()).toBe(`${all.slice(0, head)}\n[… ${dropped} bytes dropped …]\n${tail ? all.slice(-tail) : ''}`);
    }
  });

  it('returns the output unchanged when it fits', () => {
    const capture = new OutputCapture(16);
    capture.push(Buffer.from('héllo '));
    capture.push(Buffer.from('wörld'));
    expect(capture.droppedBytes).toBe(0);
    expect(capture.text()).toBe('héllo wörld');
  });

  it('does not leave broken UTF-8 characters at the cut', () => {
    const capture = new OutputCapture(8);
    capture.push(Buffer.from('ééééé'.repeat(4)));
    const text = capture.text();
    expect(text).not.toContain('\uFFFD');
    expect(text).toMatch(/^éé\n\[… 32 bytes dropped …\]\néé$/);
  });
});
