import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../core/config/config-schema.js';
import { readMetrics } from '../core/judge/metrics.js';
import type { CommandOutcome, RunSample } from '../core/ledger/records.js';
import { createRedactor, scrubEnvironment } from '../core/env/secrets.js';
import { stripControl } from '../core/render/text.js';
import { formatDuration } from '../core/config/units.js';
import type { ProtectedFiles } from './pin.js';
import { runCommand, type CommandResult } from './process.js';

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

function logText(outcome: CommandOutcome, stdout: string, stderr: string): string {
  const end = outcome.timedOut
    ? `timed out after ${formatDuration(outcome.durationMs)}`
    : outcome.signal
      ? `killed by ${outcome.signal} after ${formatDuration(outcome.durationMs)}`
      : `exit ${outcome.exitCode} after ${formatDuration(outcome.durationMs)}`;
  return `$ ${outcome.command}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}\n--- ${end} ---\n`;
}

/**
 * Why a command failed, quoting the last line of its stderr. A reason is shown in comments, check runs,
 * job summaries and terminal lines, so the quote is stripped of escape sequences and control characters
 * (an evaluator's colours or a forged OSC 8 hyperlink must not travel); the log file keeps the raw bytes.
 */
function failureReason(what: string, outcome: CommandOutcome, stderr: string): string {
  const lastLine = stripControl(stderr).trim().split('\n').slice(-1)[0]?.trim().slice(0, 200) ?? '';
  const how = outcome.timedOut
    ? `timed out after ${formatDuration(outcome.durationMs)}`
    : outcome.signal
      ? `was killed by ${outcome.signal}`
      : `exited with code ${outcome.exitCode}`;
  return `${what} ${how}${lastLine ? `: ${lastLine}` : ''}`;
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
}

/**
 * Runs the user's evaluator under its budget: `setup` once per worktree, `check` before a checkout's
 * runs count, then `command`, whose metrics come from the harness-owned metrics file or stdout.
 */
export class Evaluator {
  private readonly setUp = new Set<string>();

  /** `env` without its secrets, except those `evaluate.env` names. */
  private readonly env: NodeJS.ProcessEnv;
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
    this.env = scrubEnvironment(env, config.evaluate.env).env;
    // From the full environment: an allowed secret reaches the command but must not reach the traces either.
    this.redact = createRedactor(env);
  }

  /** Runs one command under the budget with the scrubbed environment (plus `extraEnv`); its output comes back redacted. */
  private async run(command: string, cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
    const result = await runCommand({
      command,
      cwd,
      env: { ...this.env, ...extraEnv },
      timeoutMs: this.config.evaluate.timeout,
      signal: this.signal,
    });
    return { ...result, stdout: this.redact(result.stdout), stderr: this.redact(result.stderr) };
  }

  private async step(name: 'setup' | 'check', command: string, worktree: string, logFile: string): Promise<StepResult> {
    const { outcome, stdout, stderr } = await this.run(command, worktree);
    await writeFile(logFile, logText(outcome, stdout, stderr));
    const ok = outcome.exitCode === 0 && !outcome.timedOut;
    return ok ? { ok, outcome } : { ok, outcome, reason: failureReason(`evaluate.${name} (${command})`, outcome, stderr) };
  }

  /** Runs `evaluate.setup` the first time a worktree is used. */
  async setup(worktree: string, traceDir: string, label: string): Promise<StepResult | null> {
    const command = this.config.evaluate.setup;
    if (!command || this.setUp.has(worktree)) return null;
    await mkdir(traceDir, { recursive: true });
    const result = await this.step('setup', command, worktree, join(traceDir, `setup-${label}.log`));
    if (result.ok) this.setUp.add(worktree);
    return result;
  }

  /** Runs `evaluate.check` (the tests); a failing check makes the checkout invalid. */
  async check(worktree: string, traceDir: string, label: string): Promise<StepResult | null> {
    const command = this.config.evaluate.check;
    if (!command) return null;
    await mkdir(traceDir, { recursive: true });
    return this.step('check', command, worktree, join(traceDir, `check-${label}.log`));
  }

  /** One run of `evaluate.command`, logged to the trace, its metrics read under the metric contract. */
  async measure(checkout: Checkout, index: number, traceDir: string): Promise<RunSample> {
    await this.protectedFiles?.pin(checkout.worktree);
    await mkdir(traceDir, { recursive: true });
    const label = `${checkout.side}-${index + 1}`;
    // The harness owns this file and it lives outside the worktree, so candidate code cannot pre-fill it.
    const metricsFile = join(traceDir, `metrics-${label}.json`);
    await rm(metricsFile, { force: true });
    const { outcome, stdout, stderr } = await this.run(this.config.evaluate.command, checkout.worktree, {
      AUTOLOOP_METRICS_FILE: metricsFile,
      AUTOLOOP_SIDE: checkout.side,
      AUTOLOOP_RUN: String(index + 1),
    });
    await writeFile(join(traceDir, `${label}.log`), logText(outcome, stdout, stderr));
    // Read (and redacted) even after a crash: the file stays in the trace either way.
    const fileText = await this.redactFile(metricsFile);
    const base = { side: checkout.side, index, commit: checkout.commit, outcome };
    if (outcome.timedOut || outcome.exitCode !== 0) {
      return { ...base, ok: false, reason: failureReason('evaluate.command', outcome, stderr), metrics: {} };
    }
    let metrics;
    try {
      metrics = readMetrics(
        { stdout, fileText: fileText && fileText.trim() !== '' ? fileText : null },
        { primary: this.config.metric.name, guards: this.config.guards.map((g) => g.name) },
      );
    } catch (error) {
      return { ...base, ok: false, reason: stripControl((error as Error).message), metrics: {} };
    }
    // The reason may quote what the evaluator printed (a malformed `METRIC` line's name or value): no escapes.
    return metrics.ok ? { ...base, ok: true, metrics: metrics.values } : { ...base, ok: false, reason: stripControl(metrics.reason), metrics: metrics.values };
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

  /** `evaluate.repeats` runs of one checkout, stopping at the first that fails. */
  async measureRuns(checkout: Checkout, traceDir: string): Promise<{ samples: RunSample[]; failure: MeasureFailure | null }> {
    const samples: RunSample[] = [];
    for (let i = 0; i < this.config.evaluate.repeats; i++) {
      const sample = await this.measure(checkout, i, traceDir);
      samples.push(sample);
      if (!sample.ok) return { samples, failure: sampleFailure(sample) };
    }
    return { samples, failure: null };
  }

  /**
   * Paired, interleaved measurement: B C B C … for `evaluate.repeats` runs per side, so that drift of
   * the machine hits both sides alike. Stops early once a run fails: the comparison is already invalid.
   */
  async measurePair(baseline: Checkout, candidate: Checkout, traceDir: string): Promise<RunSample[]> {
    const samples: RunSample[] = [];
    for (let i = 0; i < this.config.evaluate.repeats; i++) {
      for (const checkout of [baseline, candidate]) {
        const sample = await this.measure(checkout, i, traceDir);
        samples.push(sample);
        if (!sample.ok || this.signal?.aborted) return samples;
      }
    }
    return samples;
  }
}
