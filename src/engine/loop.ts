import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { againstRunBase, decideExperiment, LEDGER_STATUS } from '../core/judge/decision.js';
import { keptCommitMessage } from '../core/ledger/kept-commit.js';
import type { ConfirmationRecord, ExperimentRecord, RunRecord, RunSample } from '../core/ledger/records.js';
import type { Proposal } from '../core/propose/proposer.js';
import { proposalCommitMessage } from '../core/protocol/protocol.js';
import { formatPercent } from '../core/config/units.js';
import { renderProgressChart } from '../core/render/chart.js';
import { renderMarkdownReport, renderResultsTsv } from '../core/render/report.js';
import { mean } from '../core/judge/stats.js';
import { plural, shortSha } from '../core/render/markdown.js';
import { configWarnings } from '../core/render/config-summary.js';
import { measureCandidate, type MeasureContext, type Measurement } from './measure.js';
import { sampleValues } from '../core/judge/judge.js';
import { proposeCandidate } from './propose.js';
import { recommit, setBranch } from './git.js';
import { prepareWorktree, rebaseCommit } from './worktrees.js';
import { RepoGuard } from './repo-guard.js';
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

/** When an experiment's own work (proposal, measurement, re-measurement) ended: its record's `finishedAt` and `totalMs`, however long it then waited to be recorded. */
interface Ended {
  perf: number;
  at: Date;
}

function endedNow(): Ended {
  return { perf: performance.now(), at: new Date() };
}

/**
 * The time experiments were in flight, from their records' `startedAt` and `finishedAt`: spans that overlap
 * (experiments side by side) count once. What a resumed run has already spent of `budget.wall_time`.
 */
function busyMs(experiments: readonly ExperimentRecord[]): number {
  const spans = experiments.map((e) => [Date.parse(e.startedAt), Date.parse(e.finishedAt)] as const).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let until = -Infinity;
  for (const [from, to] of spans) {
    if (to <= until) continue;
    total += to - Math.max(from, until);
    until = to;
  }
  return total;
}

/** What differs between experiment records; the rest {@link experimentRecord} fills in. */
type ExperimentFields = Pick<ExperimentRecord, 'experiment' | 'status' | 'description' | 'parentCommit' | 'candidateCommit' | 'bestCommit' | 'best' | 'reason' | 'proposer'> &
  Partial<Pick<ExperimentRecord, 'keptCommit' | 'metric' | 'guards' | 'judgement' | 'samples' | 'scopeViolations' | 'changedFiles'>>;

/**
 * One ledger record of experiment `fields.experiment`, begun at `startedAt` (`t0` on the performance clock)
 * and proposed in `proposeMs`: the one place its timings are worked out (the evaluation time is the measurement's
 * own, else the sum of its samples' durations).
 */
function experimentRecord(state: RunState, fields: ExperimentFields, timing: { startedAt: Date; t0: number; proposeMs: number; trace: string; evaluateMs?: number; ended?: Ended }): ExperimentRecord {
  const samples = fields.samples ?? [];
  const evaluateMs = timing.evaluateMs ?? samples.reduce((sum, s) => sum + s.outcome.durationMs, 0);
  const ended = timing.ended ?? endedNow();
  const totalMs = ended.perf - timing.t0;
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
    finishedAt: ended.at.toISOString(),
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

/** Runs tasks one at a time, each once the one asked for before it is done. */
type Exclusive = <T>(task: () => Promise<T>) => Promise<T>;

function oneAtATime(): Exclusive {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** One experiment in flight, in its slot (a pair of worktrees): proposed and measured there, then decided and recorded in experiment order. */
interface Flight {
  k: number;
  slot: MeasureContext;
  startedAt: Date;
  t0: number;
  trace: string;
  /** Set when its measurement starts: from then on a change to the git directory found anywhere voids it ({@link GitWatch}). */
  measuring: boolean;
  gitChanges: Set<string>;
}

/** What an experiment's own work came to, before it is decided: its proposal and the measurement on the parent it started from. */
type Worked =
  | { kind: 'exhausted' }
  | { kind: 'interrupted' }
  | { kind: 'failed'; parent: string; reason: string; notes: Record<string, unknown>; proposeMs: number; ended: Ended }
  | { kind: 'measured'; parent: string; proposal: Proposal; candidate: string; proposeMs: number; measured: Measurement; ended: Ended };

/**
 * With experiments side by side, code runs in one slot (a measured command) while another slot proposes, and
 * they share the repository's git directory. RepoGuard keeps one trusted state of it, taken anew by each
 * proposal: before a proposal takes it, what changed since it was last checked is put back, so that nothing
 * code planted there is ever trusted. A change found in one slot (by a check before a run, after a
 * measurement, around a proposal) may have been made by another slot's code, which cannot be told apart: it
 * voids every experiment measuring then. Inside the sandbox commands do not see the git directory at all;
 * this is for `sandbox: none`, and for what an escape would do. A serial run needs none of it: nothing runs
 * beside the proposal, and each measurement checks what its own code did.
 */
class GitWatch {
  /** How many of the guard's changes since its last trust were already handed out. */
  private seen = 0;

  constructor(
    private readonly guard: RepoGuard,
    private readonly flights: () => Iterable<Flight>,
  ) {}

  /** Hands the changes put back since the last look to every experiment measuring now. */
  look(): void {
    const all = this.guard.changesSinceTrust();
    // Trusted again since (a proposal): the list started over.
    if (all.length < this.seen) this.seen = 0;
    const fresh = all.slice(this.seen);
    this.seen = all.length;
    if (fresh.length === 0) return;
    for (const flight of this.flights()) if (flight.measuring) for (const change of fresh) flight.gitChanges.add(change);
  }

  /** Right before a proposal trusts the git directory: puts back what changed, hands it out, and counts anew (the trust clears the list). */
  async beforeProposal(): Promise<void> {
    await this.guard.restore();
    this.look();
    this.seen = 0;
  }
}

/**
 * Experiment `k`'s own work in its slot: from the run head as it is when its turn to propose comes, propose
 * (one proposal at a time: see {@link GitWatch}), check scope, measure paired and judge. Nothing is recorded
 * or committed to the run here: {@link decide} does that, in experiment order.
 */
async function work(state: RunState, flight: Flight, exclusive: Exclusive, watch: GitWatch | null): Promise<Worked> {
  const { config, repo, options } = state;
  const { k, slot, trace } = flight;
  await mkdir(trace, { recursive: true });
  const { parent, proposed } = await exclusive(async () => {
    const best = bestOf(state.experiments);
    // Both sides start from the best commit; the proposer then edits the candidate's copy.
    await Promise.all([prepareWorktree(repo, slot.worktrees.candidate, best.commit), prepareWorktree(repo, slot.worktrees.baseline, best.commit)]);
    await watch?.beforeProposal();
    const outcome = await proposeCandidate({
      proposer: state.proposer,
      config,
      worktree: slot.worktrees.candidate,
      parent: best.commit,
      experiment: k,
      // The records finished so far (a copy: the run goes on while the proposer reads it).
      history: [...state.experiments],
      goal: options.goal,
      signal: state.signal,
      trace,
    });
    watch?.look();
    return { parent: best.commit, proposed: outcome };
  });
  if (proposed.kind === 'failed') return { kind: 'failed', parent, reason: proposed.reason, notes: proposed.notes, proposeMs: proposed.proposeMs, ended: endedNow() };
  if (proposed.kind === 'exhausted' || proposed.kind === 'interrupted') return { kind: proposed.kind };
  const cachedBaseline = config.evaluate.baseline === 'cached' ? samplesOfBest(state.experiments, parent) : undefined;
  flight.measuring = true;
  const measured = checkRunBase(state, await measureCandidate(slot, parent, proposed.candidate, trace, { checkedOut: true, cachedBaseline }));
  watch?.look();
  return { kind: 'measured', parent, proposal: proposed.proposal, candidate: proposed.candidate, proposeMs: proposed.proposeMs, measured, ended: endedNow() };
}

/** The trace subfolder of a stale winner's second measurement, on the run head. */
const REBASED_TRACE = 'rebased';

/** `experiment 3 was kept`, `experiments 3 and 4 were kept`: the keeps since `parent`, which made it stale. */
function keptSince(experiments: readonly ExperimentRecord[], parent: string): string {
  const from = experiments.findLastIndex((e) => e.keptCommit === parent);
  const kept = experiments.slice(from + 1).filter((e) => e.keptCommit !== null).map((e) => e.experiment);
  return kept.length === 1 ? `experiment ${kept[0]} was kept` : `experiments ${kept.slice(0, -1).join(', ')} and ${kept.at(-1)} were kept`;
}

/**
 * Decides experiment `flight.k` once every experiment before it is recorded, against the run head as it is
 * now, and makes its record (committing a keep, not yet recorded nor on the run branch).
 *
 * A winner measured on a parent that is no longer the run head (another experiment was kept while it was in
 * flight) is not kept as measured: what would land is its change on the new head, which nobody measured. It
 * is re-measured instead of discarded: side by side, every experiment in flight when one is kept becomes
 * stale, and discarding its gain would throw away a real find (the tune proposer never proposes a point
 * twice, a model rarely repeats itself). Its change is carried over to the head ({@link rebaseCommit}) and
 * measured again, paired against the head, in its own slot; only that measurement decides, and the record is
 * of it (parent, candidate, samples, judgement), its reason naming the first. A change that does not merge
 * onto the head is discarded as stale, with the reason. The head cannot move meanwhile: only this step, in
 * order, moves it.
 */
async function decide(state: RunState, flight: Flight, worked: Extract<Worked, { kind: 'failed' | 'measured' }>, watch: GitWatch | null): Promise<ExperimentRecord | 'interrupted'> {
  const { config, repo } = state;
  const { k } = flight;
  const head = bestOf(state.experiments);
  const timing = { startedAt: flight.startedAt, t0: flight.t0, proposeMs: worked.proposeMs, trace: flight.trace, ended: worked.ended };
  if (worked.kind === 'failed') {
    // The proposer gave up (its answers never applied): recorded invalid, nothing was committed or measured.
    return experimentRecord(
      state,
      {
        experiment: k,
        status: 'invalid',
        description: '(no proposal)',
        parentCommit: worked.parent,
        candidateCommit: null,
        bestCommit: head.commit,
        best: head.metric,
        reason: worked.reason,
        proposer: { kind: state.proposer.kind, notes: worked.notes },
      },
      timing,
    );
  }
  const { proposal } = worked;
  let { measured, parent, candidate } = worked;
  let { evaluateMs } = measured;
  const voidIfTainted = () => {
    if (flight.gitChanges.size === 0 || measured.status === 'invalid' || measured.status === 'crash') return;
    const changes = [...flight.gitChanges].join('; ');
    measured = { ...measured, status: 'invalid', reason: `the repository's git directory was changed while experiments were measured side by side (put back): ${changes}; whose code changed it cannot be told, so every experiment measured then is void` };
  };
  voidIfTainted();
  if (measured.status === 'keep' && parent !== head.commit) {
    const meanwhile = keptSince(state.experiments, parent);
    const first = measured.judgement ? `${formatPercent(measured.judgement.deltaRelative)} against it` : 'kept';
    const rebased = await rebaseCommit(repo, { parent, candidate }, head.commit, proposalCommitMessage(proposal.hypothesis, k));
    if (rebased.kind !== 'rebased') {
      const why = rebased.kind === 'empty' ? 'is on the run head already' : `does not merge onto the run head ${shortSha(head.commit)} (${rebased.paths.join(', ')} changed on both sides)`;
      measured = { ...measured, status: 'discard', reason: `stale: measured on ${shortSha(parent)} (${first}), but ${meanwhile} while it ran, and its change ${why}; not kept unmeasured` };
    } else {
      const trace = join(flight.trace, REBASED_TRACE);
      await mkdir(trace, { recursive: true });
      const cachedBaseline = config.evaluate.baseline === 'cached' ? samplesOfBest(state.experiments, head.commit) : undefined;
      const again = checkRunBase(state, await measureCandidate(flight.slot, head.commit, rebased.commit, trace, { cachedBaseline }));
      if (state.signal.aborted) return 'interrupted';
      watch?.look();
      const note = `re-measured on the run head ${shortSha(head.commit)}, since ${meanwhile} while it ran (measured first on ${shortSha(parent)}: ${first}; traces in ${REBASED_TRACE}/)`;
      measured = { ...again, reason: [note, again.reason].filter(Boolean).join('; ') };
      evaluateMs += again.evaluateMs;
      parent = head.commit;
      candidate = rebased.commit;
      timing.ended = endedNow();
      voidIfTainted();
    }
  }
  const { judgement, samples } = measured;
  const measuredMean = judgement && judgement.verdict !== 'invalid' ? judgement.candidate.mean : null;
  // The ledger's head now is the `prev` this experiment's record gets when runLoop appends it next: the trailer names it.
  const message = judgement && keptCommitMessage({ hypothesis: proposal.hypothesis, experiment: k, judgement, metric: config.metric.name, ledgerHead: state.ledger.head });
  // A keep's parent is the run head by now (re-measured on it if it was not).
  const kept = measured.status === 'keep' && message ? await recommit(repo, candidate, parent, message) : null;
  return experimentRecord(
    state,
    {
      experiment: k,
      status: measured.status,
      description: proposal.hypothesis,
      parentCommit: parent,
      candidateCommit: candidate,
      keptCommit: kept,
      bestCommit: kept ?? head.commit,
      metric: measuredMean,
      guards: Object.fromEntries((judgement?.guards ?? []).map((g) => [g.name, g.candidate])),
      best: kept ? measuredMean : head.metric,
      judgement,
      samples,
      scopeViolations: measured.scopeViolations,
      changedFiles: measured.changedFiles,
      reason: measured.reason,
      proposer: { kind: state.proposer.kind, notes: proposal.notes },
    },
    { ...timing, evaluateMs },
  );
}

/**
 * The local loop: measure the base, then propose → check scope → measure paired → judge → keep or
 * discard → record, until the budget, the wall time, too many failures in a row, or the signal.
 *
 * With `budget.parallel` above 1 and `evaluate.load_sensitive: false` ({@link localParallel}), up to that many
 * experiments are in flight at once, each in its own pair of worktrees, each from the run head as it was when
 * it proposed. They are decided and recorded in experiment order (the ledger is a chain), a stale winner
 * re-measured on the head first ({@link decide}). The budgets are checked before each start, against the
 * records finished so far: what is in flight then still finishes and is recorded (so `max_failures` and
 * `max_cost` may be passed by up to `parallel - 1`). Interrupted, nothing in flight is recorded; `--resume`
 * runs it again.
 */
export async function runLoop(options: RunOptions): Promise<RunResult> {
  const { state, resumed } = await openRun(options);
  const { config, paths, run } = state;
  const now = options.now ?? Date.now;
  // A resumed run continues to the budget it started with (openRun refuses another --experiments; a ledger from before
  // the run record kept its flags takes the one given, said at the start).
  const recorded = run.experiments ?? config.budget.experiments;
  const budget = options.experiments ?? recorded;
  const emit = options.onEvent ?? (() => undefined);
  const startedAt = now();
  const previousMs = busyMs(state.experiments);
  const elapsed = () => previousMs + (now() - startedAt);
  const parallel = state.slots.length;
  emit({ type: 'start', run, paths, resumed, nextExperiment: state.experiments.length, budget, warnings: configWarnings(config), parallel, ...(resumed && budget !== recorded ? { budgetWas: recorded } : {}) });

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

  /** Why no further experiment may start, or null: asked before each start, of the records finished so far. */
  const noMore = (k: number): { reason: string; outcome: RunResult['outcome'] } | null => {
    if (options.signal?.aborted) return { reason: 'interrupted', outcome: 'interrupted' };
    if (k > budget) return { reason: `budget of ${plural(budget, 'experiment')} spent`, outcome: 'completed' };
    if (config.budget.wall_time !== undefined && elapsed() >= config.budget.wall_time) return { reason: 'wall_time budget spent', outcome: 'completed' };
    const spent = state.experiments.reduce((sum, e) => sum + (typeof e.proposer.notes.cost_usd === 'number' ? e.proposer.notes.cost_usd : 0), 0);
    if (config.budget.max_cost !== undefined && spent >= config.budget.max_cost) return { reason: `budget.max_cost of $${config.budget.max_cost} spent`, outcome: 'completed' };
    const tail = state.experiments.slice(-config.budget.max_failures);
    if (tail.length === config.budget.max_failures && tail.every((e) => e.experiment > 0 && (e.status === 'invalid' || e.status === 'crash'))) {
      return { reason: `${plural(config.budget.max_failures, 'invalid experiment')} in a row (budget.max_failures): see ${relative(state.repo, paths.traces)}`, outcome: 'failed' };
    }
    return null;
  };

  const exclusive = oneAtATime();
  const inFlight = new Map<number, { flight: Flight; work: Promise<Worked> }>();
  const watch = parallel > 1 ? new GitWatch(await RepoGuard.of(state.repo), () => [...inFlight.values()].map((f) => f.flight)) : null;
  /** Waits for every experiment still in flight, and forgets them: none is recorded. */
  const abandon = async () => {
    await Promise.allSettled([...inFlight.values()].map((f) => f.work));
    inFlight.clear();
  };
  const free = [...state.slots];
  let next = state.experiments.length;
  let ending: { reason: string; outcome: RunResult['outcome'] } | null = null;
  for (;;) {
    while (!ending && free.length > 0) {
      ending = noMore(next);
      if (ending) break;
      const flight: Flight = { k: next, slot: free.shift()!, startedAt: new Date(), t0: performance.now(), trace: traceDir(paths, next), measuring: false, gitChanges: new Set() };
      emit({ type: 'experiment-start', experiment: next });
      const working = work(state, flight, exclusive, watch);
      // Awaited in turn below; a failure meanwhile is not an unhandled rejection.
      working.catch(() => undefined);
      inFlight.set(next, { flight, work: working });
      next++;
    }
    // In flight are the experiments from the next one to record on: none means the loop ends.
    const current = inFlight.get(state.experiments.length);
    if (!current) return stop(ending?.reason ?? 'interrupted', ending?.outcome ?? 'interrupted');
    let outcome: ExperimentRecord | 'exhausted' | 'interrupted';
    try {
      const worked = await current.work;
      inFlight.delete(current.flight.k);
      outcome = worked.kind === 'exhausted' || worked.kind === 'interrupted' ? worked.kind : options.signal?.aborted ? 'interrupted' : await decide(state, current.flight, worked, watch);
      // An experiment cut short by the signal is not recorded: --resume runs it again in full, and those still in flight.
      if (outcome === 'interrupted' || options.signal?.aborted) {
        await abandon();
        return stop('interrupted', 'interrupted');
      }
      if (outcome === 'exhausted') {
        // The experiments after it are not recorded either: the ledger numbers them without a gap.
        await abandon();
        ending = { reason: 'the proposer has nothing left to propose', outcome: 'completed' };
        continue;
      }
      const done = outcome;
      // With the run branch, under the proposals' lock: a proposal trusts the refs as they are (see GitWatch).
      await exclusive(async () => {
        await record(state, done);
        if (done.keptCommit) await setBranch(state.repo, run.branch, done.keptCommit, done.parentCommit);
      });
    } catch (error) {
      // Not left running: the others in flight are stopped and waited for before the error is thrown.
      state.cancel();
      await abandon();
      throw error;
    }
    report(outcome);
    free.push(current.flight.slot);
  }
}
