import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../core/config/config-schema.js';
import { decideExperiment, LEDGER_STATUS } from '../core/judge/decision.js';
import { deterministicNote, judgeUnderConfig, ONE_SIDED_ALPHA, sampleValues } from '../core/judge/judge.js';
import { alphaAt, FIRST_LOOK, measurementPlan, sequentialNote } from '../core/judge/sequential.js';
import type { ExperimentStatus, Judgement, RunSample, ScopeViolation } from '../core/ledger/records.js';
import { describeViolations } from '../core/scope/scope.js';
import { sampleFailure, type Evaluator, type Checkout } from './evaluator.js';
import { CheckoutVerificationError, takeRepairs } from './checkout.js';
import { prepareWorktree } from './worktrees.js';
import { verifyBeforeRun } from './pin.js';
import { RepoGuard } from './repo-guard.js';
import { inspectCandidate, type Inspection } from './propose.js';

/** What a measurement needs: the repository, its config and two worktrees autoloop owns. */
export interface MeasureContext {
  repo: string;
  config: Config;
  /** Config file path relative to the repository root: always protected. */
  configFile: string;
  evaluator: Evaluator;
  worktrees: { baseline: string; candidate: string };
  /** Keep improvements beyond `suspicious_effect` (the user said so for this run). */
  acceptSuspicious?: boolean;
  signal?: AbortSignal;
}

export interface MeasureOptions {
  /** The worktrees already hold exactly `parent` and `candidate` (the loop just prepared and committed them). */
  checkedOut?: boolean;
  /**
   * `evaluate.baseline: cached`: the parent's samples from when it was measured, used instead of
   * measuring it again. Twice the throughput, but unpaired: the judgement says so.
   */
  cachedBaseline?: RunSample[];
  /** Runs per side instead of `evaluate.repeats` (the run's confirmation); always paired. */
  repeats?: number;
  /**
   * Measure even when the candidate changes nothing (an A/A test of the benchmark's noise, `autoloop eval HEAD
   * --base HEAD`); a proposal that changes nothing stays invalid without it.
   */
  allowUnchanged?: boolean;
}

/** The measured comparison of a candidate commit against its parent. */
export interface Measurement {
  status: ExperimentStatus;
  reason: string | null;
  changedFiles: string[];
  scopeViolations: ScopeViolation[];
  samples: RunSample[];
  /** Time the evaluator's runs took in this measurement: cached baseline samples were not run again, and do not count. */
  evaluateMs: number;
  judgement: Judgement | null;
}

/**
 * Measures `candidate` against `parent` as CI would: scope first (nothing out of scope is ever run),
 * then setup, the candidate's check, paired interleaved runs, and the judge. With
 * `candidateCheckedOut`, the candidate worktree already holds exactly `candidate` (the loop just
 * committed it there).
 */
export async function measureCandidate(
  context: MeasureContext,
  parent: string,
  candidate: string,
  trace: string,
  options: MeasureOptions = {},
): Promise<Measurement> {
  const { repo, worktrees } = context;
  const [inspection] = await Promise.all([
    inspectCandidate(repo, context.config, context.configFile, parent, candidate, trace),
    options.checkedOut ? undefined : Promise.all([prepareWorktree(repo, worktrees.baseline, parent), prepareWorktree(repo, worktrees.candidate, candidate)]),
  ]);
  return measureChanges(context, parent, candidate, trace, inspection, options);
}

async function measureChanges(
  context: MeasureContext,
  parent: string,
  candidate: string,
  trace: string,
  { changes, violations: scopeViolations }: Inspection,
  { cachedBaseline, repeats, allowUnchanged }: MeasureOptions,
): Promise<Measurement> {
  const { config, evaluator, worktrees } = context;
  const changed = changes.map((c) => c.path);
  const result = (status: ExperimentStatus, reason: string | null, extra: Partial<Measurement> = {}): Measurement => ({
    status,
    reason,
    changedFiles: changed,
    scopeViolations: [],
    samples: [],
    evaluateMs: 0,
    judgement: null,
    ...extra,
  });
  if (changes.length === 0 && !allowUnchanged) return result('invalid', 'the proposal changed nothing');

  if (scopeViolations.length > 0) return result('invalid', `out of scope: ${describeViolations(scopeViolations)}`, { scopeViolations });

  const baseline: Checkout = { side: 'baseline', worktree: worktrees.baseline, commit: parent };
  const candidateCheckout: Checkout = { side: 'candidate', worktree: worktrees.candidate, commit: candidate };
  const sides = cachedBaseline ? [candidateCheckout] : [baseline, candidateCheckout];
  let samples: RunSample[];
  // Repairs reported earlier (the base measured alone) are not this experiment's.
  for (const worktree of [worktrees.baseline, worktrees.candidate]) takeRepairs(worktree);
  try {
    // The evaluator checks both sides before each measured run (ProtectedFiles.pin). Before that, only
    // `setup` runs code between the reset (or the commit) and the candidate's check: with a setup, both
    // sides are checked before it, and the candidate again before its check.
    const hasSetup = Boolean(config.evaluate.setup);
    if (hasSetup) for (const checkout of sides) await verifyBeforeRun(checkout.worktree, checkout.commit);
    for (const checkout of sides) {
      const setup = await evaluator.setup(checkout.worktree, trace, checkout.side);
      if (setup && !setup.ok) return result('crash', setup.reason!);
    }
    if (hasSetup && config.evaluate.check) await verifyBeforeRun(candidateCheckout.worktree, candidateCheckout.commit);
    const check = await evaluator.check(candidateCheckout.worktree, trace, 'candidate');
    if (check && !check.ok) return result('invalid', check.reason!);

    samples = cachedBaseline
      ? [...cachedBaseline.map((s): RunSample => ({ ...s, side: 'baseline', commit: parent })), ...(await evaluator.measureRuns(candidateCheckout, trace)).samples]
      : await evaluator.measurePair(baseline, candidateCheckout, trace, repeats);
    // What the last run left in the git directory is put back too, and voids the comparison.
    const changed = await (await RepoGuard.of(context.repo)).restore();
    if (changed.length > 0) throw new CheckoutVerificationError(`the repository's git directory was changed during the measurement (put back): ${changed.join('; ')}`, context.repo, null);
  } catch (error) {
    if (!(error instanceof CheckoutVerificationError)) throw error;
    const side = error.worktree === worktrees.baseline ? 'baseline checkout refused: ' : error.worktree === worktrees.candidate ? 'candidate checkout refused: ' : '';
    return result('invalid', `${side}${error.message}`);
  } finally {
    await writeRepairs(trace, worktrees);
  }
  const evaluateMs = samples.slice(cachedBaseline?.length ?? 0).reduce((sum, s) => sum + s.outcome.durationMs, 0);
  const failed = samples.find((s) => !s.ok);
  if (failed) {
    const failure = sampleFailure(failed);
    return result(failure.status, failure.reason, { samples, evaluateMs });
  }
  const wanted = repeats ?? config.evaluate.repeats;
  const runsPerSide = sampleValues(samples, 'candidate', config.metric.name).length;
  // Sequentially measured: judged at the level of the look measuring stopped at (each look spends its share of 5%).
  const plan = cachedBaseline || repeats !== undefined ? null : measurementPlan(config);
  const judged = judgeUnderConfig(config, (side, name) => sampleValues(samples, side, name), !cachedBaseline, plan ? alphaAt(plan, runsPerSide) : ONE_SIDED_ALPHA);
  // Every output says why there are as many runs as there are: a metric that did not move, or the sequential design.
  const deterministic = !cachedBaseline && runsPerSide < Math.min(wanted, plan ? FIRST_LOOK : wanted);
  const note = deterministic ? deterministicNote(runsPerSide, wanted) : plan ? sequentialNote(plan, runsPerSide) : null;
  const judgement = note ? { ...judged, reasons: [...judged.reasons, note] } : judged;
  const status = LEDGER_STATUS[decideExperiment(judgement, { acceptSuspicious: context.acceptSuspicious ?? false })];
  // A suspicious gain is not kept without consent; its reason must travel with the record so a human sees why.
  const reason = status === 'invalid' || judgement.suspicious ? judgement.reasons.join('; ') : null;
  return result(status, reason, { samples, evaluateMs, judgement });
}

/** What had to be put back in either worktree during the measurement, in the trace (`checkout-repairs.log`): a candidate that rewrites files is measured as committed, and seen doing it. */
async function writeRepairs(trace: string, worktrees: { baseline: string; candidate: string }): Promise<void> {
  const lines = (['baseline', 'candidate'] as const).flatMap((side) => takeRepairs(worktrees[side]).map((repair) => `${side}: put back ${repair}\n`));
  if (lines.length > 0) await appendFile(join(trace, 'checkout-repairs.log'), lines.join(''));
}
