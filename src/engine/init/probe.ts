/**
 * One run of a would-be evaluator, to learn which metrics it prints: `autoloop init` runs it when no `METRIC name=`
 * can be read from the scripts it names. It runs as every evaluator run does (../evaluator.ts): in a worktree of
 * HEAD that autoloop owns, in the sandbox, with the environment by allowlist, under a time budget.
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseConfig } from '../../core/config/config.js';
import { isReservedMetric, WALL_METRIC } from '../../core/judge/metrics.js';
import { AutoloopError } from '../../core/errors.js';
import { Evaluator } from '../evaluator.js';
import { resolveCommit } from '../git.js';
import { autoloopDirectories } from '../run-files.js';
import { prepareWorktree, removeWorktree } from '../worktrees.js';

export interface ProbeOptions {
  /** Installs the checkout's dependencies first (with the network). */
  setup?: string | null;
  /** Budget of the one run, as the config writes it; default 5m. */
  timeout?: string;
  signal?: AbortSignal;
}

/** The metrics the command printed (`METRIC` lines on stdout, in order), or why it did not run to the end. */
export type ProbeResult =
  | { ok: true; metrics: string[]; durationMs: number; traceDir: string }
  | { ok: false; reason: string; traceDir: string };

/**
 * Runs `command` once on HEAD of `repo` and returns the names of the metrics it printed. The run is measured by a
 * config whose metric is autoloop's own wall time, so any output is a valid run and every `METRIC` line is read.
 */
export async function probeMetrics(repo: string, command: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const text = [
    `metric: { name: ${WALL_METRIC}, goal: minimize }`,
    `evaluate: { command: ${JSON.stringify(command)}, timeout: ${JSON.stringify(options.timeout ?? '5m')}${options.setup ? `, setup: ${JSON.stringify(options.setup)}, network: true` : ''} }`,
    'scope: { edit: ["**"] }',
    'proposer: { kind: command, command: { run: "true" } }',
    '',
  ].join('\n');
  const config = parseConfig(text, 'autoloop init (one run of evaluate.command)');
  const commit = await resolveCommit(repo, 'HEAD');
  const directories = await autoloopDirectories(repo);
  const traceDir = join(directories.runs, 'init', new Date().toISOString().replace(/[:.]/g, '-'));
  const worktree = join(directories.worktrees, `init-${process.pid}`);
  const evaluator = new Evaluator(config, { signal: options.signal, hide: [repo, dirname(directories.worktrees), directories.runs] });
  try {
    await evaluator.ready();
    await prepareWorktree(repo, worktree, commit);
    const setup = await evaluator.setup(worktree, traceDir, 'probe');
    if (setup && !setup.ok) return { ok: false, reason: setup.reason ?? 'evaluate.setup failed', traceDir };
    const sample = await evaluator.measure({ side: 'baseline', worktree, commit }, 0, traceDir);
    if (!sample.ok) return { ok: false, reason: sample.reason ?? 'the command failed', traceDir };
    return { ok: true, metrics: Object.keys(sample.metrics).filter((name) => !isReservedMetric(name)), durationMs: sample.outcome.durationMs, traceDir };
  } catch (error) {
    if (error instanceof AutoloopError) return { ok: false, reason: error.message, traceDir };
    throw error;
  } finally {
    await removeWorktree(repo, worktree);
    await rm(worktree, { recursive: true, force: true });
  }
}
