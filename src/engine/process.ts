/**
 * Runs one user command (setup, check, evaluator) under a hard time budget, in a sandbox when the
 * caller gives one (`options.sandbox`).
 *
 * The command runs as `/bin/sh -c <command>` in its own process group (a new session,
 * `detached: true`), so the whole tree can be signalled at once: at the budget the group
 * gets SIGTERM, and SIGKILL `graceMs` later. A child that ignores SIGTERM, or a
 * backgrounded grandchild that keeps the output pipes open, therefore cannot outlive
 * timeout + grace. When the shell exits on its own, leftovers of its group are killed too,
 * and pipes still held open by something that escaped the group (`setsid`) are abandoned
 * after a short wait instead of awaited forever.
 *
 * Output is captured with bounded memory: the first and the last half of `maxOutputBytes`
 * of each stream are kept, and the bytes dropped in between are counted.
 *
 * With `measureCpu`, the command (or its sandbox) runs under a timing shell, {@link CPU_TIMER}, outside
 * any sandbox: it waits for the command and writes the `times` builtin's line for its children to fd 3,
 * a pipe only autoloop reads. Node has no rusage of children; the shell's is the kernel's own account.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { CommandOutcome } from '../core/ledger/records.js';
import type { SandboxInvocation } from './sandbox.js';

/** Time between SIGTERM and SIGKILL unless the caller says otherwise. */
export const DEFAULT_GRACE_MS = 2_000;
/** Bytes of output kept per stream unless the caller says otherwise. */
export const DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024;
/** How long to wait for the pipes to close once the shell is gone and its group killed. */
const DRAIN_MS = 300;
// setTimeout overflows (and fires at once) above this.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What to run and how. */
export interface RunCommandOptions {
  /** Shell text, run as `/bin/sh -c <command>`. */
  command: string;
  cwd: string;
  /** The complete environment of the command (not merged with autoloop's own). */
  env: NodeJS.ProcessEnv;
  /** Budget in milliseconds; SIGTERM to the group when it runs out. Non-finite: no budget. */
  timeoutMs: number;
  /** Milliseconds between SIGTERM and SIGKILL. Default 2000. */
  graceMs?: number;
  /** Bytes kept per stream (first half + last half). Default 256 KiB. */
  maxOutputBytes?: number;
  /** Aborting ends the command the same way as a timeout (SIGTERM, then SIGKILL). */
  signal?: AbortSignal;
  /** Called with each decoded chunk as it arrives (unbounded: the caller decides what to keep). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Run inside this sandbox: `<executable> <args> /bin/sh -c <command>` (see `sandbox.ts`). The sandbox
   * process leads the process group, so the budget's SIGTERM and SIGKILL reach it, and everything inside
   * dies with it (its own PID namespace).
   */
  sandbox?: SandboxInvocation;
  /**
   * Measure the CPU time (user + system) of the command's whole process tree into `outcome.cpuMs`. A sandbox
   * must then come with its init (`accountCpu` in `sandbox.ts`), or the time of its processes is lost.
   */
  measureCpu?: boolean;
}

/**
 * The timing shell of `measureCpu`, run as `/bin/sh -c CPU_TIMER autoloop <command argv>`. The command gets
 * fd 3 closed (and not fd 4, the real stderr kept aside), so nothing it starts can write the report; the
 * shell's own stderr goes nowhere, so its job messages ("Terminated") never reach the output. It traps
 * the signals autoloop sends, so that it outlives the command and reports, then dies of the same signal
 * when the command did, as the command would have without it; a command that caught it keeps its code.
 */
export const CPU_TIMER = [
  'sig=0',
  "trap 'sig=15' TERM",
  "trap 'sig=2' INT",
  "trap 'sig=1' HUP",
  'exec 4>&2 2>/dev/null',
  '( exec 2>&4 3>&- 4>&-; exec "$@" )',
  'status=$?',
  'times >&3',
  'exec 3>&- 4>&-',
  'if [ "$sig" != 0 ] && [ "$status" = $((128 + sig)) ]; then trap - "$sig"; kill -s "$sig" $$; fi',
  'exit "$status"',
].join('\n');

// `times` prints the shell's own user and system time, then its children's: `0m0.120000s 0m0.010000s`.
const TIMES_REPORT = /^\d+m\d+(?:\.\d+)?s \d+m\d+(?:\.\d+)?s\n(\d+)m(\d+(?:\.\d+)?)s (\d+)m(\d+(?:\.\d+)?)s\n$/;

/**
 * Milliseconds of user + system CPU time of the children in the timing shell's report, or undefined when the
 * report is missing (the shell was killed) or is anything but exactly its two lines.
 */
export function parseCpuReport(text: string): number | undefined {
  const match = TIMES_REPORT.exec(text);
  if (!match) return undefined;
  const [, userMin, userSec, systemMin, systemSec] = match;
  const seconds = Number(userMin) * 60 + Number(userSec) + Number(systemMin) * 60 + Number(systemSec);
  return Math.round(seconds * 1000);
}

/** What a command did, with its (possibly cut) output. */
export interface CommandResult {
  outcome: CommandOutcome;
  stdout: string;
  stderr: string;
  /** True when the caller's AbortSignal ended the command (or it was aborted before it started). */
  aborted?: boolean;
  /** Set when the command could not be started at all; `stderr` then says why too. */
  startError?: string;
}

/**
 * Runs `command` through `/bin/sh -c` in its own process group under a time budget.
 *
 * Never throws for a command that fails: a command that cannot be started (missing `cwd`,
 * no `/bin/sh`) resolves with `exitCode: null`, `signal: null`, `startError` set and the
 * reason in `stderr`. After a timeout or an abort, `outcome.signal` is the signal that
 * ended the shell, or the last signal autoloop sent when the shell exited with a code
 * from its own TERM handler. `durationMs` runs from spawn to the shell's exit.
 */
export async function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  const { command, cwd, env, timeoutMs, signal, onOutput } = options;
  const graceMs = Math.max(0, Math.min(options.graceMs ?? DEFAULT_GRACE_MS, MAX_TIMER_MS));
  const maxOutputBytes = Math.max(0, Math.floor(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES));
  const started = performance.now();

  if (signal?.aborted) return notStarted(command, started, 'aborted before it started', true);

  let child: ChildProcess;
  try {
    const argv = options.sandbox
      ? [options.sandbox.executable, ...options.sandbox.args, '/bin/sh', '-c', command]
      : ['/bin/sh', '-c', command];
    const [file, ...args] = options.measureCpu ? ['/bin/sh', '-c', CPU_TIMER, 'autoloop', ...argv] : argv;
    child = spawn(file!, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe', ...(options.measureCpu ? ['pipe' as const] : [])] });
  } catch (error) {
    // Synchronous failures: invalid arguments such as a NUL byte in the command or env.
    return notStarted(command, started, (error as Error).message, false);
  }
  const stdoutStream = child.stdout!;
  const stderrStream = child.stderr!;
  const stdout = new OutputCapture(maxOutputBytes);
  const stderr = new OutputCapture(maxOutputBytes);
  const stdoutDecoder = new StringDecoder('utf8');
  const stderrDecoder = new StringDecoder('utf8');
  stdoutStream.on('data', (chunk: Buffer) => {
    stdout.push(chunk);
    if (onOutput) emit(onOutput, stdoutDecoder.write(chunk), 'stdout');
  });
  stderrStream.on('data', (chunk: Buffer) => {
    stderr.push(chunk);
    if (onOutput) emit(onOutput, stderrDecoder.write(chunk), 'stderr');
  });
  const cpuStream = options.measureCpu ? (child.stdio[3] as Readable) : null;
  let cpuReport = '';
  cpuStream?.on('data', (chunk: Buffer) => {
    // Two short lines; anything longer is no report of the timing shell's.
    if (cpuReport.length < 256) cpuReport += chunk.toString('utf8');
  });
  const cpuReportRead = cpuStream ? whenClosed(cpuStream) : Promise.resolve();
  const streamsClosed = Promise.all([whenClosed(stdoutStream), whenClosed(stderrStream)]);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal }));
  });

  const startFailure = await new Promise<Error | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', resolve);
  });
  if (startFailure) {
    stdoutStream.destroy();
    stderrStream.destroy();
    cpuStream?.destroy();
    const reason = (startFailure as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(cwd)
      ? `working directory ${cwd} does not exist`
      : startFailure.message;
    return notStarted(command, started, reason, false);
  }
  // Later 'error' events (a failed kill) must not crash the process; kills are best effort.
  child.on('error', () => {});
  const pgid = child.pid!;
  liveGroups.add(pgid);
  ensureExitHook();

  let timedOut = false;
  let aborted = false;
  let lastSignal: NodeJS.Signals | null = null;
  let hardKillTimer: NodeJS.Timeout | undefined;
  let resolveHardKill!: () => void;
  const hardKilled = new Promise<void>((resolve) => (resolveHardKill = resolve));
  const hardKill = (): void => {
    lastSignal = 'SIGKILL';
    killProcessGroup(pgid, 'SIGKILL');
    resolveHardKill();
  };
  const terminate = (): void => {
    if (lastSignal) return;
    lastSignal = 'SIGTERM';
    killProcessGroup(pgid, 'SIGTERM');
    hardKillTimer = setTimeout(hardKill, graceMs);
  };
  const budgetTimer = Number.isFinite(timeoutMs)
    ? setTimeout(() => {
      timedOut = true;
      terminate();
    }, Math.max(0, Math.min(timeoutMs, MAX_TIMER_MS)))
    : undefined;
  const onAbort = (): void => {
    if (lastSignal) return;
    aborted = true;
    terminate();
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const exit = await exited;
  const durationMs = performance.now() - started;
  clearTimeout(budgetTimer);
  signal?.removeEventListener('abort', onAbort);

  // After SIGTERM, leftovers that still hold the pipes get the rest of their grace period;
  // after a normal exit nothing of the group may stay behind.
  if (lastSignal === 'SIGTERM') await Promise.race([streamsClosed, hardKilled]);
  clearTimeout(hardKillTimer);
  killProcessGroup(pgid, 'SIGKILL');
  liveGroups.delete(pgid);
  // Whatever escaped the group (setsid) may hold the pipes forever: stop waiting after a moment.
  await raceTimeout(streamsClosed, DRAIN_MS);
  // Only the timing shell holds fd 3, and it has exited: the report is complete once the pipe closes.
  await raceTimeout(cpuReportRead, DRAIN_MS);
  stdoutStream.destroy();
  stderrStream.destroy();
  cpuStream?.destroy();
  const cpuMs = cpuStream ? parseCpuReport(cpuReport) : undefined;
  if (onOutput) {
    emit(onOutput, stdoutDecoder.end(), 'stdout');
    emit(onOutput, stderrDecoder.end(), 'stderr');
  }

  const ended = timedOut || aborted;
  return {
    outcome: {
      command,
      exitCode: exit.code,
      signal: exit.signal ?? (ended ? lastSignal : null),
      durationMs,
      ...(cpuMs !== undefined ? { cpuMs } : {}),
      timedOut,
      droppedBytes: stdout.droppedBytes + stderr.droppedBytes,
    },
    stdout: stdout.text(),
    stderr: stderr.text(),
    aborted,
  };
}

/**
 * Sends `signal` to every process in the group `pgid` (a detached child's pid).
 * Returns false when the group no longer exists or may not be signalled; never throws.
 */
export function killProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Keeps the first `floor(max/2)` and the last `max - floor(max/2)` bytes of a stream in
 * fixed buffers (a ring for the tail), so memory stays bounded whatever the command prints.
 */
export class OutputCapture {
  private readonly headLimit: number;
  private readonly tailLimit: number;
  private head: Buffer | undefined;
  private headBytes = 0;
  private tail: Buffer | undefined;
  /** Next write position in the tail ring. */
  private tailPos = 0;
  private tailBytes = 0;
  /** Bytes pushed in total. */
  totalBytes = 0;

  constructor(maxBytes: number) {
    this.headLimit = Math.floor(maxBytes / 2);
    this.tailLimit = maxBytes - this.headLimit;
  }

  /** Bytes neither in the head nor in the tail. */
  get droppedBytes(): number {
    return this.totalBytes - this.headBytes - this.tailBytes;
  }

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.headLimit) {
      this.head ??= Buffer.allocUnsafe(this.headLimit);
      const take = Math.min(this.headLimit - this.headBytes, rest.length);
      rest.copy(this.head, this.headBytes, 0, take);
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0 || this.tailLimit === 0) return;
    this.tail ??= Buffer.allocUnsafe(this.tailLimit);
    if (rest.length >= this.tailLimit) {
      rest.copy(this.tail, 0, rest.length - this.tailLimit);
      this.tailPos = 0;
      this.tailBytes = this.tailLimit;
      return;
    }
    const first = Math.min(rest.length, this.tailLimit - this.tailPos);
    rest.copy(this.tail, this.tailPos, 0, first);
    rest.copy(this.tail, 0, first);
    this.tailPos = (this.tailPos + rest.length) % this.tailLimit;
    this.tailBytes = Math.min(this.tailLimit, this.tailBytes + rest.length);
  }

  /** The kept text; a marker line stands where bytes were dropped. */
  text(): string {
    const head = this.head?.subarray(0, this.headBytes) ?? Buffer.alloc(0);
    const tail = !this.tail
      ? Buffer.alloc(0)
      : this.tailBytes < this.tailLimit
        ? this.tail.subarray(0, this.tailBytes)
        : Buffer.concat([this.tail.subarray(this.tailPos), this.tail.subarray(0, this.tailPos)]);
    const dropped = this.droppedBytes;
    if (dropped === 0) return Buffer.concat([head, tail]).toString('utf8');
    // Cut points may split a UTF-8 sequence: drop the partial character on each side.
    const headText = new StringDecoder('utf8').write(head);
    let start = 0;
    while (start < tail.length && start < 3 && (tail[start]! & 0xc0) === 0x80) start++;
    return `${headText}\n[… ${dropped} bytes dropped …]\n${tail.subarray(start).toString('utf8')}`;
  }
}

// Groups still running, killed if autoloop itself exits (normally or via process.exit).
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function ensureExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of liveGroups) killProcessGroup(pgid, 'SIGKILL');
  });
}

function emit(onOutput: NonNullable<RunCommandOptions['onOutput']>, text: string, stream: 'stdout' | 'stderr'): void {
  if (text) onOutput(text, stream);
}

function whenClosed(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}

async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function notStarted(command: string, started: number, reason: string, aborted: boolean): CommandResult {
  const message = `autoloop: could not run \`${command}\`: ${reason}`;
  return {
    outcome: {
      command,
      exitCode: null,
      signal: null,
      durationMs: performance.now() - started,
      timedOut: false,
      droppedBytes: 0,
    },
    stdout: '',
    stderr: `${message}\n`,
    aborted,
    ...(aborted ? {} : { startError: reason }),
  };
}
