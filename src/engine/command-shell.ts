import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

/** What one command printed and how it ended. */
export interface ShellResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

interface Pending {
  script: string;
  resolve: (result: ShellResult) => void;
  reject: (error: Error) => void;
}

/** The last `bytes` bytes of a list of chunks, as text. */
function tail(chunks: Buffer[], bytes: number): string {
  const picked: Buffer[] = [];
  let length = 0;
  for (let i = chunks.length - 1; i >= 0 && length < bytes; i--) {
    picked.unshift(chunks[i]!);
    length += chunks[i]!.length;
  }
  const joined = Buffer.concat(picked);
  return joined.subarray(Math.max(0, joined.length - bytes)).toString('latin1');
}

/** Quotes one argument for /bin/sh: single quotes, with embedded ones closed and escaped. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * One long-lived /bin/sh that runs short commands (git plumbing) one after another. Each command
 * forks from a small shell instead of from Node, whose fork costs grow with its heap: this cuts
 * autoloop's own time per experiment by about half. Commands are serialised; output is framed by a
 * random marker the shell prints after each command. The shell lives in its own process group, so
 * a Ctrl-C meant for autoloop does not kill it mid-command, and it exits when Node closes its stdin.
 */
export class CommandShell {
  private child: ChildProcessByStdio<Writable, Readable, Readable> | null = null;
  private readonly queue: Pending[] = [];
  private current: Pending | null = null;
  private stdout: Buffer[] = [];
  private stderr: Buffer[] = [];
  private readonly marker = `__autoloop_${randomBytes(8).toString('hex')}__`;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** Runs `argv` (no shell expansion: every word is quoted) in `cwd`, with optional stdin text and extra environment. */
  run(argv: readonly string[], options: { cwd: string; input?: string; env?: NodeJS.ProcessEnv }): Promise<ShellResult> {
    const assignments = Object.entries(options.env ?? {})
      .filter(([name]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      .map(([name, value]) => `${name}=${shellQuote(value ?? '')} `)
      .join('');
    const heredoc = `${this.marker}_IN`;
    const stdin = options.input === undefined ? '</dev/null' : `<<'${heredoc}'\n${options.input.replace(/\n$/, '')}\n${heredoc}`;
    const command = `cd ${shellQuote(options.cwd)} && ${assignments}${argv.map(shellQuote).join(' ')} ${stdin}`;
    // A subshell keeps `cd` and assignments from leaking into the next command.
    const script = `( ${command}\n); printf '\\n${this.marker}:%d\\n' $?; printf '${this.marker}\\n' >&2\n`;
    return new Promise((resolve, reject) => {
      this.queue.push({ script, resolve, reject });
      this.pump();
    });
  }

  /** Commands queued or running: lets a pool pick the least busy shell. */
  get load(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  /** Ends the shell; commands queued later start a new one. */
  close(): void {
    this.child?.stdin.end();
    this.child = null;
  }

  private start(): ChildProcessByStdio<Writable, Readable, Readable> {
    const child = spawn('/bin/sh', [], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    child.stdout.on('data', (chunk: Buffer) => {
      this.stdout.push(chunk);
      this.settle();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk);
      this.settle();
    });
    const fail = (error: Error) => {
      // A shell closed on purpose may exit after its successor started: its end concerns no one.
      if (this.child !== child) return;
      this.child = null;
      const pending = [this.current, ...this.queue.splice(0)].filter((p): p is Pending => p !== null);
      this.current = null;
      for (const p of pending) p.reject(error);
    };
    child.on('error', fail);
    child.on('exit', (code, signal) => fail(new Error(`the command shell exited (${signal ?? code})`)));
    child.stdin.on('error', () => undefined);
    return child;
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    this.child ??= this.start();
    this.current = this.queue.shift()!;
    this.stdout = [];
    this.stderr = [];
    this.setRef(true);
    this.child.stdin.write(this.current.script);
  }

  private settle(): void {
    if (!this.current) return;
    // Only the last bytes can hold the end markers: look there before joining a large output.
    const outTail = tail(this.stdout, this.marker.length + 16);
    const errTail = tail(this.stderr, this.marker.length + 2);
    const endLine = /\n(__autoloop_[0-9a-f]{16}__):(\d+)\n$/.exec(outTail);
    if (!endLine || endLine[1] !== this.marker || !errTail.endsWith(`${this.marker}\n`)) return;
    const out = Buffer.concat(this.stdout);
    const err = Buffer.concat(this.stderr);
    const done = this.current;
    this.current = null;
    this.stdout = [];
    this.stderr = [];
    done.resolve({
      stdout: out.subarray(0, out.length - Buffer.byteLength(endLine[0])),
      stderr: err.subarray(0, err.length - this.marker.length - 1),
      exitCode: Number(endLine[2]),
    });
    if (this.queue.length === 0) this.setRef(false);
    this.pump();
  }

  /** Keeps Node alive only while a command is in flight, so an idle shell never holds the process open. */
  private setRef(ref: boolean): void {
    const child = this.child;
    if (!child) return;
    for (const handle of [child, child.stdin, child.stdout, child.stderr] as Array<{ ref?: () => void; unref?: () => void }>) {
      if (ref) handle.ref?.();
      else handle.unref?.();
    }
  }
}

/** A few shells, so that independent commands (a diff while a worktree resets) still run side by side. */
export class CommandShellPool {
  private readonly shells: CommandShell[];

  constructor(env: NodeJS.ProcessEnv, size = 2) {
    this.shells = Array.from({ length: size }, () => new CommandShell(env));
  }

  run(argv: readonly string[], options: { cwd: string; input?: string; env?: NodeJS.ProcessEnv }): Promise<ShellResult> {
    const idlest = this.shells.reduce((a, b) => (b.load < a.load ? b : a));
    return idlest.run(argv, options);
  }
}
