/**
 * The shapes autoloop records: one measured run of the evaluator, the judge's verdict,
 * and the ledger's records. Plain data, serialised as JSON lines in `ledger.jsonl`.
 */
import type { Goal } from '../config/config-schema.js';

/** Metric name -> value, as the evaluator reported it. */
export type MetricValues = Record<string, number>;

/** What happened to one command the evaluator ran. */
export interface CommandOutcome {
  command: string;
  /** Exit code, or null when the process was ended by a signal. */
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  /** Bytes of output dropped from the middle of stdout and stderr to bound memory. */
  droppedBytes: number;
}

/** One run of `evaluate.command` on one side of an experiment. */
export interface RunSample {
  side: 'baseline' | 'candidate';
  /** 0-based position of this run within its side. */
  index: number;
  commit: string;
  /** False when the run crashed, timed out or reported no valid primary metric. */
  ok: boolean;
  /** Why the run is not ok. */
  reason?: string;
  metrics: MetricValues;
  outcome: CommandOutcome;
}

export type Verdict = 'improved' | 'no-change' | 'regressed' | 'invalid';

/** A guard metric's comparison. */
export interface GuardJudgement {
  name: string;
  goal: Goal;
  baseline: number;
  candidate: number;
  /** Change in the guard's bad direction, relative to the baseline (positive = worse). */
  regression: number;
  /** True when the guard stayed within its `max_regression`. */
  held: boolean;
}

/** The judge's answer for one experiment: pure data derived from the samples and the config. */
export interface Judgement {
  verdict: Verdict;
  /** True only when the candidate is better, guards held, and it is not suspicious. */
  keep: boolean;
  /** A gain beyond `suspicious_effect`: never kept without a human. */
  suspicious: boolean;
  baseline: { mean: number; samples: number[] };
  candidate: { mean: number; samples: number[] };
  /** candidate − baseline, in the metric's unit. */
  delta: number;
  /** delta / |baseline mean|. */
  deltaRelative: number;
  /** Confidence interval of the delta, or null with one run per side. */
  interval: { low: number; high: number; level: number; method: string } | null;
  /** With one run per side there is no noise estimate: every output says so. */
  singleRun: boolean;
  /** False when the baseline samples were not measured beside the candidate (`evaluate.baseline: cached`): every output says so. */
  paired: boolean;
  guards: GuardJudgement[];
  /** Plain sentences explaining the verdict, for people. */
  reasons: string[];
}

/** Status column of results.tsv, as in autoresearch. */
export type ExperimentStatus = 'keep' | 'discard' | 'crash' | 'invalid';

/** A path a proposal was not allowed to change. */
export interface ScopeViolation {
  path: string;
  change: 'added' | 'modified' | 'deleted' | 'renamed';
  rule: 'outside-edit' | 'protected';
  /** The glob or built-in rule that matched. */
  pattern: string;
}

/** First line of a ledger: what the run is. */
export interface RunRecord {
  type: 'run';
  version: 1;
  tag: string;
  /** The run branch that accumulates kept experiments. */
  branch: string;
  baseCommit: string;
  metric: { name: string; goal: Goal };
  guards: string[];
  configFile: string;
  /** SHA-256 of the config text the run started with. */
  configHash: string;
  /** SHA-256 of the protected files (path and blob id) in the base commit: the evaluator every experiment was pinned to. */
  protectedHash: string;
  startedAt: string;
}

/** One experiment. Experiment 0 is the baseline measurement of the base commit. */
export interface ExperimentRecord {
  type: 'experiment';
  experiment: number;
  status: ExperimentStatus;
  /** The proposer's hypothesis, e.g. `lr 0.01 → 0.02`. */
  description: string;
  parentCommit: string;
  /** The commit that was measured. */
  candidateCommit: string | null;
  /** The commit on the run branch when kept (same tree as the candidate, message with the delta). */
  keptCommit: string | null;
  /** The run branch head after this experiment: the best so far. */
  bestCommit: string;
  /** Primary metric of the candidate (mean of its samples), null when not measured. */
  metric: number | null;
  /** Guard metrics of the candidate (means). */
  guards: MetricValues;
  /** Best primary metric after this experiment. */
  best: number | null;
  judgement: Judgement | null;
  samples: RunSample[];
  scopeViolations: ScopeViolation[];
  changedFiles: string[];
  /** Why the experiment is invalid or crashed, for people. */
  reason: string | null;
  proposer: { kind: string; notes: Record<string, unknown> };
  durations: { proposeMs: number; evaluateMs: number; totalMs: number; overheadMs: number };
  traceDir: string;
  startedAt: string;
  finishedAt: string;
}

/** Last line of a finished run. */
export interface StopRecord {
  type: 'stop';
  reason: string;
  at: string;
}

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
export type UnchainedRecord = RunRecord | ExperimentRecord | StopRecord;

/** One line of `ledger.jsonl`. */
export type LedgerRecord = Chained<RunRecord> | Chained<ExperimentRecord> | Chained<StopRecord>;
