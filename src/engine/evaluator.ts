import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import type { Config } from '../core/config/config-schema.js';
import { CPU_METRIC, isReservedMetric, METRICS_FILE_ENV, readMetrics } from '../core/judge/metrics.js';
import { DETERMINISTIC_AFTER, hasVaried, isDeterministic, sampleValues, sequentialStop } from '../core/judge/judge.js';
import { effectInUnits } from '../core/judge/decision.js';
import { FIRST_LOOK, measurementPlan } from '../core/judge/sequential.js';
import type { CommandOutcome, RunSample } from '../core/ledger/records.js';
import { allowlistEnvironment, createRedactor } from '../core/env/secrets.js';
import { stripControl } from '../core/render/text.js';
import { formatDuration } from '../core/config/units.js';
import type { ProtectedFiles } from './pin.js';
import { runCommand, type CommandResult } from './process.js';
import { RUNS_DIR } from './run-files.js';
import {
  isolationLabel,
  linkedRepositoryPaths,
  privateDirectories,
  readWrittenFile,
  resolveSandbox,
  sandboxInvocation,
  SANDBOX_METRICS_FILE,
  SANDBOX_RUN_DIR,
  type ResolveSandboxOptions,
  type Sandbox,
  type SandboxBind,
} from './sandbox.js';

/** Outcome of `setup` or `check`: they must succeed before anything is measured. */
export interface StepResult {
  ok: boolean;
  reason?: string;
  outcome: CommandOutcome;
}

/** One side of a measurement: a checkout of one commit. */
export interface Checkout {
  side: RunSample['side'];
  worktree: string;
  commit: string;
}

/** The measured command's output, given to `evaluate.score` in its sandbox's run directory. */
const COMMAND_OUTPUT_FILE = 'command-output.txt';

function logText(outcome: CommandOutcome, stdout: string, stderr: string, isolation: string): string {
  const ended = outcome.timedOut
    ? `timed out after ${formatDuration(outcome.durationMs)}`
    : outcome.signal
      ? `killed by ${outcome.signal} after ${formatDuration(outcome.durationMs)}`
      : `exit ${outcome.exitCode} after ${formatDuration(outcome.durationMs)}`;
  const cpu = outcome.cpuMs !== undefined ? `, cpu ${formatDuration(outcome.cpuMs)}` : '';
  return `$ ${outcome.command}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}\n--- ${ended}${cpu}, ${isolation} ---\n`;
}

/** Lines of stderr a failure reason quotes, and the most characters of each and of the whole quote. */
const EXCERPT_LINES = 3;
const EXCERPT_LINE_CHARS = 160;
const EXCERPT_CHARS = 240;
/** A line that states an error: `TypeError: …`, `ValueError: …`, `error[E0308]: …`, `fatal: …`, `panic: …`, `… panicked at …`. */
const ERROR_LINE = /\b\w*(?:Error|Exception)\b|^(?:error|fatal|panic)\b|\bpanicked\b/i;
/** A frame of a JavaScript stack trace (`at load (/repo/eval.js:2:26)`): one of a run says where, the rest is in the log. */
const STACK_FRAME = /^at\s/;
/** A frame inside Node or the engine (`at JSON.parse (<anonymous>)`, `at Module._compile (node:internal/…)`): where, only when no other frame says. */
const RUNTIME_FRAME = /\((?:node:|<anonymous>)|^at (?:node:|<anonymous>)/;
/** Lines that say nothing on one line: Node's caret under the failing column, and the `Node.js v20.20.2` it prints last. */
const NOISE = /^[\s^~]*$|^Node\.js v\d/;

/**
 * The few lines of a failed command's stderr that say what went wrong, on one line joined by ` | `: the last line
 * that states an error (`TypeError: …`, `ValueError: …`) and up to two after it, or, when it is the last line (a
 * Python traceback), the two before it; the last three lines when none does. Of a run of stack frames only one is
 * kept (the first in the user's code, else the first); Node's carets and version trailer are left out (the log
 * keeps all of it). Stripped of escape sequences and control characters; empty for no output. Pure.
 */
export function stderrExcerpt(stderr: string): string {
  const lines: string[] = [];
  for (const raw of stripControl(stderr).split('\n')) {
    const line = raw.trim();
    if (NOISE.test(line)) continue;
    const clipped = line.length > EXCERPT_LINE_CHARS ? `${line.slice(0, EXCERPT_LINE_CHARS - 1)}…` : line;
    const previous = lines.at(-1) ?? '';
    if (STACK_FRAME.test(line) && STACK_FRAME.test(previous)) {
      // One frame per run: the first in the user's code, else the first.
      if (RUNTIME_FRAME.test(previous) && !RUNTIME_FRAME.test(line)) lines[lines.length - 1] = clipped;
      continue;
    }
    lines.push(clipped);
  }
  const error = lines.findLastIndex((line) => !STACK_FRAME.test(line) && ERROR_LINE.test(line));
  // From the error on; an error on the last line (a Python traceback) comes with the lines before it.
  const start = error < 0 || error === lines.length - 1 ? Math.max(0, lines.length - EXCERPT_LINES) : error;
  const text = lines.slice(start, start + EXCERPT_LINES).join(' | ');
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS - 1)}…` : text;
}

/**
 * A log file as a reason names it: relative to the repository when it is in the run files (`.autoloop/…`, where
 * the loop and `autoloop eval` keep their traces), else its full path.
 */
function logPath(file: string): string {
  const at = file.lastIndexOf(`${sep}${RUNS_DIR}${sep}`);
  return at < 0 ? file : file.slice(at + 1);
}

/**
 * Why a command failed: how it ended, the lines of its stderr that say what went wrong ({@link stderrExcerpt}),
 * and the log that holds all of it. A reason is shown in comments, check runs, job summaries and terminal lines,
 * so the quote is stripped of escape sequences and control characters (an evaluator's colours or a forged OSC 8
 * hyperlink must not travel), and stderr comes here redacted; the log file keeps the raw bytes.
 */
function failureReason(what: string, outcome: CommandOutcome, stderr: string, logFile: string): string {
  const excerpt = stderrExcerpt(stderr);
  const how = outcome.timedOut
    ? `timed out after ${formatDuration(outcome.durationMs)}`
    : outcome.signal
      ? `was killed by ${outcome.signal}`
      : `exited with code ${outcome.exitCode}`;
  return `${what} ${how}${excerpt ? `: ${excerpt}` : ''} (log: ${logPath(logFile)})`;
}

/** Why a checkout could not be measured: `crash` when a command failed or timed out, `invalid` when it ran but reported no usable metric or failed its check. */
export interface MeasureFailure {
  status: 'crash' | 'invalid';
  reason: string;
}

/** A failed run crashed when its command failed; it is invalid when it ran but its metrics were unusable. */
export function sampleFailure(sample: RunSample): MeasureFailure {
  const crashed = sample.outcome.timedOut || sample.outcome.exitCode !== 0;
  return { status: crashed ? 'crash' : 'invalid', reason: `${sample.side} run ${sample.index + 1}: ${sample.reason}` };
}

/** How `Evaluator.run` runs one command, beyond the command and where. */
interface RunOptions {
  /** autoloop's own variables for this command (AUTOLOOP_SIDE, AUTOLOOP_METRICS_FILE, …). */
  extraEnv?: Record<string, string>;
  binds?: readonly SandboxBind[];
  /** The worktree read-only too (the scorer). */
  readOnly?: boolean;
  /** Measure its CPU time, from outside the sandbox (`evaluate.command` only). */
  timed?: boolean;
}

export interface EvaluatorOptions {
  /** The environment commands start from (secrets withheld); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Aborting kills the running command. */
  signal?: AbortSignal;
  /**
   * Restored into a worktree before each measured run, so that code run earlier (the candidate's
   * `setup`, `check`, or a previous run) cannot change the evaluator that times it.
   */
  protectedFiles?: ProtectedFiles;
  /**
   * Directories no command may see, besides what the sandbox hides anyway (the worktree's repository
   * as its `.git` file names it, the user's home, the trace folder, the other worktrees measured):
   * the repository root and its git directory, as the caller knows them.
   */
  hide?: readonly string[];
  /** Further paths bound into every sandbox (a test's scratch folder); nothing by default. */
  binds?: readonly SandboxBind[];
  /** Which bwrap to use and where to look for it; default `bwrap` on `env`'s PATH. */
  sandbox?: Omit<ResolveSandboxOptions, 'env'>;
}

/**
 * Runs the user's evaluator under its budget: `setup` once per worktree, `check` before a checkout's
 * runs count, then `command`, timed by autoloop (wall and CPU time, from outside the sandbox), whose
 * metrics come from the one channel `evaluate.report` declares (stdout, or the harness-owned metrics file).
 *
 * Each command runs in the sandbox `config.sandbox` asks for (see `sandbox.ts`), in its worktree, with
 * the environment by allowlist: PATH, LANG, LC_ALL, LC_CTYPE, TZ, TERM, what `evaluate.env` names,
 * private HOME and TMPDIR, and autoloop's AUTOLOOP_* variables. With `report: file` and a sandbox,
 * `$AUTOLOOP_METRICS_FILE` is a file in a fresh directory bound for that one run; the trace folder stays
 * out of sight. With `report: stdout` there is no such variable at all.
 */
export class Evaluator {
  private readonly setUp = new Set<string>();
  /**
   * Set once any side of any measurement of this evaluator gave two different values: a metric seen to vary
   * is never taken as deterministic again (two equal runs of a coarsely quantised timing are chance, not proof).
   */
  private varied = false;
  /**
   * Set once a measurement showed every metric giving one value per checkout over several runs (the base measured
   * alone, or a pair stopped as deterministic) and nothing has varied since: from then on a candidate that is not
   * better after its first pair is not measured again (see measurePair).
   */
  private steady = false;

  /** Only the variables the allowlist passes: the base and those `evaluate.env` names. */
  private readonly env: Record<string, string>;
  /** The worktrees commands ran in, each hidden from the others' commands. */
  private readonly worktrees = new Set<string>();
  /** Repository directories read from a worktree's `.git` the first time it is used, before any of its code ran. */
  private readonly repositories = new Map<string, string[]>();
  private sandbox?: Promise<Sandbox | null>;
  private readonly sourceEnv: NodeJS.ProcessEnv;
  private readonly hide: readonly string[];
  private readonly binds: readonly SandboxBind[];
  private readonly sandboxOptions: Omit<ResolveSandboxOptions, 'env'>;
  /** Redacts the secret values of `env` and known token shapes from output before it is logged or parsed. */
  private readonly redact: (text: string) => string;

  private readonly signal?: AbortSignal;
  private readonly protectedFiles?: ProtectedFiles;

  constructor(
    private readonly config: Config,
    options: EvaluatorOptions = {},
  ) {
    const env = options.env ?? process.env;
    this.signal = options.signal;
    this.protectedFiles = options.protectedFiles;
    this.sourceEnv = env;
    this.env = allowlistEnvironment(env, config.evaluate.env).env;
    this.hide = options.hide ?? [];
    this.binds = options.binds ?? [];
    this.sandboxOptions = options.sandbox ?? {};
    // From the full environment: an allowed secret reaches the command but must not reach the traces either.
    this.redact = createRedactor(env);
  }

  /** True unless the config says `sandbox: none`: then every output must say "unsandboxed". */
  get sandboxed(): boolean {
    return this.config.sandbox !== 'none';
  }

  /** The primary metric and the guards: what a run must report. */
  private get metricNames(): string[] {
    return [this.config.metric.name, ...this.config.guards.map((guard) => guard.name)];
  }

  /**
   * True when a metric or guard is `autoloop.cpu_ms`: only then does `command` run under the timing shell (see
   * process.ts). The shell stands between autoloop and the sandbox, so a SIGKILL of autoloop no longer ends
   * the sandbox at once (`--die-with-parent` then follows the shell); without the need, that is not paid.
   */
  get timesCpu(): boolean {
    return [this.config.metric.name, ...this.config.guards.map((g) => g.name)].includes(CPU_METRIC);
  }

  /** True when commands may use the network (`evaluate.network`), which outputs must say too. */
  get network(): boolean {
    return this.config.evaluate.network;
  }

  /** `sandboxed (bwrap), no network`, `sandboxed (bwrap), network allowed` or `unsandboxed`. */
  get isolation(): string {
    return isolationLabel(this.config.sandbox, this.network);
  }

  /**
   * Resolves once the configured sandbox has started on this host (at once for `sandbox: none`); rejects
   * with a `SandboxUnavailableError` naming the cause and the fix otherwise. Every command waits for it,
   * so calling it first only moves the error before anything else happens.
   */
  async ready(): Promise<void> {
    await this.resolvedSandbox();
  }

  private resolvedSandbox(): Promise<Sandbox | null> {
    this.sandbox ??= resolveSandbox(this.config.sandbox, { env: this.sourceEnv, ...this.sandboxOptions });
    return this.sandbox;
  }

  /**
   * Runs one command under the budget, sandboxed in `cwd`, with the allowlisted environment (plus
   * `extraEnv`, autoloop's own variables) and `binds`; the trace folder `hidden` stays out of its
   * sight. Its output comes back redacted. `timed`: its CPU time is measured too (`outcome.cpuMs`).
   */
  private async run(command: string, cwd: string, hidden: string, options: RunOptions = {}): Promise<CommandResult> {
    const { extraEnv = {}, binds = [], readOnly = false, timed = false } = options;
    const sandbox = await this.resolvedSandbox();
    if (!this.repositories.has(cwd)) this.repositories.set(cwd, linkedRepositoryPaths(cwd));
    this.worktrees.add(cwd);
    const others = [...this.worktrees].filter((worktree) => worktree !== cwd);
    const dirs = await privateDirectories(sandbox !== null);
    try {
      const invocation = sandbox
        ? sandboxInvocation(sandbox, {
          worktree: cwd,
          network: this.network,
          hide: [...this.hide, ...this.repositories.get(cwd)!, ...others, hidden],
          binds: [...this.binds, ...binds],
          readOnly,
          accountCpu: timed,
        })
        : undefined;
      const named = new Set(this.config.evaluate.env);
      const result = await runCommand({
        command,
        cwd,
        // HOME and TMPDIR are private: the sandbox's own, or without one fresh folders unless `evaluate.env` names them.
        env: { ...this.env, ...((named.has('HOME') && !sandbox) ? {} : { HOME: dirs.env.HOME }), ...((named.has('TMPDIR') && !sandbox) ? {} : { TMPDIR: dirs.env.TMPDIR }), ...extraEnv },
        timeoutMs: this.config.evaluate.timeout,
        signal: this.signal,
        measureCpu: timed,
        ...(invocation ? { sandbox: invocation } : {}),
      });
      return { ...result, stdout: this.redact(result.stdout), stderr: this.redact(result.stderr) };
    } finally {
      await dirs.dispose();
    }
  }

  private async step(name: 'setup' | 'check', command: string, worktree: string, traceDir: string, logFile: string): Promise<StepResult> {
    const { outcome, stdout, stderr } = await this.run(command, worktree, traceDir);
    await writeFile(logFile, logText(outcome, stdout, stderr, this.isolation));
    const ok = outcome.exitCode === 0 && !outcome.timedOut;
    return ok ? { ok, outcome } : { ok, outcome, reason: failureReason(`evaluate.${name} (${command})`, outcome, stderr, logFile) };
  }

  /** Runs `evaluate.setup` the first time a worktree is used. */
  async setup(worktree: string, traceDir: string, label: string): Promise<StepResult | null> {
    const command = this.config.evaluate.setup;
    if (!command || this.setUp.has(worktree)) return null;
    await mkdir(traceDir, { recursive: true });
    const result = await this.step('setup', command, worktree, traceDir, join(traceDir, `setup-${label}.log`));
    if (result.ok) this.setUp.add(worktree);
    return result;
  }

  /** Runs `evaluate.check` (the tests); a failing check makes the checkout invalid. */
  async check(worktree: string, traceDir: string, label: string): Promise<StepResult | null> {
    const command = this.config.evaluate.check;
    if (!command) return null;
    await mkdir(traceDir, { recursive: true });
    return this.step('check', command, worktree, traceDir, join(traceDir, `check-${label}.log`));
  }

  /** One run of `evaluate.command`, logged to the trace, its metrics read under the metric contract. */
  async measure(checkout: Checkout, index: number, traceDir: string): Promise<RunSample> {
    await this.protectedFiles?.pin(checkout.worktree, checkout.commit);
    await mkdir(traceDir, { recursive: true });
    const label = `${checkout.side}-${index + 1}`;
    const runEnv = { AUTOLOOP_SIDE: checkout.side, AUTOLOOP_RUN: String(index + 1) };
    const { command, score } = this.config.evaluate;
    const base = { side: checkout.side, index, commit: checkout.commit };
    let reporter: { outcome: CommandOutcome; stdout: string; stderr: string; fileText: string | null };
    let outcome: CommandOutcome;
    const log = join(traceDir, `${label}.log`);
    if (!score) {
      reporter = await this.runReporting(command, checkout.worktree, traceDir, label, runEnv, { timed: this.timesCpu });
      outcome = reporter.outcome;
      await writeFile(log, logText(outcome, reporter.stdout, reporter.stderr, this.isolation));
      if (outcome.timedOut || outcome.exitCode !== 0) {
        return { ...base, outcome, ok: false, reason: failureReason('evaluate.command', outcome, reporter.stderr, log), metrics: {} };
      }
    } else {
      // `command` has no metrics channel at all: only the scorer, run after it apart from its processes, reports.
      const measured = await this.run(command, checkout.worktree, traceDir, { extraEnv: runEnv, timed: this.timesCpu });
      outcome = measured.outcome;
      await writeFile(log, logText(outcome, measured.stdout, measured.stderr, this.isolation));
      if (outcome.timedOut || outcome.exitCode !== 0) {
        return { ...base, outcome, ok: false, reason: failureReason('evaluate.command', outcome, measured.stderr, log), metrics: {} };
      }
      reporter = await this.runReporting(score, checkout.worktree, traceDir, `${label}-score`, runEnv, { scorer: { output: measured.stdout } });
      const scoreLog = join(traceDir, `${label}-score.log`);
      await writeFile(scoreLog, logText(reporter.outcome, reporter.stdout, reporter.stderr, this.isolation));
      if (reporter.outcome.timedOut || reporter.outcome.exitCode !== 0) {
        return { ...base, outcome, ok: false, reason: failureReason('evaluate.score', reporter.outcome, reporter.stderr, scoreLog), metrics: {} };
      }
    }
    let metrics;
    try {
      metrics = readMetrics(
        {
          report: this.config.evaluate.report,
          stdout: reporter.stdout,
          fileText: reporter.fileText && reporter.fileText.trim() !== '' ? reporter.fileText : null,
          // What autoloop measured of `command` (never of the scorer): the candidate cannot write these.
          measured: { wallMs: outcome.durationMs, ...(outcome.cpuMs !== undefined ? { cpuMs: outcome.cpuMs } : {}) },
        },
        { primary: this.config.metric.name, guards: this.config.guards.map((g) => g.name) },
      );
    } catch (error) {
      return { ...base, outcome, ok: false, reason: stripControl((error as Error).message), metrics: {} };
    }
    // The reason may quote what the evaluator printed (a malformed `METRIC` line's name or value): no escapes.
    return metrics.ok ? { ...base, outcome, ok: true, metrics: metrics.values } : { ...base, outcome, ok: false, reason: stripControl(metrics.reason), metrics: metrics.values };
  }

  /**
   * Runs the command that reports the metrics (`command`, or `score` when there is one) on the channel
   * `evaluate.report` declares, and returns its output and, with `report: file`, the file as it left it
   * (redacted, kept in the trace as `metrics-<label>.json`; null with `report: stdout`, which gets no file).
   * With `scorer`, the worktree is read-only and the measured command's output is given in
   * `$AUTOLOOP_COMMAND_OUTPUT`. `timed`: the command's CPU time is measured (the measured command only).
   */
  private async runReporting(
    command: string,
    worktree: string,
    traceDir: string,
    label: string,
    runEnv: Record<string, string>,
    options: { scorer?: { output: string }; timed?: boolean } = {},
  ): Promise<{ outcome: CommandOutcome; stdout: string; stderr: string; fileText: string | null }> {
    const { scorer, timed = false } = options;
    const byFile = this.config.evaluate.report === 'file';
    // The harness owns this file and it lives outside the worktree, so candidate code cannot pre-fill it.
    const metricsFile = join(traceDir, `metrics-${label}.json`);
    await rm(metricsFile, { force: true });
    const sandboxed = (await this.resolvedSandbox()) !== null;
    // Sandboxed, the command writes to a fresh directory bound for this run alone: the trace folder,
    // with the other side's metrics files, stays hidden. Without a sandbox it writes the trace's file.
    const metricsDir = sandboxed && (byFile || scorer) ? await mkdtemp(join(tmpdir(), 'autoloop-metrics-')) : null;
    const outputFile = scorer ? (metricsDir ? join(metricsDir, COMMAND_OUTPUT_FILE) : join(traceDir, `${label}-command-output.txt`)) : null;
    if (outputFile) await writeFile(outputFile, scorer!.output);
    // One declared channel: with `report: stdout` there is no file to write, so none is named.
    const env: Record<string, string> = { ...runEnv, ...(byFile ? { [METRICS_FILE_ENV]: metricsDir ? SANDBOX_METRICS_FILE : metricsFile } : {}) };
    if (outputFile) env.AUTOLOOP_COMMAND_OUTPUT = metricsDir ? `${SANDBOX_RUN_DIR}/${COMMAND_OUTPUT_FILE}` : outputFile;
    let result: CommandResult;
    try {
      result = await this.run(command, worktree, traceDir, {
        extraEnv: env,
        binds: metricsDir ? [{ source: metricsDir, target: SANDBOX_RUN_DIR, writable: true }] : [],
        readOnly: Boolean(scorer),
        timed,
      });
      // What the sandbox left is read without following a link it may have put there, then kept in the trace.
      if (metricsDir && byFile) {
        const written = await readWrittenFile(join(metricsDir, 'metrics.json'));
        if (written !== null) await writeFile(metricsFile, written);
      }
    } finally {
      // Best effort: what the command left there (a directory it made unreadable) must not fail the run.
      if (metricsDir) await rm(metricsDir, { recursive: true, force: true }).catch(() => {});
    }
    // Read (and redacted) even after a crash: the file stays in the trace either way.
    const fileText = byFile ? await this.redactFile(metricsFile) : null;
    return { outcome: result.outcome, stdout: result.stdout, stderr: result.stderr, fileText };
  }

  /** The metrics file as written by the command (null when it wrote none), rewritten redacted if it held a secret, since it stays in the trace. */
  private async redactFile(file: string): Promise<string | null> {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text === null) return null;
    const redacted = this.redact(text);
    if (redacted !== text) await writeFile(file, redacted);
    return redacted;
  }

  /** Setup, check, then `evaluate.repeats` runs of one checkout alone: how the base of a run is measured. */
  async measureAlone(checkout: Checkout, traceDir: string): Promise<{ samples: RunSample[]; failure: MeasureFailure | null }> {
    const setup = await this.setup(checkout.worktree, traceDir, checkout.side);
    if (setup && !setup.ok) return { samples: [], failure: { status: 'crash', reason: setup.reason! } };
    const check = await this.check(checkout.worktree, traceDir, checkout.side);
    if (check && !check.ok) return { samples: [], failure: { status: 'invalid', reason: check.reason! } };
    return this.measureRuns(checkout, traceDir);
  }

  /**
   * Runs of one checkout alone, stopping at the first that fails: `evaluate.repeats` of them, or with `repeats: auto`
   * the first look's number (the base of a run is measured alone; the sequential design needs pairs).
   */
  async measureRuns(checkout: Checkout, traceDir: string): Promise<{ samples: RunSample[]; failure: MeasureFailure | null }> {
    const samples: RunSample[] = [];
    const runs = this.config.evaluate.sequential ? Math.min(FIRST_LOOK, this.config.evaluate.repeats) : this.config.evaluate.repeats;
    for (let i = 0; i < runs; i++) {
      const sample = await this.measure(checkout, i, traceDir);
      samples.push(sample);
      if (!sample.ok) return { samples, failure: sampleFailure(sample) };
    }
    if (hasVaried(samples, this.metricNames, [checkout.side])) this.varied = true;
    else if (samples.length >= DETERMINISTIC_AFTER && !this.metricNames.some(isReservedMetric)) this.steady = true;
    return { samples, failure: null };
  }

  /**
   * Paired, interleaved measurement: B C B C …, so that drift of the machine hits both sides alike. `repeats` pairs
   * when given (a fixed number), else as the config says: `evaluate.repeats` pairs, or with `repeats: auto` the
   * sequential design of ../core/judge/sequential.ts (stopping at a look once the verdict is decided or futile). Fewer
   * when every run so far gave each side one value (see `isDeterministic`). Stops early once a run fails: the
   * comparison is already invalid.
   */
  async measurePair(baseline: Checkout, candidate: Checkout, traceDir: string, repeats?: number): Promise<RunSample[]> {
    const samples: RunSample[] = [];
    const names = this.metricNames;
    const plan = repeats === undefined ? measurementPlan(this.config) : null;
    const pairs = repeats ?? this.config.evaluate.repeats;
    for (let i = 0; i < pairs; i++) {
      for (const checkout of [baseline, candidate]) {
        const sample = await this.measure(checkout, i, traceDir);
        samples.push(sample);
        if (!sample.ok || this.signal?.aborted) return samples;
      }
      if (i + 1 === pairs) break;
      // A metric that has never moved gains nothing from more runs (the judge says so). A time autoloop measures
      // is never taken as deterministic: CPU time comes in 10 ms steps, and equal steps are chance.
      if (!this.varied && !names.some(isReservedMetric) && isDeterministic(samples, names)) {
        this.steady = true;
        return samples;
      }
      // A deterministic metric that is not better after one pair is discarded whatever more runs would show. Only a
      // discard is shortened this way: a candidate that looks better gets a second pair, which must repeat its values.
      if (i === 0 && this.steady && !this.varied && !this.betterOnFirstPair(samples)) return samples;
      if (plan && sequentialStop(this.config, plan, i + 1, (side, name) => sampleValues(samples, side, name))) break;
    }
    if (hasVaried(samples, names)) this.varied = true;
    return samples;
  }

  /** Whether the candidate's first run beats the baseline's by more than `min_effect` on the primary metric. */
  private betterOnFirstPair(samples: readonly RunSample[]): boolean {
    const { name, goal, min_effect: minEffect } = this.config.metric;
    const [baseline] = sampleValues(samples, 'baseline', name);
    const [candidate] = sampleValues(samples, 'candidate', name);
    if (baseline === undefined || candidate === undefined) return true;
    const gain = goal === 'minimize' ? baseline - candidate : candidate - baseline;
    return gain > effectInUnits(minEffect, baseline);
  }
}
