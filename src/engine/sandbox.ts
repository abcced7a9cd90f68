/**
 * The sandbox every process that runs repository code or an agent runs in (`evaluate.setup`,
 * `evaluate.check`, `evaluate.command`, the `command` proposer's agent, the `llm` proposer's checks).
 *
 * On Linux it is bubblewrap (`bwrap`): the command gets its own PID, IPC, UTS and cgroup namespaces
 * (so every process it starts, `setsid` daemons included, dies with it, and autoloop's own processes
 * and their `/proc/<pid>/environ` are invisible), no network unless allowed (a new, empty network
 * namespace), the host's file system read-only with a fresh `/proc`, `/dev`, `/tmp` and `/run`, the
 * repository root, its git directory, autoloop's run files, the other side's worktree and the user's
 * home hidden behind empty, read-only tmpfs mounts, and only the measured worktree (plus the private
 * `/tmp` and what a caller binds, such as the metrics directory) writable, at its own path.
 *
 * The module has a pure part, {@link bwrapArgs}, which turns a {@link SandboxPlan} into bwrap's
 * arguments, and an impure part that looks at the host: {@link resolveSandbox} finds bwrap and starts
 * one tiny sandbox, once per process and executable (AppArmor on Ubuntu 24.04 lets `bwrap --version`
 * run but refuses its user namespace), and {@link sandboxInvocation} fills a plan from the host
 * (real paths, which of them exist, the user's home, node's install).
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, accessSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { mkdtemp, open, rm, mkdir } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { CONFIG_PATH, type SandboxKind } from '../core/config/config-schema.js';
import { AutoloopError, EXIT } from '../core/errors.js';

/** A directory of autoloop's inside the sandbox (on its private `/run`): where the metrics and prompt files are bound. */
export const SANDBOX_RUN_DIR = '/run/autoloop';
/** `$AUTOLOOP_METRICS_FILE` inside the sandbox: a file in a fresh directory bound read-write for one run. */
export const SANDBOX_METRICS_FILE = `${SANDBOX_RUN_DIR}/metrics.json`;
/** `HOME` inside the sandbox: an empty directory on its private `/tmp`. */
export const SANDBOX_HOME = '/tmp/home';
/** `TMPDIR` inside the sandbox: its private `/tmp`. */
export const SANDBOX_TMP = '/tmp';
/** Mounted fresh and empty in every sandbox; nothing of the host's shows through them. */
const PRIVATE_MOUNTS = ['/tmp', '/run'] as const;

/** A path of the host made visible inside the sandbox at `target`. */
export interface SandboxBind {
  source: string;
  target: string;
  writable: boolean;
}

/** What one sandboxed command may see and do, in absolute, normalised host paths: the input of {@link bwrapArgs}. */
export interface SandboxPlan {
  /** The only host directory the command may write; it runs there (`--chdir`), bound at its own path. */
  worktree: string;
  /** Whether the command shares the host's network; otherwise it gets an empty network namespace. */
  network: boolean;
  /** Directories hidden behind an empty tmpfs: the repository, its `.git`, the run files, the other worktree, the user's home. */
  hide: readonly string[];
  /** Directories inside a hidden one shown again read-only at their own path (node's install under the user's home). */
  reveal?: readonly string[];
  /** Further binds (the metrics directory, the prompt file), applied last. */
  binds?: readonly SandboxBind[];
  /** The worktree is bound read-only too (`evaluate.score` reads what `command` left there, and changes nothing). */
  readOnly?: boolean;
  /**
   * Run the command under {@link SANDBOX_INIT}, a reaper of autoloop's, as the namespace's PID 1, so the CPU
   * time of every process of the command's tree reaches autoloop's waiting shell outside (see `process.ts`).
   */
  accountCpu?: boolean;
}

/**
 * PID 1 of a sandbox whose CPU time autoloop measures (`--as-pid-1`), run with the command as its arguments.
 * bwrap's own init loses that time: bwrap returns as soon as its init reports the command's exit, without
 * waiting for it, and when a PID namespace's init exits the kernel reaps what is left without accounting
 * it. This one runs the command, then kills and reaps (`wait` through a foreground `sleep`) every process
 * left in the namespace, so their time is added to its own children's, and exits with the command's status.
 * `kill -1` reaches every process but the caller: it is safe only as PID 1 of a namespace of its own, hence
 * the check. Its job-status messages ("Killed") go nowhere; the command keeps the real stderr.
 */
export const SANDBOX_INIT = [
  'exec 4>&2 2>/dev/null',
  '( exec 2>&4 4>&-; exec "$@" )',
  'status=$?',
  'if [ "$$" = 1 ]; then while kill -KILL -1; do sleep 0.01; done; fi',
  'exit "$status"',
].join('\n');

/** True when `child` is `parent` or below it. */
function within(child: string, parent: string): boolean {
  return child === parent || parent === '/' || child.startsWith(`${parent}/`);
}

/** True when `child` is strictly below `parent`. */
function inside(child: string, parent: string): boolean {
  return child !== parent && within(child, parent);
}

/** The paths of `paths` not within another of them, sorted, without duplicates. */
function outermost(paths: readonly string[]): string[] {
  const unique = [...new Set(paths)].sort();
  return unique.filter((p) => !unique.some((q) => q !== p && within(p, q)));
}

/**
 * bwrap's arguments (without the command) for one plan. Pure: the caller has resolved the paths.
 *
 * Order matters, since each mount covers what came before it: the host read-only; fresh `/dev`,
 * `/proc`, `/tmp` (with `HOME` in it) and `/run`; tmpfs over every hidden directory that is not
 * inside the worktree (parents first); the read-only reveals; the worktree read-write; tmpfs over the
 * hidden directories inside the worktree (a trace folder kept there); the caller's binds; and last
 * `/run` and every tmpfs cover remounted read-only, so only the worktree, the writable binds and the
 * private `/tmp` can be written.
 */
export function bwrapArgs(plan: SandboxPlan): string[] {
  const worktree = path.resolve(plan.worktree);
  // Never a cover over the sandbox's own HOME, /tmp or /run (nor over /): they are what the command is given.
  const hide = plan.hide.map((p) => path.resolve(p)).filter((p) => !within(SANDBOX_HOME, p) && !within(SANDBOX_RUN_DIR, p));
  // A hidden directory below /tmp gets its own cover too: /tmp stays writable, the cover must not.
  const outer = outermost(hide.filter((p) => !inside(p, worktree) && p !== worktree));
  const inner = outermost(hide.filter((p) => inside(p, worktree)));
  const hiddenRoots = [...PRIVATE_MOUNTS, ...outer];
  // A reveal must sit inside something hidden (else it is visible anyway) and must not contain anything hidden.
  const reveal = [...new Set((plan.reveal ?? []).map((p) => path.resolve(p)))].filter(
    (p) => hiddenRoots.some((h) => inside(p, h)) && !hide.some((h) => within(h, p)) && !within(worktree, p),
  );
  const args = [
    '--die-with-parent',
    '--new-session',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(plan.network ? [] : ['--unshare-net']),
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--tmpfs', '/tmp',
    '--dir', SANDBOX_HOME,
    '--tmpfs', '/run',
  ];
  for (const dir of outer) args.push('--tmpfs', dir);
  for (const dir of reveal) args.push('--ro-bind', dir, dir);
  args.push(plan.readOnly ? '--ro-bind' : '--bind', worktree, worktree);
  for (const dir of inner) args.push('--tmpfs', dir);
  for (const bind of plan.binds ?? []) args.push(bind.writable ? '--bind' : '--ro-bind', bind.source, bind.target);
  // Once every mount point is made, the covers turn read-only: a write outside the worktree (and the
  // caller's writable binds, and /tmp) fails instead of landing on an empty tmpfs. Not recursive, so
  // the binds inside them keep their own mode.
  for (const dir of ['/run', ...outer, ...inner]) args.push('--remount-ro', dir);
  args.push('--chdir', worktree);
  if (plan.accountCpu) args.push('--as-pid-1', '/bin/sh', '-c', SANDBOX_INIT, 'autoloop-init');
  return args;
}

/** The executable and arguments `runCommand` puts before `/bin/sh -c <command>` (with `accountCpu`, the init's too). */
export interface SandboxInvocation {
  executable: string;
  args: readonly string[];
}

/** A sandbox that started on this host. */
export interface Sandbox {
  kind: 'bwrap';
  /** Absolute path of bwrap. */
  executable: string;
  /** What `bwrap --version` said, e.g. `bubblewrap 0.8.0`. */
  version: string;
}

/** Why no sandbox could start: not Linux, bwrap not installed (or not runnable), or bwrap refused (user namespaces). */
export type SandboxFailure = 'platform' | 'missing' | 'refused';

/** Config key of the choice, for messages. */
const KEY = 'sandbox';

/** The sandbox the config asks for cannot start here. The message names the cause and the fixes. */
export class SandboxUnavailableError extends AutoloopError {
  override readonly exitCode = EXIT.config;

  constructor(
    readonly reason: SandboxFailure,
    message: string,
    /** What bwrap printed, when it ran. */
    readonly detail: string = '',
  ) {
    super(message, { subject: { key: KEY } });
    this.name = 'SandboxUnavailableError';
  }
}

const OPT_OUT = `or, to run repository code without isolation, set \`${KEY}: none\` in ${CONFIG_PATH} (every output then says "unsandboxed")`;

function unavailable(reason: SandboxFailure, kind: SandboxKind, what: string, detail = ''): SandboxUnavailableError {
  const fix = {
    platform: `run autoloop on Linux (a GitHub-hosted ubuntu runner, a Linux container or VM), ${OPT_OUT}`,
    missing: `install bubblewrap (\`sudo apt-get install bubblewrap\`, \`sudo dnf install bubblewrap\`, \`apk add bubblewrap\`), ${OPT_OUT}`,
    refused: 'allow unprivileged user namespaces: on Ubuntu 24.04 (including GitHub\'s ubuntu-24.04 runners) run '
      + '`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or install an AppArmor profile that lets bwrap use them); '
      + `on other kernels \`sudo sysctl -w kernel.unprivileged_userns_clone=1\` or \`sudo sysctl -w user.max_user_namespaces=15000\`; in a container, `
      + `run it with user namespaces allowed (e.g. Docker's \`--security-opt seccomp=unconfined --security-opt apparmor=unconfined\`); ${OPT_OUT}`,
  }[reason];
  const said = detail.trim() ? ` (bwrap said: ${detail.trim().split('\n').slice(-3).join(' ').slice(0, 400)})` : '';
  return new SandboxUnavailableError(reason, `${KEY}: ${kind}: ${what}${said}. To fix it, ${fix}.`, detail);
}

export interface ResolveSandboxOptions {
  /** Where `bwrap` is looked up when `executable` is not given: this environment's `PATH`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** bwrap to use: a path, or a name looked up on `PATH`. Default `bwrap`. */
  executable?: string;
  /** Default `process.platform`. */
  platform?: NodeJS.Platform;
}

/** One probe per executable per process: bwrap does not become usable or unusable while autoloop runs. */
const probes = new Map<string, Promise<{ ok: true; version: string } | { ok: false; reason: SandboxFailure; what: string; detail: string }>>();

/**
 * The sandbox `kind` asks for, checked to start on this host: null for `none`. For `auto` and `bwrap`
 * (the same today: bubblewrap is the one sandbox autoloop knows) a host without a working bwrap is a
 * {@link SandboxUnavailableError} naming the cause (not Linux, not installed, user namespaces refused,
 * with bwrap's own words) and the fix. The check runs `bwrap --version` and then a real, tiny sandbox
 * with the options every command gets, once per executable per process.
 */
export async function resolveSandbox(kind: SandboxKind, options: ResolveSandboxOptions = {}): Promise<Sandbox | null> {
  if (kind === 'none') return null;
  const platform = options.platform ?? process.platform;
  if (platform !== 'linux') throw unavailable('platform', kind, `autoloop's sandbox is bubblewrap, which runs only on Linux, and this is ${platform}`);
  const name = options.executable ?? 'bwrap';
  const searchPath = (options.env ?? process.env).PATH ?? '';
  const executable = findExecutable(name, searchPath);
  if (!executable) {
    const where = name.includes('/') ? `${name} does not exist or is not executable` : `bwrap was not found on PATH (${searchPath || 'empty'})`;
    throw unavailable('missing', kind, `bubblewrap is not installed: ${where}`);
  }
  let probe = probes.get(executable);
  if (!probe) {
    probe = probeBwrap(executable);
    probes.set(executable, probe);
  }
  const result = await probe;
  if (!result.ok) throw unavailable(result.reason, kind, result.what, result.detail);
  return { kind: 'bwrap', executable, version: result.version };
}

/** The absolute path of an executable regular file: `name` itself when it has a slash, else the first match on `searchPath`. */
function findExecutable(name: string, searchPath: string): string | null {
  const candidates = name.includes('/') ? [path.resolve(name)] : searchPath.split(path.delimiter).filter((dir) => dir !== '').map((dir) => path.join(dir, name));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  return null;
}

const PROBE_TIMEOUT_MS = 15_000;

async function probeBwrap(executable: string): Promise<{ ok: true; version: string } | { ok: false; reason: SandboxFailure; what: string; detail: string }> {
  const version = await runQuiet(executable, ['--version']);
  if (version.code !== 0) {
    return { ok: false, reason: 'missing', what: `${executable} --version failed (${version.error ?? `exit code ${version.code}`})`, detail: version.stderr };
  }
  // A real start with the options every command gets (PID and network namespaces, a user namespace when
  // not root, fresh /proc, tmpfs covers remounted read-only): what AppArmor or a seccomp profile refuses.
  const dir = mkdtempSync(path.join(tmpdir(), 'autoloop-probe-'));
  try {
    const plan: SandboxPlan = { worktree: realpathSync(dir), network: false, hide: [] };
    const started = await runQuiet(executable, [...bwrapArgs(plan), '/bin/sh', '-c', ':']);
    if (started.code !== 0) {
      return { ok: false, reason: 'refused', what: `bubblewrap is installed (${executable}) but cannot start a sandbox (${started.error ?? `exit code ${started.code}`})`, detail: started.stderr };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { ok: true, version: version.stdout.trim() || 'bubblewrap' };
}

function runQuiet(executable: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; error?: string }> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: PROBE_TIMEOUT_MS, killSignal: 'SIGKILL' });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => resolve({ code: null, stdout, stderr, error: error.message }));
    child.once('close', (code, signal) => resolve({ code, stdout, stderr, ...(signal ? { error: `killed by ${signal}` } : {}) }));
  });
}

/** What the host decides of one sandboxed command; the rest of a {@link SandboxPlan}. */
export interface SandboxRequest {
  /** The directory the command runs in and may write. */
  worktree: string;
  network: boolean;
  /** Directories the command must not see, besides those derived from the worktree's `.git` and the user's home. */
  hide?: readonly string[];
  binds?: readonly SandboxBind[];
  /** The worktree read-only as well: see {@link SandboxPlan.readOnly}. */
  readOnly?: boolean;
  /** Every process's CPU time accounted: see {@link SandboxPlan.accountCpu}. */
  accountCpu?: boolean;
}

/** A path as the kernel sees it (symlinks resolved), or null when it does not exist. */
function real(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** Hidden paths must be directories: a tmpfs cannot cover a file. */
function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * When `worktree` is a linked worktree (its `.git` is a file `gitdir: …`), the repository's directories:
 * its own git dir, the common git dir and, when that is a `.git` folder, the checkout holding it (the
 * user's files and `.autoloop/`). Read from files, without running git; callers that know the
 * repository should pass it too, since the worktree's `.git` file is in reach of the code run there.
 */
export function linkedRepositoryPaths(worktree: string): string[] {
  const dotGit = path.join(worktree, '.git');
  let text: string;
  try {
    if (!lstatSync(dotGit).isFile()) return [];
    text = readFileSync(dotGit, 'utf8');
  } catch {
    return [];
  }
  const match = /^gitdir:\s*(.+?)\s*$/m.exec(text);
  if (!match) return [];
  const gitDir = path.resolve(worktree, match[1]!);
  let commonDir = gitDir;
  try {
    commonDir = path.resolve(gitDir, readFileSync(path.join(gitDir, 'commondir'), 'utf8').trim());
  } catch {
    // A git dir without `commondir` is its own common dir.
  }
  const paths = [gitDir, commonDir];
  if (path.basename(commonDir) === '.git') paths.push(path.dirname(commonDir));
  return paths;
}

/** The directory of node's installation to show again when it lies in a hidden directory, so `node` runs in the sandbox. */
function nodeInstall(home: string | null): string | null {
  const exec = real(process.execPath);
  if (!exec) return null;
  const bin = path.dirname(exec);
  const install = path.basename(bin) === 'bin' ? path.dirname(bin) : bin;
  // Never the home itself (node in ~/bin): only its bin directory then.
  return home && within(home, install) ? bin : install;
}

/**
 * bwrap's invocation for one command on this host: the request's paths resolved (symlinks followed,
 * missing ones dropped, since bwrap cannot mount over what does not exist), the user's home, the
 * host's temporary folder and `$RUNNER_TEMP` hidden, node's installation shown again inside a hidden
 * folder, and, with network, the host's resolver configuration kept when it lives under `/run`.
 */
export function sandboxInvocation(sandbox: Sandbox, request: SandboxRequest): SandboxInvocation {
  const worktree = real(request.worktree) ?? path.resolve(request.worktree);
  const home = real(homedir());
  // autoloop's temporary files (prompt and metrics files of other runs) and, in GitHub Actions, the
  // runner's temporary folder (the event payload, the step's command files) stay out of sight too.
  const hostTemp = [tmpdir(), process.env.RUNNER_TEMP].filter((dir): dir is string => Boolean(dir));
  const hide = [...(request.hide ?? []), ...linkedRepositoryPaths(worktree), ...(home ? [home] : []), ...hostTemp]
    .map(real)
    .filter((p): p is string => p !== null && isDirectory(p));
  const reveal: string[] = [];
  const install = nodeInstall(home);
  if (install) reveal.push(install);
  if (request.network) {
    const resolver = real('/etc/resolv.conf');
    if (resolver && within(resolver, '/run')) reveal.push(path.dirname(resolver));
  }
  const binds = (request.binds ?? []).map((bind) => ({ ...bind, source: real(bind.source) ?? bind.source }));
  return { executable: sandbox.executable, args: bwrapArgs({ worktree, network: request.network, hide, reveal, binds, readOnly: request.readOnly ?? false, accountCpu: request.accountCpu ?? false }) };
}

/** How outputs describe where commands ran: `sandboxed (bwrap), no network`, `… network allowed`, or `unsandboxed`. */
export function isolationLabel(kind: SandboxKind, network: boolean): string {
  if (kind === 'none') return 'unsandboxed';
  return `sandboxed (bwrap), ${network ? 'network allowed' : 'no network'}`;
}

/**
 * `HOME` and `TMPDIR` for one command. Sandboxed, they are the sandbox's own (on its private `/tmp`);
 * without a sandbox they are fresh empty directories, removed by `dispose` after the command.
 */
export async function privateDirectories(sandboxed: boolean): Promise<{ env: { HOME: string; TMPDIR: string }; dispose: () => Promise<void> }> {
  if (sandboxed) return { env: { HOME: SANDBOX_HOME, TMPDIR: SANDBOX_TMP }, dispose: async () => {} };
  const dir = await mkdtemp(path.join(tmpdir(), 'autoloop-env-'));
  const env = { HOME: path.join(dir, 'home'), TMPDIR: path.join(dir, 'tmp') };
  await Promise.all([mkdir(env.HOME), mkdir(env.TMPDIR)]);
  // Best effort: what the command left there (a directory it made unreadable) must not fail the run.
  return { env, dispose: () => rm(dir, { recursive: true, force: true }).catch(() => {}) };
}

/** Largest metrics file read back from a sandbox; the rest is cut (and the JSON then fails to parse). */
export const MAX_METRICS_FILE_BYTES = 1024 * 1024;

/**
 * Reads a file the sandboxed command may have written, without following a symlink (the command could
 * point it at a host file autoloop may read and it may not) or blocking on a FIFO: null when there is
 * no such file or it is not a regular file. At most `maxBytes` bytes.
 */
export async function readWrittenFile(file: string, maxBytes = MAX_METRICS_FILE_BYTES): Promise<string | null> {
  let handle;
  try {
    handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return null;
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
