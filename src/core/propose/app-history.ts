/**
 * The proposer's memory in the App flow. The App keeps no ledger: what a run measured is in its state (in the run pull
 * request's body) and its experiment commits. The propose job rebuilds ledger records from both, so that an App run's
 * proposer learns from its run as a local one does from its ledger.
 *
 * The state is read UNVERIFIED: the Action holds no key to check the App's signature, so whoever can edit the run pull
 * request's body can make it say anything. That is safe because these records are only the proposer's input, like the
 * goal text: the App acts on its own verified state alone and re-judges every experiment from the raw samples of its
 * evaluation, so a forged history can steer what is proposed next, never what is kept.
 */
import { isInFlight, MAX_EXPERIMENTS, runBaseline, type AppExperiment, type AppExperimentState, type AppRunState } from '../app/state.js';
import { LEDGER_STATUS } from '../judge/decision.js';
import type { ExperimentRecord, ExperimentStatus, Judgement } from '../ledger/records.js';
import { runBranch } from '../protocol/protocol.js';
import type { Point } from './tune-search.js';

type DecidedState = Exclude<AppExperimentState, 'proposing' | 'evaluating'>;
type DecidedExperiment = AppExperiment & { state: DecidedState };

/** The ledger status of a decided App experiment; a gain held for review is not kept, so it counts as discarded, as in the local loop. */
const STATUS: Record<DecidedState, ExperimentStatus> = {
  kept: LEDGER_STATUS.keep,
  discarded: LEDGER_STATUS.discard,
  invalid: LEDGER_STATUS.invalid,
  'needs-review': LEDGER_STATUS.review,
};

export interface AppHistoryInput {
  state: AppRunState;
  /** The experiment being proposed: never its own history. */
  experiment: number;
  /** The proposer's kind (`config.proposer.kind`), recorded as each experiment's proposer. */
  proposer: string;
  /**
   * The tuned point in each commit (`tune`), read from the checkout. An experiment whose head commit has none is
   * skipped: without its point it teaches the search nothing. Null for proposers that tune no file.
   */
  points: ReadonlyMap<string, Point> | null;
}

export interface AppHistory {
  /** Ledger records, experiment 0 (the run's base) first, in experiment order. */
  records: ExperimentRecord[];
  /** Decided experiments left out because the point of their head commit is not known. */
  skipped: AppExperiment[];
  /** Decided experiments left out beyond {@link MAX_EXPERIMENTS} (the oldest): more than the App ever runs. */
  dropped: number;
}

/** The decided experiments that are history for `experiment`: not in flight, not itself, the latest {@link MAX_EXPERIMENTS}. */
function decided(state: AppRunState, experiment: number): { experiments: DecidedExperiment[]; dropped: number } {
  const all = state.experiments.filter((e): e is DecidedExperiment => !isInFlight(e) && e.k !== experiment).sort((a, b) => a.k - b.k);
  return { experiments: all.slice(-MAX_EXPERIMENTS), dropped: Math.max(0, all.length - MAX_EXPERIMENTS) };
}

/**
 * Why `state` is not the state of the run that dispatched this proposal (experiment `experiment` of run `run`, from
 * `parentSha`), or null when it is. The App records an experiment before it dispatches it, so its state lists it.
 */
export function runStateMismatch(state: AppRunState, run: string, experiment: number, parentSha: string): string | null {
  if (state.runBranch !== runBranch(run)) return `the state is of ${state.runBranch}, not ${runBranch(run)}`;
  const listed = state.experiments.find((e) => e.k === experiment);
  if (!listed) return `the state lists no experiment ${experiment}`;
  if (listed.parentSha !== parentSha) return `the state has experiment ${experiment} start from ${listed.parentSha.slice(0, 12)}, not from ${parentSha.slice(0, 12)}`;
  return null;
}

/** The commits whose tuned points {@link appRunHistory} reads: the base, then each decided experiment's parent and head, once each. */
export function historyCommits(state: AppRunState, experiment: number): string[] {
  const commits = new Set([state.baseSha]);
  for (const e of decided(state, experiment).experiments) {
    commits.add(e.parentSha);
    if (e.headSha) commits.add(e.headSha);
  }
  return [...commits];
}

/** A figure of the state as the ledger holds it: a missing one is NaN ("not measured"). */
function figure(value: number | null | undefined): number {
  return value ?? Number.NaN;
}

/** The judge's answer as far as the state keeps it: verdict and figures; samples, interval, guards and reasons it does not keep. */
function judgementOf(e: AppExperiment): Judgement | null {
  if (!e.verdict) return null;
  return {
    verdict: e.verdict,
    keep: e.state === 'kept',
    suspicious: e.state === 'needs-review',
    baseline: { mean: figure(e.baseline), samples: [] },
    candidate: { mean: figure(e.candidate), samples: [] },
    delta: figure(e.delta),
    deltaRelative: figure(e.deltaRelative),
    interval: null,
    singleRun: false,
    paired: true,
    guards: [],
    reasons: [],
  };
}

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The run's history as ledger records, for the proposer of experiment `input.experiment`: experiment 0 is the run's
 * base (its baseline, and its point as `notes.params`), then every decided experiment (kept, discarded, invalid, or
 * held for review) with its hypothesis, status, verdict and figures, and, for `tune`, the point of its head commit
 * (`notes.params`) and of its parent (`notes.from`). Experiments in flight are not history yet. How each point was
 * drawn (`notes.mode`) is not in the state, so every step counts as a local one. Pure.
 */
export function appRunHistory(input: AppHistoryInput): AppHistory {
  const { state, points } = input;
  const { experiments, dropped } = decided(state, input.experiment);
  const goal = state.metric.goal;
  let best = runBaseline(state);
  let bestCommit = state.baseSha;
  const basePoint = points?.get(state.baseSha);
  const records: ExperimentRecord[] = [
    record({
      experiment: 0,
      status: 'keep',
      description: 'baseline',
      parentCommit: state.baseSha,
      candidateCommit: state.baseSha,
      keptCommit: state.baseSha,
      bestCommit,
      metric: best,
      best,
      judgement: null,
      reason: null,
      proposer: { kind: 'baseline', notes: basePoint ? { params: basePoint } : {} },
      startedAt: state.startedAt,
    }),
  ];
  const skipped: AppExperiment[] = [];
  for (const e of experiments) {
    if (e.state === 'kept' && finite(e.candidate) && (best === null || (goal === 'minimize' ? e.candidate < best : e.candidate > best))) {
      best = e.candidate;
      bestCommit = e.headSha ?? bestCommit;
    }
    const params = e.headSha ? points?.get(e.headSha) : undefined;
    if (points && e.headSha && !params) {
      skipped.push(e);
      continue;
    }
    const from = points?.get(e.parentSha);
    records.push(
      record({
        experiment: e.k,
        status: STATUS[e.state],
        description: e.hypothesis ?? '',
        parentCommit: e.parentSha,
        candidateCommit: e.headSha ?? null,
        keptCommit: e.state === 'kept' ? (e.headSha ?? null) : null,
        bestCommit,
        metric: finite(e.candidate) ? e.candidate : null,
        best,
        judgement: judgementOf(e),
        reason: e.reason ?? null,
        proposer: { kind: input.proposer, notes: { ...(params ? { params } : {}), ...(from ? { from } : {}) } },
        startedAt: e.dispatchedAt,
      }),
    );
  }
  return { records, skipped, dropped };
}

type RecordFields = Pick<
  ExperimentRecord,
  'experiment' | 'status' | 'description' | 'parentCommit' | 'candidateCommit' | 'keptCommit' | 'bestCommit' | 'metric' | 'best' | 'judgement' | 'reason' | 'proposer' | 'startedAt'
>;

/** A ledger record of what the state says; what only a local run records (samples, guards, files, timings, trace) is empty. */
function record(fields: RecordFields): ExperimentRecord {
  return {
    type: 'experiment',
    ...fields,
    guards: {},
    samples: [],
    scopeViolations: [],
    changedFiles: [],
    durations: { proposeMs: 0, evaluateMs: 0, totalMs: 0, overheadMs: 0 },
    traceDir: '',
    finishedAt: fields.startedAt,
  };
}
