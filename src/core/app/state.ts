/**
 * The state of one App run, kept in GitHub itself (hidden in the run pull request's body) so the App
 * is stateless: any instance can pick a run up from the next event.
 */
import { runBranch } from '../protocol/protocol.js';
import type { Goal } from '../config/config-schema.js';
import { z } from 'zod';
import { verdictSchema } from '../ledger/records.js';
import { plural } from '../render/markdown.js';
import { MAX_PARALLEL } from '../config/config-schema.js';

/** Version of the encoded state; bumped on any change of its shape (the schema is strict). */
export const STATE_VERSION = 1;

/** A run's state lives in its pull request body, which bounds how long a run the App can keep. */
export const MAX_EXPERIMENTS = 200;

const sha = z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, 'expected a full git commit SHA');
const count = z.number().int().min(1);
// JSON turns NaN and Infinity into null, so measured figures are finite numbers or null.
const figure = z.number().nullable().optional();

/** Where one experiment of an App run stands. */
export const appExperimentStateSchema = z.enum([
  /** The propose workflow was dispatched; no branch yet. */
  'proposing',
  /** The experiment pull request is open; CI evaluates it. */
  'evaluating',
  'kept',
  'discarded',
  'invalid',
  /** A suspicious gain: left open for a human. */
  'needs-review',
]);
export type AppExperimentState = z.output<typeof appExperimentStateSchema>;

export const appExperimentSchema = z.strictObject({
  k: count,
  state: appExperimentStateSchema,
  /** The run branch head the experiment started from. */
  parentSha: sha,
  dispatchedAt: z.string().min(1),
  /** How often its proposal was dispatched: the sweep dispatches a lost one once more. Missing: once. */
  dispatches: count.optional(),
  hypothesis: z.string().optional(),
  /** Experiment branch and pull request, once proposed. */
  branch: z.string().min(1).optional(),
  pullRequest: count.optional(),
  headSha: sha.optional(),
  /** When its pull request was opened (ISO 8601): the sweep gives its evaluation that long to start. */
  openedAt: z.string().min(1).optional(),
  /** Measured figures, once evaluated. */
  baseline: figure,
  candidate: figure,
  delta: figure,
  deltaRelative: figure,
  verdict: verdictSchema.optional(),
  /** Why it is invalid or was discarded, for people. */
  reason: z.string().optional(),
  /** The App's sticky comment on the experiment pull request, once posted. */
  commentId: count.optional(),
  /** Links: the proposal workflow run, the evaluation workflow run, the result artifact. */
  proposalRun: z.string().optional(),
  evaluationRun: z.string().optional(),
  artifact: z.string().optional(),
});
export type AppExperiment = z.output<typeof appExperimentSchema>;

/**
 * The run branch's head as the App last knew it, and the id of the App's `autoloop/gate` check run on it when the App
 * wrote one: so that a dispatch after a discard need not read the branch, and a gate of the head need not be looked up.
 */
export const runHeadSchema = z.strictObject({
  sha,
  /** The App's gate on `sha`, from the answer to the request that created it (a check run id never changes). */
  gate: count.optional(),
});
export type RunHead = z.output<typeof runHeadSchema>;

/**
 * The App's judgement of the run pull request's own evaluation: the run head measured against the default branch, the
 * confirmation of the whole run that `autoloop/gate` reports on the run head.
 */
export const runConfirmationSchema = z.strictObject({
  /** The run head measured, and the base it was measured against (the run pull request's). */
  headSha: sha,
  baseSha: sha,
  verdict: verdictSchema,
  baseline: figure,
  candidate: figure,
  delta: figure,
  deltaRelative: figure,
  /** The confidence interval of the delta; null with one run per side. */
  interval: z.strictObject({ low: z.number().nullable(), high: z.number().nullable(), level: z.number() }).nullable().optional(),
  /** Why the evaluation could not be verified or judged, for people. */
  reason: z.string().optional(),
  evaluationRun: z.string().optional(),
  artifact: z.string().optional(),
});
export type RunConfirmation = z.output<typeof runConfirmationSchema>;

/** A run's state, strictly (unknown keys are corruption, not news): the source of its type and how it is decoded. */
export const appRunStateSchema = z
  .strictObject({
    version: z.literal(STATE_VERSION),
    /** The issue (or pull request) whose `/optimize` started the run. */
    issue: count,
    runBranch: z.string().min(1),
    /** The default branch the run started from and will be merged into. */
    baseBranch: z.string().min(1),
    /** The default branch's commit the run started from: its config and protected files are the run's. */
    baseSha: sha,
    /**
     * The run branch's first commit: an empty commit on `baseSha` (the same tree), which GitHub requires of the run
     * pull request. An experiment measured on it was measured on the base. Missing in states written before it existed.
     */
    startSha: sha.optional(),
    /** Where the run branch is ({@link runHeadSchema}). Missing in states written before it existed: then it is read from GitHub. */
    runHead: runHeadSchema.optional(),
    /** The last judged evaluation of the run pull request itself ({@link runConfirmationSchema}), once there is one. */
    confirmation: runConfirmationSchema.optional(),
    /** The run pull request (the dashboard). */
    pullRequest: count.nullable(),
    /** The status comment on the issue. */
    statusComment: count.nullable(),
    metric: z.strictObject({ name: z.string().min(1), goal: z.enum(['minimize', 'maximize']) }),
    goalText: z.string(),
    startedBy: z.string().min(1),
    /** The `/optimize` comment that started the run: a redelivery of it has no second effect. */
    commandComment: count.nullable(),
    /** SHA-256 of the base commit's protected files: every experiment's result must have been measured with them. */
    protectedHash: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
    startedAt: z.string().min(1),
    budget: z.strictObject({ experiments: count, parallel: count, maxFailures: count }),
    status: z.enum(['running', 'stopping', 'finished']),
    stopReason: z.string().nullable(),
    experiments: z.array(appExperimentSchema),
  })
  .superRefine((state, ctx) => {
    const seen = new Set<number>();
    state.experiments.forEach((experiment, index) => {
      if (seen.has(experiment.k)) ctx.addIssue({ code: 'custom', path: ['experiments', index, 'k'], message: `experiment ${experiment.k} appears twice` });
      seen.add(experiment.k);
    });
  });
export type AppRunState = z.output<typeof appRunStateSchema>;

/** What {@link newRunState} needs: the run's origin, its metric and budget, and who started it when. */
export interface NewRunInput {
  issue: number;
  baseBranch: string;
  baseSha: string;
  metric: { name: string; goal: Goal };
  goalText: string;
  startedBy: string;
  commandComment?: number | null;
  protectedHash?: string | null;
  /** ISO 8601 time the run started. */
  startedAt: string;
  budget: { experiments: number; parallel: number; maxFailures: number };
  pullRequest?: number | null;
  statusComment?: number | null;
}

/** A run that has just started: running, no experiments yet, on the run branch `autoloop/<issue>/run`. */
export function newRunState(input: NewRunInput): AppRunState {
  return {
    version: 1,
    issue: input.issue,
    runBranch: runBranch(input.issue),
    baseBranch: input.baseBranch,
    baseSha: input.baseSha,
    pullRequest: input.pullRequest ?? null,
    statusComment: input.statusComment ?? null,
    metric: { name: input.metric.name, goal: input.metric.goal },
    goalText: input.goalText,
    startedBy: input.startedBy,
    commandComment: input.commandComment ?? null,
    protectedHash: input.protectedHash ?? null,
    startedAt: input.startedAt,
    budget: { ...input.budget },
    status: 'running',
    stopReason: null,
    experiments: [],
  };
}

/** True while the experiment's proposal or evaluation is still running. */
export function isInFlight(experiment: AppExperiment): boolean {
  return experiment.state === 'proposing' || experiment.state === 'evaluating';
}

/** The number the next dispatched experiment gets: one more than the highest so far, from 1. */
export function nextExperimentNumber(state: AppRunState): number {
  return state.experiments.reduce((max, experiment) => Math.max(max, experiment.k), 0) + 1;
}

/** How many experiments are in flight (proposing or evaluating). */
export function inFlight(state: AppRunState): number {
  return state.experiments.filter(isInFlight).length;
}

/**
 * How many decided experiments in a row, counted back from the highest-numbered decided one, are invalid.
 * In-flight experiments are skipped: they have not failed (yet). Any valid outcome ends the streak.
 */
export function consecutiveFailures(state: AppRunState): number {
  const decided = state.experiments.filter((experiment) => !isInFlight(experiment)).sort((a, b) => b.k - a.k);
  const streak = decided.findIndex((experiment) => experiment.state !== 'invalid');
  return streak === -1 ? decided.length : streak;
}

/**
 * How many experiments to dispatch now: 0 unless running, when the budget is spent (in-flight ones
 * count as spent) or when `max_failures` invalid experiments in a row were reached; else as many as
 * fit both the free parallel slots and the remaining budget.
 */
export function shouldDispatch(state: AppRunState): number {
  if (state.status !== 'running') return 0;
  if (consecutiveFailures(state) >= state.budget.maxFailures) return 0;
  const remaining = state.budget.experiments - state.experiments.length;
  const free = state.budget.parallel - inFlight(state);
  return Math.max(0, Math.min(free, remaining));
}

/** The run with experiment `k` changed by `patch`; the input is not modified. Throws when there is no experiment `k`. */
export function withExperiment(state: AppRunState, k: number, patch: Partial<Omit<AppExperiment, 'k'>>): AppRunState {
  const index = state.experiments.findIndex((experiment) => experiment.k === k);
  if (index === -1) throw new RangeError(`run #${state.issue} has no experiment ${k}`);
  const experiments = state.experiments.slice();
  experiments[index] = { ...experiments[index]!, ...patch, k };
  return { ...state, experiments };
}

/**
 * The run with one more experiment, number {@link nextExperimentNumber}, in state `proposing`; the
 * input is not modified. The caller checks {@link shouldDispatch} first.
 */
export function withNewExperiment(state: AppRunState, parentSha: string, dispatchedAt: string): { state: AppRunState; experiment: AppExperiment } {
  const experiment: AppExperiment = { k: nextExperimentNumber(state), state: 'proposing', parentSha, dispatchedAt };
  return { state: { ...state, experiments: [...state.experiments, experiment] }, experiment };
}

/**
 * The run, finished when it is done: stopping with nothing in flight (the stop reason kept); the
 * budget spent with nothing in flight; or `max_failures` invalid experiments in a row. Reaching the
 * failure limit with experiments still in flight makes the run `stopping` with that reason, so no more
 * are dispatched and the ones in flight are still judged; it finishes when they are. Returns the same
 * object when nothing changes, so the caller can tell whether to write.
 */
export function finishIfDone(state: AppRunState): AppRunState {
  if (state.status === 'finished') return state;
  const busy = inFlight(state);
  if (state.status === 'stopping') {
    return busy === 0 ? { ...state, status: 'finished', stopReason: state.stopReason ?? 'stopped on request' } : state;
  }
  const failures = consecutiveFailures(state);
  if (failures >= state.budget.maxFailures) {
    const reason = `${plural(failures, 'invalid experiment')} in a row (budget.max_failures: ${state.budget.maxFailures})`;
    return { ...state, status: busy === 0 ? 'finished' : 'stopping', stopReason: reason };
  }
  if (busy === 0 && state.experiments.length >= state.budget.experiments) {
    return { ...state, status: 'finished', stopReason: `budget spent: ${plural(state.experiments.length, 'experiment')}` };
  }
  return state;
}

/** True when `a` is strictly better than `b` for the goal. */
function better(a: number, b: number, goal: Goal): boolean {
  return goal === 'minimize' ? a < b : a > b;
}

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The run's baseline: the baseline measured by the lowest-numbered evaluated experiment that started
 * from the run's base commit, or from the run start commit on it (the same tree), or null before one was measured.
 */
export function runBaseline(state: AppRunState): number | null {
  const first = [...state.experiments]
    .sort((a, b) => a.k - b.k)
    .find((experiment) => (experiment.parentSha === state.baseSha || experiment.parentSha === state.startSha) && finite(experiment.baseline));
  return first?.baseline ?? null;
}

/**
 * The best primary metric so far: the best candidate among kept experiments, else the run's baseline
 * ({@link runBaseline}), else null. Kept candidates were each measured against their own parent, so
 * with `parallel` > 1 this is the best measured value, not a measurement of the run branch head.
 */
export function bestValue(state: AppRunState): number | null {
  return bestExperiment(state)?.candidate ?? runBaseline(state);
}

/** The experiment whose kept candidate is {@link bestValue} (the first to reach it), or null when no experiment was kept with a value. */
export function bestExperiment(state: AppRunState): AppExperiment | null {
  let best: AppExperiment | null = null;
  for (const experiment of [...state.experiments].sort((a, b) => a.k - b.k)) {
    if (experiment.state === 'kept' && finite(experiment.candidate) && (best === null || better(experiment.candidate, best.candidate!, state.metric.goal))) {
      best = experiment;
    }
  }
  return best;
}

/**
 * The run with its budget within what the App ever grants: at most {@link MAX_EXPERIMENTS} experiments, at most
 * MAX_PARALLEL in flight, at most as many failures in a row as experiments. Applied to every state read, whatever wrote
 * it (a signed state is the App's, but the bounds do not depend on the key staying secret). Same object when within.
 */
export function clampBudget(state: AppRunState): AppRunState {
  const experiments = Math.min(state.budget.experiments, MAX_EXPERIMENTS);
  const parallel = Math.min(state.budget.parallel, MAX_PARALLEL);
  const maxFailures = Math.min(state.budget.maxFailures, experiments);
  const { budget } = state;
  if (budget.experiments === experiments && budget.parallel === parallel && budget.maxFailures === maxFailures) return state;
  return { ...state, budget: { experiments, parallel, maxFailures } };
}
