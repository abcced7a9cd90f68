/** Opening a local run: a new one, or one continued from its ledger. */
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CONFIG_PATH, type Config } from '../core/config/config-schema.js';
import { ConfigError, configHash } from '../core/config/config.js';
import { checkConfigInRepository } from './config-checks.js';
import { FIRST_LOOK } from '../core/judge/sequential.js';
import { RUN_NAME_PATTERN, runBranch } from '../core/protocol/protocol.js';
import type { ExperimentRecord, RunRecord, RunSample } from '../core/ledger/records.js';
import type { ProposalContext, Proposer } from '../core/propose/proposer.js';
import { plural, shortSha } from '../core/render/markdown.js';
import { loadConfigAt, loadConfigFile, type LoadedConfig } from './config-file.js';
import { confirmationRepeats } from './confirm.js';
import { Evaluator, type Checkout, type EvaluatorOptions, type StepResult } from './evaluator.js';
import type { MeasureContext } from './measure.js';
import { branchHead, git, repoRoot, resolveCommit, setBranch } from './git.js';
import { RunSetupError } from './errors.js';
import { ProtectedFiles } from './pin.js';
import { scopeRules } from '../core/scope/scope.js';
import { autoloopDirectories, claimWorktrees, experimentOfTrace, latestRunDir, LedgerWriter, runPaths, RUNS_DIR, type RunPaths } from './run-files.js';
import { LedgerTamperedError, parseLedger, type LedgerContents } from '../core/ledger/ledger.js';
import { checkKeptCommits } from './kept-commits.js';
import type { LoopEvent, RunOptions } from './run-options.js';
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

/** The tracked files with uncommitted changes (staged or not) in the working tree of `repo`, as git lists them. */
export async function uncommittedFiles(repo: string): Promise<string[]> {
  const out = await git(repo, ['status', '--porcelain=v1', '-z', '--untracked-files=no']);
  const entries = out.split('\0');
  const files: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.length < 4) continue;
    files.push(entry.slice(3));
    // A rename or copy is followed by the path it came from.
    if (entry[0] === 'R' || entry[0] === 'C') i++;
  }
  return files;
}

/** How many uncommitted files the warning names before it says how many more there are. */
const NAMED_FILES = 5;

/**
 * The warning `autoloop run` gives when the working tree has uncommitted changes to tracked files (`files`): the
 * run measures commits, so the changes are not in it, and the config is read as committed in the base commit,
 * which it says when the config file itself is one of them.
 */
export function uncommittedWarning(files: readonly string[], run: Pick<RunRecord, 'configFile' | 'baseCommit'>): string {
  const named = files.length > NAMED_FILES ? `${files.slice(0, NAMED_FILES).join(', ')} and ${files.length - NAMED_FILES} more` : files.join(', ');
  const configFile = run.configFile.split(sep).join('/');
  const parts = [
    `the working tree has uncommitted changes to ${plural(files.length, 'tracked file')} (${named}): autoloop run measures commits, so they are not part of the run, which starts from ${shortSha(run.baseCommit)} as committed.`,
  ];
  if (files.includes(configFile)) parts.push(`${configFile} is one of them: the run uses it as committed in ${shortSha(run.baseCommit)}, not as it is now.`);
  parts.push('Commit them first (git commit -a) to measure them.');
  return parts.join(' ');
}

/**
 * The config as committed in `commit`: what `autoloop run` measures with (the copy in the working tree, edited
 * or not, is not read). One that is not in the commit but on disk is an error that says to commit it.
 */
async function loadCommittedConfig(repo: string, commit: string, configFile: string): Promise<LoadedConfig> {
  const path = configFile.split(sep).join('/');
  const committed = await git(repo, ['cat-file', '-e', `${commit}:${path}`]).then(
    () => true,
    () => false,
  );
  if (!committed && existsSync(join(repo, configFile))) {
    throw new ConfigError(
      configFile,
      [{ file: configFile, path: '', line: null, message: `is not committed: autoloop run reads the config from the commit it measures (${shortSha(commit)}), not from the working tree` }],
      `Commit it (git add ${path} && git commit), then run again.`,
    );
  }
  return { ...(await loadConfigAt(repo, commit, path)), file: configFile };
}

/**
 * The config of a run being resumed: as committed in its base commit, which must be the text it started with. An
 * older autoloop read the working tree's copy, so a run it started with uncommitted edits resumes with that copy,
 * when it is still the same.
 */
async function loadResumedConfig(repo: string, run: RunRecord): Promise<LoadedConfig> {
  let committed: LoadedConfig | null = null;
  let failure: unknown = null;
  try {
    committed = await loadCommittedConfig(repo, run.baseCommit, run.configFile);
  } catch (error) {
    failure = error;
  }
  if (committed && configHash(committed.text) === run.configHash) return committed;
  const onDisk = await loadConfigFile(join(repo, run.configFile), run.configFile).catch(() => null);
  if (onDisk && configHash(onDisk.text) === run.configHash) return onDisk;
  if (failure) throw failure;
  throw new RunSetupError(`${run.configFile} changed since run ${run.tag} started: restore it to resume, or start a new run (another --tag)`);
}

/** A flag given to a resume that differs from the run's own: the sentence that says so, and the flag as a new run would take it. */
interface FlagConflict {
  flag: string;
  says: string;
  again: string;
}

/**
 * The flags of `autoloop run` given to a resume that differ from those the run started with (its run record keeps
 * them). One the record does not have (an older ledger) cannot differ: it is taken as given.
 */
async function flagConflicts(repo: string, run: RunRecord, options: RunOptions): Promise<FlagConflict[]> {
  const conflicts: FlagConflict[] = [];
  const started = `run ${run.tag} started`;
  if (options.experiments !== undefined && run.experiments !== undefined && options.experiments !== run.experiments) {
    conflicts.push({ flag: '--experiments', says: `--experiments ${options.experiments}: ${started} with a budget of ${plural(run.experiments, 'experiment')}`, again: `--experiments ${options.experiments}` });
  }
  if (options.goal !== undefined && run.goal !== undefined && options.goal !== run.goal) {
    const was = run.goal === null ? 'without a goal' : `with --goal ${JSON.stringify(run.goal)}`;
    conflicts.push({ flag: '--goal', says: `--goal ${JSON.stringify(options.goal)}: ${started} ${was}`, again: `--goal ${JSON.stringify(options.goal)}` });
  }
  if (options.acceptSuspicious && run.acceptSuspicious === false) {
    conflicts.push({ flag: '--accept-suspicious', says: `--accept-suspicious: ${started} without it`, again: '--accept-suspicious' });
  }
  if (options.base !== undefined) {
    const given = await resolveCommit(repo, options.base).catch(() => null);
    if (given !== run.baseCommit) {
      const not = given ? `not ${shortSha(given)}` : 'and that is not a commit';
      conflicts.push({ flag: '--base', says: `--base ${options.base}: ${started} from ${shortSha(run.baseCommit)}, ${not}`, again: `--base ${options.base}` });
    }
  }
  if (options.configPath !== undefined && relative(repo, resolve(repo, options.configPath)) !== run.configFile) {
    conflicts.push({ flag: '--config', says: `--config ${options.configPath}: ${started} with ${run.configFile}`, again: `--config ${options.configPath}` });
  }
  return conflicts;
}

/** The error for a resume given flags the run did not start with: each named, with what it started with and how to go on. */
function conflictError(run: RunRecord, conflicts: readonly FlagConflict[]): RunSetupError {
  const base = conflicts.some((c) => c.flag === '--base') ? '' : `--base ${run.branch} `;
  const flags = conflicts.map((c) => c.flag);
  const again = conflicts.map((c) => c.again).join(' ');
  return new RunSetupError(
    `${conflicts.map((c) => c.says).join('; ')}. A resumed run keeps the flags it started with (its ledger records them): ` +
      `resume it without ${flags.join(', ')}, or start a new run from where it got to: autoloop run ${base}--tag NEW_TAG ${again}`,
  );
}

/** A phase of an experiment, as the loop's `phase` event carries it. */
type Phase = Omit<Extract<LoopEvent, { type: 'phase' }>, 'type' | 'experiment'>;

/**
 * The run's evaluator, saying what it starts as it starts it (`phase` events): `setup` and `check` of a side's
 * worktree, and each run of `evaluate.command`, for the experiment whose trace folder it works in.
 */
class PhaseReportingEvaluator extends Evaluator {
  /** The worktrees set up: the evaluator runs `setup` once per worktree, so it is said once. */
  private readonly setUpWorktrees = new Set<string>();

  constructor(
    private readonly settings: Config,
    options: EvaluatorOptions,
    private readonly paths: RunPaths,
    private readonly report: (experiment: number | null, phase: Phase) => void,
  ) {
    super(settings, options);
  }

  override async setup(worktree: string, traceDir: string, label: string): Promise<StepResult | null> {
    if (this.settings.evaluate.setup && !this.setUpWorktrees.has(worktree)) this.say(traceDir, { phase: 'setup', side: sideOf(label) });
    const result = await super.setup(worktree, traceDir, label);
    if (result?.ok) this.setUpWorktrees.add(worktree);
    return result;
  }

  override async check(worktree: string, traceDir: string, label: string): Promise<StepResult | null> {
    if (this.settings.evaluate.check) this.say(traceDir, { phase: 'check', side: sideOf(label) });
    return super.check(worktree, traceDir, label);
  }

  override async measure(checkout: Checkout, index: number, traceDir: string): Promise<RunSample> {
    const experiment = experimentOfTrace(this.paths, traceDir);
    this.report(experiment, { phase: 'run', side: checkout.side, run: index + 1, runs: this.mostRuns(experiment) });
    return super.measure(checkout, index, traceDir);
  }

  private say(traceDir: string, phase: Phase): void {
    this.report(experimentOfTrace(this.paths, traceDir), phase);
  }

  /** The most runs per side a measurement of `experiment` takes: the base's alone, the confirmation's, or a pair's. */
  private mostRuns(experiment: number | null): number {
    const { repeats, sequential, confirm } = this.settings.evaluate;
    if (experiment === 0) return sequential ? Math.min(FIRST_LOOK, repeats) : repeats;
    if (experiment === null) return confirmationRepeats(confirm) ?? repeats;
    return repeats;
  }
}

function sideOf(label: string): 'baseline' | 'candidate' {
  return label === 'baseline' ? 'baseline' : 'candidate';
}

/** `proposer`, saying when it starts a proposal (the `propose` phase); the proposal is the proposer's own. */
function phaseReportingProposer(proposer: Proposer, report: (experiment: number) => void): Proposer {
  return {
    kind: proposer.kind,
    propose: (context: ProposalContext) => {
      report(context.experiment);
      return proposer.propose(context);
    },
  };
}

/**
 * Opens the run `options` name: a new one (its run record, branch and folders) or, with `resume`, the one its
 * ledger holds, checked against the config and the flags it started with, and with a branch a crash left behind
 * mended. The config is read from the base commit (the commit measured), never from the working tree.
 */
export async function openRun(options: RunOptions): Promise<{ state: RunState; resumed: boolean }> {
  const repo = await repoRoot(options.cwd).catch(() => {
    throw new RunSetupError(`${options.cwd} is not inside a git repository: run autoloop from a repository with at least one commit (git init && git commit)`);
  });
  const directories = await autoloopDirectories(repo);
  const runsDir = directories.runs;
  // The repository, its git directory (where the worktrees live) and the run files are out of every command's sight.
  const hide = [repo, dirname(directories.worktrees), runsDir];

  let dir: string;
  let loaded: LoadedConfig;
  let resumedLedger: LedgerContents | null = null;
  let baseCommit: string;
  let configFile: string;
  if (options.resume) {
    const found = options.tag ? join(runsDir, options.tag) : await latestRunDir(runsDir);
    if (!found || !existsSync(join(found, 'ledger.jsonl'))) {
      throw new RunSetupError(`no run to resume${options.tag ? ` named ${options.tag}` : ''} in ${RUNS_DIR}/: start one with autoloop run`);
    }
    dir = found;
    const file = join(dir, 'ledger.jsonl');
    const text = await readFile(file, 'utf8');
    resumedLedger = parseLedger(text, file);
    // The chain holds; the trailers autoloop wrote in the kept commits must agree with it too, or it was rebuilt.
    const kept = await checkKeptCommits(dir, text, file);
    if (kept.checked && !kept.verification.ok) throw new LedgerTamperedError(kept.verification);
    const { run } = resumedLedger;
    const conflicts = await flagConflicts(repo, run, options);
    if (conflicts.length > 0) throw conflictError(run, conflicts);
    baseCommit = run.baseCommit;
    configFile = run.configFile;
    loaded = await loadResumedConfig(repo, run);
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
    const configPath = resolve(repo, options.configPath ?? CONFIG_PATH);
    configFile = relative(repo, configPath);
    if (configFile === '' || configFile.startsWith(`..${sep}`) || configFile === '..' || isAbsolute(configFile)) {
      throw new RunSetupError(`--config ${options.configPath ?? CONFIG_PATH} is not a file in the repository ${repo}: autoloop run reads the config from the commit it measures, so commit it there`);
    }
    baseCommit = await resolveCommit(repo, options.base ?? 'HEAD').catch(() => {
      throw new RunSetupError(`base ${JSON.stringify(options.base ?? 'HEAD')} is not a commit in ${repo}: name a branch, tag or SHA (the repository needs at least one commit)`);
    });
    loaded = await loadCommittedConfig(repo, baseCommit, configFile);
  }
  const { config, text: configText } = loaded;
  // Before anything is written: a sandbox that cannot start is the config's problem, not the run's.
  await resolveSandbox(config.sandbox);
  if (!resumedLedger) {
    // What would make every experiment invalid is said now, not after the baseline's measurement.
    const findings = await checkConfigInRepository(repo, config, configFile, { commit: baseCommit, configProposer: typeof options.proposer === 'function' });
    const errors = findings.filter((finding) => finding.level === 'error');
    if (errors.length > 0) throw new ConfigError(configFile, errors.map((finding) => ({ file: configFile, path: finding.key, line: null, message: finding.message })));
  }
  const paths = runPaths(dir);
  await mkdir(paths.traces, { recursive: true });

  let run: RunRecord;
  let experiments: ExperimentRecord[] = [];
  let protectedFiles: ProtectedFiles;
  if (resumedLedger) {
    run = resumedLedger.run;
    experiments = resumedLedger.experiments;
    protectedFiles = await ProtectedFiles.load(repo, run.baseCommit, scopeRules(config, run.configFile));
    if (experiments.length > 0) {
      // The ledger is the source of truth: a crash between the ledger append and the ref update is mended here.
      await setBranch(repo, run.branch, bestOf(experiments).commit);
    }
  } else {
    const tag = relative(runsDir, dir);
    run = {
      type: 'run',
      version: 1,
      tag,
      branch: runBranch(tag),
      baseCommit,
      metric: { name: config.metric.name, goal: config.metric.goal },
      guards: config.guards.map((g) => g.name),
      configFile,
      configHash: configHash(configText),
      protectedHash: (protectedFiles = await ProtectedFiles.load(repo, baseCommit, scopeRules(config, configFile))).hash,
      experiments: options.experiments ?? config.budget.experiments,
      goal: options.goal ?? null,
      acceptSuspicious: options.acceptSuspicious ?? false,
      startedAt: new Date(options.now?.() ?? Date.now()).toISOString(),
    };
    await setBranch(repo, run.branch, baseCommit);
  }
  // What the run goes on with: the flags its record keeps (a resume without flags gets them), else those given.
  const effective: RunOptions = {
    ...options,
    experiments: run.experiments ?? options.experiments,
    goal: run.goal === undefined ? options.goal : (run.goal ?? undefined),
    acceptSuspicious: run.acceptSuspicious ?? options.acceptSuspicious,
  };
  // After readLedger, which verifies the chain on resume; cuts off a line a crash left half-written.
  const ledger = await LedgerWriter.open(paths.ledger);
  if (!resumedLedger) await ledger.append(run);
  const worktreeRoot = join(directories.worktrees, run.tag);
  await claimWorktrees(worktreeRoot);
  const cancellation = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, cancellation.signal]) : cancellation.signal;
  const emit = options.onEvent;
  const evaluatorOptions: EvaluatorOptions = { signal, protectedFiles, hide };
  const evaluator = emit
    ? new PhaseReportingEvaluator(config, evaluatorOptions, paths, (experiment, phase) => emit({ type: 'phase', experiment, ...phase }))
    : new Evaluator(config, evaluatorOptions);
  const slots = Array.from({ length: localParallel(config) }, (_, slot): MeasureContext => ({
    repo,
    config,
    configFile: run.configFile,
    evaluator,
    worktrees: slotWorktrees(worktreeRoot, slot),
    acceptSuspicious: effective.acceptSuspicious,
    signal,
  }));
  const proposer = typeof options.proposer === 'function' ? options.proposer(config) : options.proposer;
  const state: RunState = {
    repo,
    config,
    paths,
    run,
    experiments,
    ledger,
    proposer: emit ? phaseReportingProposer(proposer, (experiment) => emit({ type: 'phase', experiment, phase: 'propose' })) : proposer,
    measure: slots[0]!,
    slots,
    signal,
    cancel: () => cancellation.abort(),
    options: effective,
  };
  return { state, resumed: Boolean(options.resume) };
}
