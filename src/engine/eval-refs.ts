import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { CONFIG_PATH, type Config } from '../core/config/config-schema.js';
import { configHash } from '../core/config/config.js';
import { buildResultDocument, type ResultDocument } from '../core/result/result.js';
import { scopeRules } from '../core/scope/scope.js';
import { loadConfigAt, loadConfigFile } from './config-file.js';
import { environmentFingerprint } from './fingerprint.js';
import { ProtectedFiles } from './pin.js';
import { Evaluator } from './evaluator.js';
import { git, repoRoot, resolveCommit, snapshotWorkingTree } from './git.js';
import { removeWorktree } from './worktrees.js';
import { measureCandidate, type Measurement } from './measure.js';
import { autoloopDirectories } from './run-files.js';
import { RunSetupError } from './errors.js';
import { resolveSandbox } from './sandbox.js';

export interface EvalOptions {
  cwd: string;
  configPath?: string;
  /** The commit measured against; defaults to HEAD. */
  base?: string;
  /** The commit measured; defaults to the working tree as it is (uncommitted changes included). */
  head?: string;
  /** Overrides `evaluate.repeats`. */
  repeats?: number;
  /** Read the config from the base commit (as CI does) rather than from the working tree. */
  configFromBase?: boolean;
  signal?: AbortSignal;
}

export interface EvalResult {
  repo: string;
  /** The config measured with (`repeats` as the caller asked). */
  config: Config;
  /** The config as the file says, before the caller's `repeats`: the settings an A/A measurement speaks to. */
  configured: Config;
  baseCommit: string;
  headCommit: string;
  /** What was measured, for people: a ref name or "working tree". */
  headLabel: string;
  /** Head and base hold the same files: an A/A measurement, whose delta is the benchmark's own noise. */
  sameTree: boolean;
  measurement: Measurement;
  /** The versioned result document (also written to `result.json` in the trace folder). */
  document: ResultDocument;
  traceDir: string;
}

/** The repository's `origin` remote, if it has one: how a result names its repository. */
async function remoteName(repo: string): Promise<string | null> {
  const url = await git(repo, ['config', '--get', 'remote.origin.url']).catch(() => '');
  return url.trim() || null;
}

/**
 * `autoloop eval`: the measurement CI makes for a pull request, made locally — head against base,
 * paired and interleaved, scope checked, judged with the config's rules. Head and base with the same files are
 * measured all the same: an A/A test, whose delta is the benchmark's noise (any keep it shows is a false one).
 */
export async function evalRefs(options: EvalOptions): Promise<EvalResult> {
  const repo = await repoRoot(options.cwd).catch(() => {
    throw new RunSetupError(`${options.cwd} is not inside a git repository with a commit: autoloop eval compares commits`);
  });
  const configPath = resolve(repo, options.configPath ?? CONFIG_PATH);
  const configFile = relative(repo, configPath);
  const resolveRef = (ref: string) =>
    resolveCommit(repo, ref).catch(() => {
      throw new RunSetupError(`${JSON.stringify(ref)} is not a commit in ${repo}: name a branch, tag or SHA (in CI, check out with fetch-depth: 0)`);
    });
  const baseCommit = await resolveRef(options.base ?? 'HEAD');
  const headCommit = options.head ? await resolveRef(options.head) : await snapshotWorkingTree(repo, 'autoloop eval: working tree');
  const loaded = options.configFromBase ? await loadConfigAt(repo, baseCommit, configFile) : await loadConfigFile(configPath, configFile || configPath);
  const config: Config = options.repeats ? { ...loaded.config, evaluate: { ...loaded.config.evaluate, repeats: options.repeats, sequential: false } } : loaded.config;

  const directories = await autoloopDirectories(repo);
  // The repository, its git directory (where the worktrees live) and the run files are out of every command's sight.
  const hide = [repo, dirname(directories.worktrees), directories.runs];
  // Before anything is written: a sandbox that cannot start is the config's problem, not the measurement's.
  await resolveSandbox(config.sandbox);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const traceDir = join(directories.runs, 'eval', stamp);
  await mkdir(traceDir, { recursive: true });
  const worktreeRoot = join(directories.worktrees, `eval-${process.pid}`);
  const worktrees = { baseline: join(worktreeRoot, 'baseline'), candidate: join(worktreeRoot, 'candidate') };
  try {
    const protectedFiles = await ProtectedFiles.load(repo, baseCommit, scopeRules(config, configFile));
    const evaluator = new Evaluator(config, { signal: options.signal, protectedFiles, hide });
    const measurement = await measureCandidate(
      { repo, config, configFile, evaluator, worktrees, signal: options.signal },
      baseCommit,
      headCommit,
      traceDir,
      { allowUnchanged: true },
    );
    const document = buildResultDocument({
      repo: await remoteName(repo),
      base: baseCommit,
      head: headCommit,
      config,
      configFile,
      configHash: configHash(loaded.text),
      protectedHash: protectedFiles.hash,
      status: measurement.status,
      judgement: measurement.judgement,
      samples: measurement.samples,
      changedFiles: measurement.changedFiles,
      scopeViolations: measurement.scopeViolations,
      reason: measurement.reason,
      environment: environmentFingerprint(),
      sandbox: evaluator.sandboxed ? 'bwrap' : 'none',
      createdAt: new Date(),
    });
    await writeFile(join(traceDir, 'result.json'), `${JSON.stringify(document, null, 2)}\n`);
    const sameTree = measurement.changedFiles.length === 0 && measurement.scopeViolations.length === 0;
    return { repo, config, configured: loaded.config, baseCommit, headCommit, headLabel: options.head ?? 'working tree', sameTree, measurement, document, traceDir };
  } finally {
    await removeWorktree(repo, worktrees.baseline);
    await removeWorktree(repo, worktrees.candidate);
    await rm(worktreeRoot, { recursive: true, force: true });
  }
}
