/**
 * The sentinel's paired measurement of two commits of the default branch: what `autoloop eval` does (fresh worktrees
 * autoloop owns, `setup` on each side, both sides verified and the protected files pinned before every run, B C B C …
 * interleaved by the Evaluator, the git directory put back, the judge) without what only a proposal needs: the scope
 * check (merges on the default branch may change any file, the evaluator's included) and the candidate's `check`.
 *
 * Every measurement of one sentinel check pins the protected files (the evaluator, its data, the config) of one
 * commit, the reference's: the head, the commits either side of a change and each bisection step are all measured by
 * the same evaluator, whatever they changed in it.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Config } from '../../core/config/config-schema.js';
import { judgeUnderConfig, ONE_SIDED_ALPHA, sampleValues } from '../../core/judge/judge.js';
import { alphaAt, measurementPlan } from '../../core/judge/sequential.js';
import type { Judgement, RunSample } from '../../core/ledger/records.js';
import { scopeRules } from '../../core/scope/scope.js';
import { CheckoutVerificationError, takeRepairs } from '../checkout.js';
import { Evaluator, sampleFailure, type Checkout } from '../evaluator.js';
import { ProtectedFiles, verifyBeforeRun } from '../pin.js';
import { RepoGuard } from '../repo-guard.js';
import { autoloopDirectories } from '../run-files.js';
import { resolveSandbox } from '../sandbox.js';
import { prepareWorktree, removeWorktree } from '../worktrees.js';

/** One paired measurement: the judgement (null when a run failed or a checkout was refused, with the reason). */
export interface CommitsMeasurement {
  base: string;
  head: string;
  samples: RunSample[];
  judgement: Judgement | null;
  reason: string | null;
  traceDir: string;
}

export interface MeasurerOptions {
  repo: string;
  config: Config;
  /** Config file path relative to the repository root: always protected. */
  configFile: string;
  /** The commit whose protected files every measurement runs with. */
  pin: string;
  signal?: AbortSignal;
}

/** Measures pairs of commits in two worktrees it owns; `close()` removes them. */
export class CommitMeasurer {
  private count = 0;

  private constructor(
    private readonly options: MeasurerOptions,
    private readonly protectedFiles: ProtectedFiles,
    private readonly hide: string[],
    private readonly worktrees: { baseline: string; candidate: string },
    private readonly root: string,
    /** Where this check's traces go: one folder per measurement below it. */
    readonly traceRoot: string,
  ) {}

  /** The config every measurement runs with. */
  get config(): Config {
    return this.options.config;
  }

  /** Checks that the sandbox starts, lists the pinned files, and picks the worktrees and the trace folder. */
  static async open(options: MeasurerOptions): Promise<CommitMeasurer> {
    const { repo, config } = options;
    const directories = await autoloopDirectories(repo);
    await resolveSandbox(config.sandbox);
    const protectedFiles = await ProtectedFiles.load(repo, options.pin, scopeRules(config, options.configFile));
    const root = join(directories.worktrees, `sentinel-${process.pid}`);
    const traceRoot = join(directories.runs, 'sentinel', new Date().toISOString().replace(/[:.]/g, '-'));
    await mkdir(traceRoot, { recursive: true });
    // The repository, its git directory (where the worktrees live) and the run files are out of every command's sight.
    const hide = [repo, dirname(directories.worktrees), directories.runs];
    return new CommitMeasurer(options, protectedFiles, hide, { baseline: join(root, 'baseline'), candidate: join(root, 'candidate') }, root, traceRoot);
  }

  /** `head` against `base`, paired and interleaved: `repeats` pairs, else as the config says (sequentially by default). */
  async measure(base: string, head: string, repeats?: number): Promise<CommitsMeasurement> {
    const { repo, config, signal } = this.options;
    const { worktrees } = this;
    const traceDir = join(this.traceRoot, `${String(++this.count).padStart(2, '0')}-${base.slice(0, 12)}-${head.slice(0, 12)}`);
    await mkdir(traceDir, { recursive: true });
    const result = (fields: Pick<CommitsMeasurement, 'samples' | 'judgement' | 'reason'>): CommitsMeasurement => ({ base, head, traceDir, ...fields });
    // A fresh evaluator each time: `setup` runs again for the new commits, and nothing learnt of another pair (a
    // metric that never moved) shortens this one.
    const evaluator = new Evaluator(config, { signal, protectedFiles: this.protectedFiles, hide: this.hide });
    await Promise.all([prepareWorktree(repo, worktrees.baseline, base), prepareWorktree(repo, worktrees.candidate, head)]);
    const sides: Checkout[] = [
      { side: 'baseline', worktree: worktrees.baseline, commit: base },
      { side: 'candidate', worktree: worktrees.candidate, commit: head },
    ];
    for (const worktree of [worktrees.baseline, worktrees.candidate]) takeRepairs(worktree);
    let samples: RunSample[];
    try {
      for (const checkout of sides) {
        if (!config.evaluate.setup) break;
        await verifyBeforeRun(checkout.worktree, checkout.commit);
        const setup = await evaluator.setup(checkout.worktree, traceDir, checkout.side);
        if (setup && !setup.ok) return result({ samples: [], judgement: null, reason: setup.reason! });
      }
      samples = await evaluator.measurePair(sides[0]!, sides[1]!, traceDir, repeats);
      const changed = await (await RepoGuard.of(repo)).restore();
      if (changed.length > 0) throw new CheckoutVerificationError(`the repository's git directory was changed during the measurement (put back): ${changed.join('; ')}`, repo, null);
    } catch (error) {
      if (!(error instanceof CheckoutVerificationError)) throw error;
      return result({ samples: [], judgement: null, reason: error.message });
    }
    const failed = samples.find((sample) => !sample.ok);
    if (failed) return result({ samples, judgement: null, reason: sampleFailure(failed).reason });
    const values = (side: RunSample['side'], name: string) => sampleValues(samples, side, name);
    const plan = repeats === undefined ? measurementPlan(config) : null;
    const judgement = judgeUnderConfig(config, values, true, plan ? alphaAt(plan, values('candidate', config.metric.name).length) : ONE_SIDED_ALPHA);
    await writeFile(join(traceDir, 'judgement.json'), `${JSON.stringify({ base, head, judgement }, null, 2)}\n`);
    return result({ samples, judgement, reason: null });
  }

  /** Removes the worktrees. */
  async close(): Promise<void> {
    await removeWorktree(this.options.repo, this.worktrees.baseline);
    await removeWorktree(this.options.repo, this.worktrees.candidate);
    await rm(this.root, { recursive: true, force: true });
  }
}
