/**
 * The sentinel's history: one JSON line per event, hash-chained like the run ledger (each line's `prev` is the
 * SHA-256 of the line before, `GENESIS` on the first; see ../ledger/ledger.ts), kept in `history.jsonl` on the orphan
 * branch `autoloop/sentinel`. Three kinds of record:
 *
 * - `reference`: from here on, the default branch's head is measured against this commit, on this machine. Written
 *   first, again whenever the environment fingerprint changes (saying which fields did), and when a user moves the
 *   reference. A new reference starts a new segment: change points are only ever looked for inside one.
 * - `measurement`: one nightly paired measurement of the head against the reference: the relative delta, its
 *   interval, the samples, and the environment it was measured in.
 * - `finding`: what the sentinel did about a change point: the fresh confirmation (same / different / need more
 *   runs), and the culprit the bisection named. A change point with a finding that decided it is not raised again;
 *   one that still needed more runs is, the next night.
 *
 * The zod schemas are the source of the types and the one way a stored line is read back.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AutoloopError, EXIT, type ExitCode } from '../errors.js';
import { GENESIS, hashLine, verifyLedger, type LedgerBreak } from '../ledger/ledger.js';
import { verdictSchema } from '../ledger/records.js';
import { environmentSchema, type Environment } from '../result/result.js';

/** The orphan branch that holds the history: never merged, never checked out by autoloop. */
export const SENTINEL_BRANCH = 'autoloop/sentinel';
/** The history's file on that branch. */
export const SENTINEL_FILE = 'history.jsonl';
/** How the history is named in messages: `branch:file`, as `git show` takes it. */
export const SENTINEL_HISTORY = `${SENTINEL_BRANCH}:${SENTINEL_FILE}`;

const sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'a full commit SHA');
const timestamp = z.string().max(100);
const relativeInterval = z.strictObject({ low: z.number(), high: z.number(), level: z.number() });

export const referenceRecordSchema = z.strictObject({
  type: z.literal('reference'),
  /** The commit every later measurement is paired against. */
  reference: sha,
  /** Why a new reference (a new segment) starts here. */
  reason: z.enum(['first', 'environment', 'requested']),
  /** The environment fields that differ from the previous reference's (for `environment`). */
  changed: z.array(z.string()),
  environment: environmentSchema,
  /** {@link fingerprintOf} the environment. */
  fingerprint: z.string(),
  at: timestamp,
});
export type ReferenceRecord = z.output<typeof referenceRecordSchema>;

export const measurementRecordSchema = z.strictObject({
  type: z.literal('measurement'),
  /** The default branch's head that was measured. */
  commit: sha,
  reference: sha,
  metric: z.string(),
  goal: z.enum(['minimize', 'maximize']),
  referenceMean: z.number(),
  headMean: z.number(),
  /** (head − reference) / |reference|: what change points are looked for in. */
  deltaRelative: z.number(),
  /** The judge's interval of the delta, relative to |reference|; null with one run per side. */
  interval: relativeInterval.nullable(),
  /** The primary metric's values, per side, in run order. */
  samples: z.strictObject({ reference: z.array(z.number()), head: z.array(z.number()) }),
  verdict: verdictSchema,
  environment: environmentSchema,
  fingerprint: z.string(),
  measuredAt: timestamp,
});
export type MeasurementRecord = z.output<typeof measurementRecordSchema>;

/** What a fresh paired measurement of two commits says of a change the history showed. */
export const confirmationAnswerSchema = z.enum(['same', 'different', 'need-more-runs']);
export type ConfirmationAnswer = z.output<typeof confirmationAnswerSchema>;

/** One fresh paired measurement of `commit` against `against`. */
export const probeSchema = z.strictObject({
  commit: sha,
  against: sha,
  answer: confirmationAnswerSchema,
  /** Relative delta of `commit` against `against`, null when it could not be measured. */
  effect: z.number().nullable(),
  interval: relativeInterval.nullable(),
  runsPerSide: z.number().int().min(0),
});
export type Probe = z.output<typeof probeSchema>;

export const findingRecordSchema = z.strictObject({
  type: z.literal('finding'),
  /** The change point of the history this finding is about. */
  changePoint: z.strictObject({
    /** Position among the history's measurements of the first one after the change. */
    index: z.number().int().min(0),
    direction: z.enum(['regression', 'improvement']),
    before: sha,
    after: sha,
    effect: z.number(),
    pValue: z.number(),
  }),
  /** The fresh paired measurement of the commits either side. */
  confirmation: probeSchema,
  /** Each bisection step: a commit between them measured against the good one. */
  steps: z.array(probeSchema),
  /** The first-parent commit the regression (or improvement) came with, and its own measured effect against its parent. */
  culprit: z.strictObject({ commit: sha, subject: z.string(), probe: probeSchema }).nullable(),
  /** Why no culprit was named, when none was. */
  reason: z.string().nullable(),
  at: timestamp,
});
export type FindingRecord = z.output<typeof findingRecordSchema>;

export const sentinelRecordSchema = z.discriminatedUnion('type', [referenceRecordSchema, measurementRecordSchema, findingRecordSchema]);
export type SentinelRecord = z.output<typeof sentinelRecordSchema>;

/** The history could not be read, or would not be valid if written; names the history and the line. */
export class SentinelHistoryError extends AutoloopError {
  override readonly exitCode: ExitCode = EXIT.usage;

  constructor(
    readonly file: string,
    readonly line: number | null,
    message: string,
    dir?: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${message}`, { subject: { file, line, ...(dir ? { dir } : {}) } });
    this.name = 'SentinelHistoryError';
  }
}

/** The history's hash chain is broken: it was altered after it was written. */
export class SentinelHistoryTamperedError extends SentinelHistoryError {
  override readonly exitCode = EXIT.tampered;

  constructor(
    readonly verification: LedgerBreak,
    dir?: string,
  ) {
    super(verification.file, verification.line, `${verification.problem.replace(/ledger/g, 'history')}. The sentinel's history was altered after it was written; autoloop will not build on it`, dir);
    this.name = 'SentinelHistoryTamperedError';
  }
}

/**
 * The lines (without newline) that append `records` to a history whose last line hashes to `prev` (`GENESIS` for an
 * empty one), the new head hash, and the records as they will read back. `prev` comes first on each line, as in the
 * ledger. A record its schema refuses is never written.
 */
export function chainRecords(records: readonly SentinelRecord[], prev: string = GENESIS): { lines: string[]; head: string; records: SentinelRecord[] } {
  const lines: string[] = [];
  const written: SentinelRecord[] = [];
  let head = prev;
  for (const record of records) {
    const parsed = sentinelRecordSchema.safeParse(record);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new SentinelHistoryError(SENTINEL_HISTORY, null, `refusing to write a ${record.type} record: ${issue.path.join('.') || 'the record'}: ${issue.message}`);
    }
    const line = JSON.stringify({ prev: head, ...parsed.data });
    lines.push(line);
    written.push(parsed.data);
    head = hashLine(line);
  }
  return { lines, head, records: written };
}

/** A history read back: its records in order (without `prev`), and the hash of its last line. */
export interface SentinelHistory {
  records: SentinelRecord[];
  head: string;
}

/**
 * Reads the history's text: the hash chain is verified first (an altered history is refused with the first altered
 * line), then each line is read through its record's schema. Written in one git object at a time, a history has no
 * line cut short by a crash, so one is refused as well.
 */
export function parseHistory(text: string, file: string = SENTINEL_HISTORY, dir?: string): SentinelHistory {
  const verification = verifyLedger(text, file);
  if (!verification.ok) throw new SentinelHistoryTamperedError(verification, dir);
  if (verification.truncatedTail) throw new SentinelHistoryError(file, null, 'its last line is cut short: the history was edited by hand', dir);
  const records: SentinelRecord[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const { prev: _prev, ...fields } = JSON.parse(line) as Record<string, unknown>;
    const parsed = sentinelRecordSchema.safeParse(fields);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new SentinelHistoryError(file, index + 1, `${String(fields.type)} record: ${issue.path.join('.') || 'the record'}: ${issue.message}`, dir);
    }
    records.push(parsed.data);
  });
  return { records, head: verification.head };
}

/** A short, stable hash of an environment (its fields in a fixed order): equal exactly when every field is. */
export function fingerprintOf(environment: Environment): string {
  const fields = Object.keys(environment).sort().map((key) => [key, environment[key as keyof Environment]]);
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
}

/** The fields of `after` that differ from `before`, in a fixed order. */
export function environmentChanges(before: Environment, after: Environment): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.filter((key) => before[key as keyof Environment] !== after[key as keyof Environment]);
}

/** The history's measurements, in order. */
export function measurementsOf(records: readonly SentinelRecord[]): MeasurementRecord[] {
  return records.filter((record): record is MeasurementRecord => record.type === 'measurement');
}

/** The reference in force: the last reference record, or null before the first. */
export function currentReference(records: readonly SentinelRecord[]): ReferenceRecord | null {
  return records.findLast((record): record is ReferenceRecord => record.type === 'reference') ?? null;
}

/**
 * The reference record to write before tonight's measurement, or null to go on with the one in force: the first
 * (`head`, or the `requested` commit), a `requested` one that differs, or, when the environment's fingerprint changed,
 * the same reference commit in a new segment that names the fields that changed. Never a reason to alarm.
 */
export function planReference(
  records: readonly SentinelRecord[],
  environment: Environment,
  head: string,
  at: Date,
  requested?: string,
): ReferenceRecord | null {
  const current = currentReference(records);
  const fingerprint = fingerprintOf(environment);
  const record = (reference: string, reason: ReferenceRecord['reason'], changed: string[]): ReferenceRecord => ({
    type: 'reference',
    reference,
    reason,
    changed,
    environment,
    fingerprint,
    at: at.toISOString(),
  });
  if (!current) return record(requested ?? head, 'first', []);
  if (requested && requested !== current.reference) return record(requested, 'requested', []);
  if (current.fingerprint !== fingerprint) return record(current.reference, 'environment', environmentChanges(current.environment, environment));
  return null;
}

/** A run of consecutive measurements against one reference in one environment: where change points are looked for. */
export interface HistorySegment {
  /** Positions among the history's measurements: `start` inclusive, `end` exclusive. */
  start: number;
  end: number;
  reference: string;
  fingerprint: string;
  /** Why it starts: the first, a changed environment, or another reference commit. */
  reason: 'first' | 'environment' | 'reference';
  /** The environment fields that changed, for `environment`. */
  changed: string[];
}

/**
 * The segments of the history's measurements: a new one wherever the reference commit or the environment fingerprint
 * differs from the measurement before, whatever the reference records say, so that no level shift across an
 * environment change can ever be reported as a change point.
 */
export function historySegments(measurements: readonly MeasurementRecord[]): HistorySegment[] {
  const segments: HistorySegment[] = [];
  measurements.forEach((measurement, index) => {
    const last = segments.at(-1);
    if (last && last.reference === measurement.reference && last.fingerprint === measurement.fingerprint) {
      last.end = index + 1;
      return;
    }
    const previous = measurements[index - 1];
    const environment = previous !== undefined && previous.fingerprint !== measurement.fingerprint;
    segments.push({
      start: index,
      end: index + 1,
      reference: measurement.reference,
      fingerprint: measurement.fingerprint,
      reason: previous === undefined ? 'first' : environment ? 'environment' : 'reference',
      changed: environment ? environmentChanges(previous.environment, measurement.environment) : [],
    });
  });
  return segments;
}
