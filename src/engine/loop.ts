import { mkdir } from 'node:fs/promises';
import { relative } from 'node:path';
import { againstRunBase, decideExperiment, LEDGER_STATUS } from '../core/judge/decision.js';
import { keptCommitMessage } from '../core/ledger/kept-commit.js';
import type { ConfirmationRecord, ExperimentRecord, RunRecord, RunSample } from '../core/ledger/records.js';
import { renderProgressChart } from '../core/render/chart.js';
import { renderMarkdownReport, renderResultsTsv } from '../core/render/report.js';
import { mean } from '../core/judge/stats.js';
import { plural } from '../core/render/markdown.js';
import { configWarnings } from '../core/render/config-summary.js';
import { measureCandidate, type Measurement } from './measure.js';
import { sampleValues } from '../core/judge/judge.js';
import { proposeCandidate } from './propose.js';
import { recommit, setBranch } from './git.js';
import { prepareWorktree } from './worktrees.js';
import { bestOf, openRun, type RunState } from './open-run.js';
import type { RunOptions } from './run-options.js';
import { traceDir, writeFileAtomic, type RunPaths } from './run-files.js';
import { confirmRun } from './confirm.js';

export interface RunResult {
  run: RunRecord;
  experiments: ExperimentRecord[];
  /** The run head measured against the base at the end (the headline), null when nothing was kept or `evaluate.confirm` is off. */
  confirmation: ConfirmationRecord | null;
  paths: RunPaths;
  /** Why the loop ended, for people. */
  stopReason: string;
  /** `completed`: a budget ran out or the proposer was done; `failed`: the baseline or too many experiments failed; `interrupted`: the signal fired (`--resume` continues). */
  outcome: 'completed' | 'failed' | 'interrupted';
}

/**
 * `suspicious_effect` against the run's base (experiment 0's metric) as well as the step's parent: a
 * candidate the step would keep, but that is beyond it against the base, waits for a human like a
 * suspicious step (kept only with `--accept-suspicious`), its reason saying so.
 */
function checkRunBase(state: RunState, measured: Measurement): Measurement {
  if (measured.status !== 'keep' || !measured.judgement) return measured;
  const { judgement, beyond } = againstRunBase(measured.judgement, state.experiments[0]?.metric ?? null, state.config);
  if (!beyond) return measured;
  const status = LEDGER_STATUS[decideExperiment(judgement, { acceptSuspicious: state.measure.acceptSuspicious ?? false })];
  return { ...measured, judgement, status, reason: judgement.reasons.join('; ') };
}

/** Writes results.tsv, the chart and the report from the ledger: they are derived, never the source of truth. */
async function writeDerivedFiles(state: RunState, confirmation: ConfirmationRecord | null = null): Promise<void> {
  const { paths, run, experiments } = state;
  await Promise.all([
    writeFileAtomic(paths.results, renderResultsTsv(run, experiments)),
    writeFileAtomic(paths.chart, renderProgressChart(run, experiments)),
    writeFileAtomic(paths.report, renderMarkdownReport(run, experiments, { chartPath: 'progress.svg', confirmation })),
  ]);
}

async function record(state: RunState, experiment: ExperimentRecord): Promise<void> {
  await state.ledger.append(experiment);
  state.experiments.push(experiment);
  await writeDerivedFiles(state);
}

/** The valid runs that measured the best commit when it was kept (the baseline's, for the base): a cached baseline. */
function samplesOfBest(experiments: ExperimentRecord[], bestCommit: string): RunSample[] {
  const kept = experiments.findLast((e) => e.keptCommit === bestCommit)!;
  const side = kept.experiment === 0 ? 'baseline' : 'candidate';
  return kept.samples.filter((s) => s.side === side && s.ok);
}

/** What differs between experiment records; the rest {@link experimentRecord} fills in. */
type ExperimentFields = Pick<ExperimentRecord, 'experiment' | 'status' | 'description' | 'parentCommit' | 'candidateCommit' | 'bestCommit' | 'best' | 'reason' | 'proposer'> &
  Partial<Pick<ExperimentRecord, 'keptCommit' | 'metric' | 'guards' | 'judgement' | 'samples' | 'scopeViolations' | 'changedFiles'>>;

/**
 * One ledger record of experiment `fields.experiment`, begun at `startedAt` (`t0` on the performance clock)
 * and proposed in `proposeMs`: the one place its timings are worked out (the evaluation time is the measurement's
 * own, else the sum of its samples' durations).
 */
function experimentRecord(state: RunState, fields: ExperimentFields, timing: { startedAt: Date; t0: number; proposeMs: number; trace: string; evaluateMs?: number }): ExperimentRecord {
  const samples = fields.samples ?? [];
  const evaluateMs = timing.evaluateMs ?? samples.reduce((sum, s) => sum + s.outcome.durationMs, 0);
  const totalMs = performance.now() - timing.t0;
  // Keys in the order the ledger has always written them.
  return {
    type: 'experiment',
    experiment: fields.experiment,
    status: fields.status,
    description: fields.description,
    parentCommit: fields.parentCommit,
    candidateCommit: fields.candidateCommit,
    keptCommit: fields.keptCommit ?? null,
    bestCommit: fields.bestCommit,
    metric: fields.metric ?? null,
    guards: fields.guards ?? {},
    best: fields.best,
    judgement: fields.judgement ?? null,
    samples,
    scopeViolations: fields.scopeViolations ?? [],
    changedFiles: fields.changedFiles ?? [],
    reason: fields.reason,
    proposer: fields.proposer,
    durations: { proposeMs: timing.proposeMs, evaluateMs, totalMs, overheadMs: totalMs - evaluateMs },
    traceDir: relative(state.paths.dir, timing.trace),
    startedAt: timing.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
}

/** Experiment 0: the base commit measured alone, the reference every later experiment builds on. */
async function measureBaseline(state: RunState): Promise<ExperimentRecord> {
  const { config, run } = state;
  const startedAt = new Date();
  const t0 = performance.now();
  const trace = traceDir(state.paths, 0);
  await mkdir(trace, { recursive: true });
  await prepareWorktree(state.repo, state.measure.worktrees.baseline, run.baseCommit);
  const { samples, failure } = await state.measure.evaluator.measureAlone({ side: 'baseline', worktree: state.measure.worktrees.baseline, commit: run.baseCommit }, trace);
  const metricOf = (name: string) => mean(sampleValues(samples, 'baseline', name));
  const metric = failure ? null : metricOf(config.metric.name);
  return experimentRecord(
    state,
    {
      experiment: 0,
      status: failure?.status ?? 'keep',
      description: 'baseline',
      parentCommit: run.baseCommit,
      candidateCommit: run.baseCommit,
      keptCommit: failure ? null : run.baseCommit,
      bestCommit: run.baseCommit,
      metric,
      guards: failure ? {} : Object.fromEntries(config.guards.map((g) => [g.name, metricOf(g.name)])),
      best: metric,
      samples,
      reason: failure?.reason ?? null,
      proposer: { kind: 'baseline', notes: {} },
    },
    { startedAt, t0, proposeMs: 0, trace },
  );
}

/** Proposes, checks scope, measures and judges experiment `k`; records it and moves the run branch on a keep. */
async function runExperiment(state: RunState, k: number): Promise<ExperimentRecord | 'exhausted' | 'interrupted'> {
  const { config, repo, options } = state;
  const startedAt = new Date();
  const t0 = performance.now();
  const trace = traceDir(state.paths, k);
  await mkdir(trace, { recursive: true });
  const best = bestOf(state.experiments);

  // Both sides start from the best commit; the proposer then edits the candidate's copy.
  await Promise.all([prepareWorktree(repo, state.measure.worktrees.candidate, best.commit), prepareWorktree(repo, state.measure.worktrees.baseline, best.commit)]);
  const proposed = await proposeCandidate({
    proposer: state.proposer,
    config,
    worktree: state.measure.worktrees.candidate,
    parent: best.commit,
    experiment: k,
    history: state.experiments,
    goal: options.goal,
    signal: options.signal,
    trace,
  });
  if (proposed.kind === 'failed') {
    // The proposer gave up (its answers never applied): recorded invalid, nothing was committed or measured.
    return experimentRecord(
      state,
      {
        experiment: k,
        status: 'invalid',
        description: '(no proposal)',
        parentCommit: best.commit,
        candidateCommit: null,
        bestCommit: best.commit,
        best: best.metric,
        reason: proposed.reason,
        proposer: { kind: state.proposer.kind, notes: proposed.notes },
      },
      { startedAt, t0, proposeMs: proposed.proposeMs, trace },
    );
  }
  if (proposed.kind !== 'proposed') return proposed.kind;
  const { proposal, candidate, proposeMs } = proposed;
  const cachedBaseline = config.evaluate.baseline === 'cached' ? samplesOfBest(state.experiments, best.commit) : undefined;
  const measured = checkRunBase(state, await measureCandidate(state.measure, best.commit, candidate, trace, { checkedOut: true, cachedBaseline }));
  if (options.signal?.aborted) return 'interrupted';
  const { judgement, samples } = measured;
  const measuredMean = judgement && judgement.verdict !== 'invalid' ? judgement.candidate.mean : null;
  // The ledger's head now is the `prev` this experiment's record gets when runLoop appends it next: the trailer names it.
  const message = judgement && keptCommitMessage({ hypothesis: proposal.hypothesis, experiment: k, judgement, metric: config.metric.name, ledgerHead: state.ledger.head });
  const kept = measured.status === 'keep' && message ? await recommit(repo, candidate, best.commit, message) : null;
  return experimentRecord(
    state,
    {
      experiment: k,
      status: measured.status,
      description: proposal.hypothesis,
      parentCommit: best.commit,
      candidateCommit: candidate,
      keptCommit: kept,
      bestCommit: kept ?? best.commit,
      metric: measuredMean,
      guards: Object.fromEntries((judgement?.guards ?? []).map((g) => [g.name, g.candidate])),
      best: kept ? measuredMean : best.metric,
      judgement,
      samples,
      scopeViolations: measured.scopeViolations,
      changedFiles: measured.changedFiles,
      reason: measured.reason,
      proposer: { kind: state.proposer.kind, notes: proposal.notes },
    },
    { startedAt, t0, proposeMs, trace, evaluateMs: measured.evaluateMs },
  );
}

/**
 * The local loop: measure the base, then propose → check scope → measure paired → judge → keep or
 * discard → record, until the budget, the wall time, too many failures in a row, or the signal.
 */
export async function runLoop(options: RunOptions): Promise<RunResult> {
  const { state, resumed } = await openRun(options);
  const { config, paths, run } = state;
  const now = options.now ?? Date.now;
  // A resumed run continues to the budget it started with, unless --experiments names another (said at the start).
  const recorded = run.experiments ?? config.budget.experiments;
  const budget = options.experiments ?? recorded;
  const emit = options.onEvent ?? (() => undefined);
  const startedAt = now();
  const previousMs = state.experiments.reduce((sum, e) => sum + e.durations.totalMs, 0);
  const elapsed = () => previousMs + (now() - startedAt);
  emit({ type: 'start', run, paths, resumed, nextExperiment: state.experiments.length, budget, warnings: configWarnings(config), ...(resumed && budget !== recorded ? { budgetWas: recorded } : {}) });

  const stop = async (reason: string, outcome: RunResult['outcome'] = 'completed'): Promise<RunResult> => {
    let confirmation: ConfirmationRecord | null = null;
    if (outcome !== 'interrupted' && state.experiments.length > 0) {
      confirmation = await confirmRun(state, () => emit({ type: 'confirmation-start' }));
      // Cut short, it is not recorded and nothing stops: --resume ends the run again, confirmation and all.
      if (options.signal?.aborted) return stop('interrupted', 'interrupted');
      if (confirmation) {
        await state.ledger.append(confirmation);
        emit({ type: 'confirmation', record: confirmation });
      }
    }
    if (outcome !== 'interrupted') await state.ledger.append({ type: 'stop', reason, at: new Date(now()).toISOString() });
    if (state.experiments.length > 0) await writeDerivedFiles(state, confirmation);
    emit({ type: 'stop', reason });
    return { run, experiments: state.experiments, confirmation, paths, stopReason: reason, outcome };
  };
  const report = (record: ExperimentRecord) => {
    const decided = state.experiments.filter((e) => e.experiment > 0 && (e.status === 'keep' || e.status === 'discard' || e.status === 'invalid' || e.status === 'crash'));
    const kept = decided.filter((e) => e.status === 'keep').length;
    emit({ type: 'experiment', record, best: record.best, baseline: state.experiments[0]?.metric ?? null, keepRate: decided.length ? kept / decided.length : 0, elapsedMs: elapsed(), budget });
  };

  if (state.experiments.length === 0) {
    emit({ type: 'experiment-start', experiment: 0 });
    const baseline = await measureBaseline(state);
    if (options.signal?.aborted) return stop('interrupted', 'interrupted');
    await record(state, baseline);
    report(baseline);
    if (baseline.status !== 'keep') return stop(`the baseline could not be measured: ${baseline.reason}`, 'failed');
  }
  if (state.experiments[0]!.status !== 'keep') return stop(`the baseline could not be measured: ${state.experiments[0]!.reason}`, 'failed');

  for (let k = state.experiments.length; ; k++) {
    if (options.signal?.aborted) return stop('interrupted', 'interrupted');
    if (k > budget) return stop(`budget of ${plural(budget, 'experiment')} spent`);
    if (config.budget.wall_time !== undefined && elapsed() >= config.budget.wall_time) return stop('wall_time budget spent');
    const spent = state.experiments.reduce((sum, e) => sum + (typeof e.proposer.notes.cost_usd === 'number' ? e.proposer.notes.cost_usd : 0), 0);
    if (config.budget.max_cost !== undefined && spent >= config.budget.max_cost) return stop(`budget.max_cost of $${config.budget.max_cost} spent`);
    const tail = state.experiments.slice(-config.budget.max_failures);
    if (tail.length === config.budget.max_failures && tail.every((e) => e.experiment > 0 && (e.status === 'invalid' || e.status === 'crash'))) {
      return stop(`${config.budget.max_failures} invalid experiments in a row (budget.max_failures): see ${relative(state.repo, paths.traces)}`, 'failed');
    }
    emit({ type: 'experiment-start', experiment: k });
    const outcome = await runExperiment(state, k);
    // An experiment cut short by the signal is not recorded: --resume runs it again in full.
    if (outcome === 'interrupted' || options.signal?.aborted) return stop('interrupted', 'interrupted');
    if (outcome === 'exhausted') return stop('the proposer has nothing left to propose');
    await record(state, outcome);
    if (outcome.keptCommit) await setBranch(state.repo, run.branch, outcome.keptCommit, outcome.parentCommit);
    report(outcome);
  }
}
