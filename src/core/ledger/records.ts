/**
 * The shapes autoloop records: one measured run of the evaluator, the judge's verdict,
 * and the ledger's records, serialised as JSON lines in `ledger.jsonl`. The zod schemas are the
 * source of the types, and the one way a stored record is read back.
 */
import { z } from 'zod';

/**
 * A number as it was measured. JSON has no NaN or Infinity (`JSON.stringify` writes null), so a stored null
 * reads back as NaN: "no value", as it was before it was written.
 */
const measured = z
  .number()
  .nullable()
  .transform((value) => value ?? Number.NaN);
const goalSchema = z.enum(['minimize', 'maximize']);

/** Metric name -> value, as the evaluator reported it. */
export const metricValuesSchema = z.record(z.string(), measured);
export type MetricValues = Record<string, number>;

/** What happened to one command the evaluator ran. */
export const commandOutcomeSchema = z.object({
  command: z.string(),
  /** Exit code, or null when the process was ended by a signal. */
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  durationMs: z.number(),
  /**
   * CPU time (user + system) of the command's whole process tree, measured by autoloop outside the sandbox;
   * only for `evaluate.command`, and absent in ledgers written before it was measured.
   */
  cpuMs: z.number().optional(),
  timedOut: z.boolean(),
  /** Bytes of output dropped from the middle of stdout and stderr to bound memory. */
  droppedBytes: z.number(),
});
export type CommandOutcome = z.output<typeof commandOutcomeSchema>;

/** One run of `evaluate.command` on one side of an experiment. */
export const runSampleSchema = z.object({
  side: z.enum(['baseline', 'candidate']),
  /** 0-based position of this run within its side. */
  index: z.number().int().min(0),
  commit: z.string(),
  /** False when the run crashed, timed out or reported no valid primary metric. */
  ok: z.boolean(),
  /** Why the run is not ok. */
  reason: z.string().optional(),
  metrics: metricValuesSchema,
  outcome: commandOutcomeSchema,
});
export type RunSample = z.output<typeof runSampleSchema>;

export const verdictSchema = z.enum(['improved', 'no-change', 'regressed', 'invalid']);
export type Verdict = z.output<typeof verdictSchema>;

/** A guard metric's comparison. */
export const guardJudgementSchema = z.object({
  name: z.string(),
  goal: goalSchema,
  baseline: measured,
  candidate: measured,
  /** Change in the guard's bad direction, relative to the baseline (positive = worse). */
  regression: measured,
  /** True when the guard stayed within its `max_regression`. */
  held: z.boolean(),
});
export type GuardJudgement = z.output<typeof guardJudgementSchema>;

const sideSchema = z.object({ mean: measured, samples: z.array(z.number()) });

/** The judge's answer for one experiment: pure data derived from the samples and the config. */
export const judgementSchema = z.object({
  verdict: verdictSchema,
  /** True only when the candidate is better, guards held, and it is not suspicious (`decideExperiment` says keep). */
  keep: z.boolean(),
  /** A gain beyond `suspicious_effect`: never kept without a human. */
  suspicious: z.boolean(),
  baseline: sideSchema,
  candidate: sideSchema,
  /** candidate − baseline, in the metric's unit. */
  delta: measured,
  /** delta / |baseline mean|. */
  deltaRelative: measured,
  /** Confidence interval of the delta, or null with one run per side. */
  interval: z.object({ low: measured, high: measured, level: z.number(), method: z.string() }).nullable(),
  /** With one run per side there is no noise estimate: every output says so. */
  singleRun: z.boolean(),
  /** False when the baseline samples were not measured beside the candidate (`evaluate.baseline: cached`): every output says so. */
  paired: z.boolean(),
  guards: z.array(guardJudgementSchema),
  /** Plain sentences explaining the verdict, for people. */
  reasons: z.array(z.string()),
});
export type Judgement = z.output<typeof judgementSchema>;

/** Status column of results.tsv, as in autoresearch. */
export const experimentStatusSchema = z.enum(['keep', 'discard', 'crash', 'invalid']);
export type ExperimentStatus = z.output<typeof experimentStatusSchema>;

/** A path a proposal was not allowed to change. */
export const scopeViolationSchema = z.object({
  path: z.string(),
  change: z.enum(['added', 'modified', 'deleted', 'renamed']),
  /** `unsafe`: an entry no proposal may add whatever the scope (a `.gitattributes`, a symlink leaving the worktree, a gitlink); `pattern` says why. */
  rule: z.enum(['outside-edit', 'protected', 'unsafe']),
  /** The glob or built-in rule that matched. */
  pattern: z.string(),
});
export type ScopeViolation = z.output<typeof scopeViolationSchema>;

/** First line of a ledger: what the run is. */
export const runRecordSchema = z.object({
  type: z.literal('run'),
  version: z.literal(1),
  tag: z.string(),
  /** The run branch that accumulates kept experiments. */
  branch: z.string(),
  baseCommit: z.string(),
  metric: z.object({ name: z.string(), goal: goalSchema }),
  guards: z.array(z.string()),
  configFile: z.string(),
  /** SHA-256 of the config text the run started with. */
  configHash: z.string(),
  /** SHA-256 of the protected files (path and blob id) in the base commit: the evaluator every experiment was pinned to. */
  protectedHash: z.string(),
  /** The experiment budget the run started with (`--experiments`, else `budget.experiments`): what `--resume` continues to. Absent in older ledgers. */
  experiments: z.number().int().min(0).optional(),
  /** The `--goal` the run started with (null: none), which `--resume` keeps. Absent in older ledgers. */
  goal: z.string().nullable().optional(),
  /** Whether the run started with `--accept-suspicious`, which `--resume` keeps. Absent in older ledgers. */
  acceptSuspicious: z.boolean().optional(),
  startedAt: z.string(),
});
export type RunRecord = z.output<typeof runRecordSchema>;

/** One experiment. Experiment 0 is the baseline measurement of the base commit. */
export const experimentRecordSchema = z.object({
  type: z.literal('experiment'),
  experiment: z.number().int().min(0),
  status: experimentStatusSchema,
  /** The proposer's hypothesis, e.g. `lr 0.01 → 0.02`. */
  description: z.string(),
  parentCommit: z.string(),
  /** The commit that was measured. */
  candidateCommit: z.string().nullable(),
  /** The commit on the run branch when kept (same tree as the candidate, message with the delta). */
  keptCommit: z.string().nullable(),
  /** The run branch head after this experiment: the best so far. */
  bestCommit: z.string(),
  /** Primary metric of the candidate (mean of its samples), null when not measured. */
  metric: z.number().nullable(),
  /** Guard metrics of the candidate (means). */
  guards: metricValuesSchema,
  /** Best primary metric after this experiment. */
  best: z.number().nullable(),
  judgement: judgementSchema.nullable(),
  samples: z.array(runSampleSchema),
  scopeViolations: z.array(scopeViolationSchema),
  changedFiles: z.array(z.string()),
  /** Why the experiment is invalid or crashed, for people. */
  reason: z.string().nullable(),
  proposer: z.object({ kind: z.string(), notes: z.record(z.string(), z.unknown()) }),
  durations: z.object({ proposeMs: z.number(), evaluateMs: z.number(), totalMs: z.number(), overheadMs: z.number() }),
  traceDir: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type ExperimentRecord = z.output<typeof experimentRecordSchema>;

/** Last line of a finished run. */
export const stopRecordSchema = z.object({
  type: z.literal('stop'),
  reason: z.string(),
  at: z.string(),
});
export type StopRecord = z.output<typeof stopRecordSchema>;

/**
 * The confirmation at the end of a run: the run branch head (the ledger's best) measured once more against
 * the run's base, paired and interleaved like any experiment. Each kept step was judged against its parent
 * only; this one comparison says whether the run as a whole holds up, and is the run's headline.
 */
export const confirmationRecordSchema = z.object({
  type: z.literal('confirmation'),
  baseCommit: z.string(),
  /** The run branch head, which must be the ledger's best. */
  headCommit: z.string(),
  /**
   * `confirmed`: measured again, the head is better than the base (the judge says `improved`, guards held);
   * `not-confirmed`: measured again, it is not; `invalid`: it could not be measured, or the run branch was not
   * at the ledger's best (`reason` says which).
   */
  status: z.enum(['confirmed', 'not-confirmed', 'invalid']),
  judgement: judgementSchema.nullable(),
  samples: z.array(runSampleSchema),
  reason: z.string().nullable(),
  durations: z.object({ evaluateMs: z.number(), totalMs: z.number() }),
  traceDir: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type ConfirmationRecord = z.output<typeof confirmationRecordSchema>;

/** The schema of each record type, by its `type`: how a ledger line is read. */
export const RECORD_SCHEMAS = { run: runRecordSchema, experiment: experimentRecordSchema, confirmation: confirmationRecordSchema, stop: stopRecordSchema } as const;

/**
 * The link every ledger line carries: the hex SHA-256 of the previous line's exact bytes (without its
 * newline), or `GENESIS` (64 zeros) on the first line, the run record. Editing, deleting, inserting or
 * reordering a line breaks the link of the line after it, which `verifyLedger` finds.
 */
export interface ChainLink {
  prev: string;
}

/** A record as the ledger stores it: with its link to the line before. */
export type Chained<T> = T & ChainLink;

/**
 * A record before the ledger writer links it: what the loop builds. Only the writer knows the previous
 * line, so `prev` is its business, never the builder's.
 */
export type UnchainedRecord = RunRecord | ExperimentRecord | ConfirmationRecord | StopRecord;

/** One line of `ledger.jsonl`. */
export type LedgerRecord = Chained<RunRecord> | Chained<ExperimentRecord> | Chained<ConfirmationRecord> | Chained<StopRecord>;
