/** Opening a local run: a new one, or one continued from its ledger. */
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { CONFIG_PATH, type Config } from '../core/config/config-schema.js';
import { configHash } from '../core/config/config.js';
import { RUN_NAME_PATTERN, runBranch } from '../core/protocol/protocol.js';
import type { ExperimentRecord, RunRecord } from '../core/ledger/records.js';
import type { Proposer } from '../core/propose/proposer.js';
import { loadConfigFile } from './config-file.js';
import { Evaluator } from './evaluator.js';
import type { MeasureContext } from './measure.js';
import { branchHead, repoRoot, resolveCommit, setBranch } from './git.js';
import { RunSetupError } from './errors.js';
import { ProtectedFiles } from './pin.js';
import { scopeRules } from '../core/scope/scope.js';
import { autoloopDirectories, latestRunDir, LedgerWriter, runPaths, RUNS_DIR, type RunPaths } from './run-files.js';
import { LedgerTamperedError, parseLedger } from '../core/ledger/ledger.js';
import { checkKeptCommits } from './kept-commits.js';
import type { RunOptions } from './run-options.js';
import { resolveSandbox } from './sandbox.js';
import { slotWorktrees } from './worktrees.js';
import { localParallel } from '../core/render/config-summary.js';

function defaultTag(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
}

/** Everything a run works with, opened by {@link openRun}. */
export interface RunState {
  repo: string;
  config: Config;
  paths: RunPaths;
  run: RunRecord;
  experiments: ExperimentRecord[];
  /** Appends to `ledger.jsonl`, each record chained to the one before by its SHA-256. */
  ledger: LedgerWriter;
  proposer: Proposer;
  /** The evaluator and the two worktrees (baseline, candidate) the run measures in: slot 0's. */
  measure: MeasureContext;
  /**
   * One measuring context per experiment the run may have in flight ({@link localParallel}): the same evaluator,
   * each slot its own pair of worktrees. `slots[0]` is `measure`.
   */
  slots: MeasureContext[];
  /**
   * Aborted with `options.signal`, and by the loop itself when an experiment fails with an error while others
   * are in flight (they are stopped before the error is thrown). What proposers, evaluators and measurements get.
   */
  signal: AbortSignal;
  /** Aborts {@link signal}. */
  cancel: () => void;
  options: RunOptions;
}

/** The best commit and metric so far: the last record's. */
export function bestOf(experiments: ExperimentRecord[]): { commit: string; metric: number | null } {
  const last = experiments[experiments.length - 1]!;
  return { commit: last.bestCommit, metric: last.best };
}

/**
 * Opens the run `options` name: a new one (its run record, branch and folders) or, with `resume`, the one its
 * ledger holds, checked against the config and with a branch a crash left behind mended.
 */
export async function openRun(options: RunOptions): Promise<{ state: RunState; resumed: boolean }> {
  const repo = await repoRoot(options.cwd).catch(() => {
    throw new RunSetupError(`${options.cwd} is not inside a git repository: run autoloop from a repository with at least one commit (git init && git commit)`);
  });
  const configPath = resolve(repo, options.configPath ?? CONFIG_PATH);
  const { config, text, file } = await loadConfigFile(configPath, relative(repo, configPath) || configPath);
  const directories = await autoloopDirectories(repo);
  const runsDir = directories.runs;
  // The repository, its git directory (where the worktrees live) and the run files are out of every command's sight.
  const hide = [repo, dirname(directories.worktrees), runsDir];
  // Before anything is written: a sandbox that cannot start is the config's problem, not the run's.
  await resolveSandbox(config.sandbox);

  let dir: string;
  if (options.resume) {
    const found = options.tag ? join(runsDir, options.tag) : await latestRunDir(runsDir);
    if (!found || !existsSync(join(found, 'ledger.jsonl'))) {
      throw new RunSetupError(`no run to resume${options.tag ? ` named ${options.tag}` : ''} in ${RUNS_DIR}/: start one with autoloop run`);
    }
    dir = found;
  } else {
    const tag = options.tag ?? defaultTag(new Date(options.now?.() ?? Date.now()));
    if (!RUN_NAME_PATTERN.test(tag)) throw new RunSetupError(`--tag ${JSON.stringify(tag)} is not a valid name: use letters, digits, . _ -`);
    dir = join(runsDir, tag);
    if (existsSync(join(dir, 'ledger.jsonl'))) {
      throw new RunSetupError(`run ${tag} already exists in ${relative(repo, dir)}: continue it with --resume, or pick another --tag`);
    }
    if (await branchHead(repo, runBranch(tag))) {
      throw new RunSetupError(`branch ${runBranch(tag)} already exists: pick another --tag, or delete the branch`);
    }
  }
  const paths = runPaths(dir);
  await mkdir(paths.traces, { recursive: true });

  let run: RunRecord;
  let experiments: ExperimentRecord[] = [];
  let protectedFiles: ProtectedFiles;
  const hash = configHash(text);
  if (options.resume) {
    const text = await readFile(paths.ledger, 'utf8');
    const ledger = parseLedger(text, paths.ledger);
    run = ledger.run;
    experiments = ledger.experiments;
    // The chain holds; the trailers autoloop wrote in the kept commits must agree with it too, or it was rebuilt.
    const kept = await checkKeptCommits(dir, text, paths.ledger);
    if (kept.checked && !kept.verification.ok) throw new LedgerTamperedError(kept.verification);
    if (run.configHash !== hash) {
      throw new RunSetupError(`${file} changed since run ${run.tag} started: restore it to resume, or start a new run (another --tag)`);
    }
    protectedFiles = await ProtectedFiles.load(repo, run.baseCommit, scopeRules(config, run.configFile));
    if (experiments.length > 0) {
      // The ledger is the source of truth: a crash between the ledger append and the ref update is mended here.
      await setBranch(repo, run.branch, bestOf(experiments).commit);
    }
  } else {
    const tag = relative(runsDir, dir);
    const baseCommit = await resolveCommit(repo, options.base ?? 'HEAD').catch(() => {
      throw new RunSetupError(`base ${JSON.stringify(options.base ?? 'HEAD')} is not a commit in ${repo}: name a branch, tag or SHA (the repository needs at least one commit)`);
    });
    run = {
      type: 'run',
      version: 1,
      tag,
      branch: runBranch(tag),
      baseCommit,
      metric: { name: config.metric.name, goal: config.metric.goal },
      guards: config.guards.map((g) => g.name),
      configFile: relative(repo, configPath),
      configHash: hash,
      protectedHash: (protectedFiles = await ProtectedFiles.load(repo, baseCommit, scopeRules(config, relative(repo, configPath)))).hash,
      experiments: options.experiments ?? config.budget.experiments,
      startedAt: new Date(options.now?.() ?? Date.now()).toISOString(),
    };
    await setBranch(repo, run.branch, baseCommit);
  }
  // After readLedger, which verifies the chain on resume; cuts off a line a crash left half-written.
  const ledger = await LedgerWriter.open(paths.ledger);
  if (!options.resume) await ledger.append(run);
  const worktreeRoot = join(directories.worktrees, run.tag);
  const cancellation = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, cancellation.signal]) : cancellation.signal;
  const evaluator = new Evaluator(config, { signal, protectedFiles, hide });
  const slots = Array.from({ length: localParallel(config) }, (_, slot): MeasureContext => ({
    repo,
    config,
    configFile: run.configFile,
    evaluator,
    worktrees: slotWorktrees(worktreeRoot, slot),
    acceptSuspicious: options.acceptSuspicious,
    signal,
  }));
  const state: RunState = {
    repo,
    config,
    paths,
    run,
    experiments,
    ledger,
    proposer: typeof options.proposer === 'function' ? options.proposer(config) : options.proposer,
    measure: slots[0]!,
    slots,
    signal,
    cancel: () => cancellation.abort(),
    options,
  };
  return { state, resumed: Boolean(options.resume) };
}
