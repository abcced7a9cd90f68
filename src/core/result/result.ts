import { z } from 'zod';
import { sampleValues } from '../judge/judge.js';
import type { Config } from '../config/config-schema.js';
import { experimentStatusSchema, scopeViolationSchema, verdictSchema, type ExperimentStatus, type Judgement, type RunSample, type ScopeViolation } from '../ledger/records.js';

/** Version of the result document; bumped on any change a reader must know about. */
export const RESULT_DOCUMENT_VERSION = 1;

/** Longest free text of a result document kept (a reason, an interval's method), in characters; longer is cut. */
export const MAX_RESULT_TEXT = 2_000;
/** Longest name or path of a result document (a metric, a file, a machine's description), in characters; longer is refused. */
export const MAX_RESULT_NAME = 1_000;
/** Most entries of a result document's lists (runs, changed files, scope violations, reasons). */
export const MAX_RESULT_ENTRIES = 10_000;

/**
 * Free text from the evaluator, cut at parse time to `max` characters (an ellipsis last), before anything renders
 * or escapes it: a 96 KB reason costs 2,000 characters of work downstream, whatever it holds.
 */
const text = (max = MAX_RESULT_TEXT) => z.string().transform((value) => (value.length > max ? `${value.slice(0, max - 1)}…` : value));
/** A name or path: refused past MAX_RESULT_NAME characters (no real one is that long). */
const name = z.string().max(MAX_RESULT_NAME);

const sha = z.string().regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, 'expected a full git commit SHA');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 in hex');
const goal = z.enum(['minimize', 'maximize']);

const runSchema = z.strictObject({
  side: z.enum(['baseline', 'candidate']),
  index: z.number().int().min(0),
  commit: sha,
  ok: z.boolean(),
  reason: text().optional(),
  exitCode: z.number().int().nullable(),
  signal: z.string().max(100).nullable(),
  durationMs: z.number().min(0),
  timedOut: z.boolean(),
  metrics: z.record(name, z.number()),
});

/** How the repository's commands were isolated: `bwrap` (bubblewrap), or `none` (`sandbox: none`). */
export const sandboxUsedSchema = z.enum(['bwrap', 'none']);
export type SandboxUsed = z.output<typeof sandboxUsedSchema>;

/** Said wherever a measurement was made without a sandbox. */
export const UNSANDBOXED_NOTE = 'unsandboxed: the commands ran without a sandbox (sandbox: none), so candidate code could reach its own measurement';

/** Where a measurement was made: results from different machines are never compared. */
export const environmentSchema = z.strictObject({
  os: name,
  release: name,
  arch: name,
  cpuModel: name,
  cpuCount: z.number().int(),
  memoryBytes: z.number(),
  node: name,
  autoloop: name,
});

/** A stored figure: a finite number, or null (JSON has no NaN or Infinity; anything else is read as null). */
const figure = z.number().nullable().optional().catch(null);
const flag = z.boolean().optional().catch(undefined);

/**
 * The judge's answer as a result document stores it, for people: readers re-judge from `samples`, so it is
 * read leniently, field by field. A field that is missing or malformed (a hand-made or hostile document)
 * reads as absent, and the reader falls back to the samples.
 */
export const storedJudgementSchema = z.object({
  verdict: verdictSchema.optional().catch(undefined),
  keep: flag,
  suspicious: flag,
  baseline: z.object({ mean: figure }).optional().catch(undefined),
  candidate: z.object({ mean: figure }).optional().catch(undefined),
  delta: figure,
  deltaRelative: figure,
  interval: z
    .object({ low: z.number(), high: z.number(), level: z.number(), method: text(200).catch('') })
    .nullable()
    .optional()
    .catch(null),
  singleRun: flag,
  paired: flag,
  guards: z
    .array(z.object({ name, baseline: z.number(), candidate: z.number(), regression: figure, held: z.boolean() }).nullable().catch(null))
    .max(MAX_RESULT_ENTRIES)
    .optional()
    .catch(undefined),
  reasons: z.array(text().nullable().catch(null)).max(100).optional().catch(undefined),
});
export type StoredJudgement = z.output<typeof storedJudgementSchema>;

/**
 * "The result of measuring head against base": what `autoloop eval --json` prints, what the Action
 * uploads and what the App verifies. The raw samples are in it, so a reader re-judges rather than trusts.
 */
export const resultDocumentSchema = z.strictObject({
  kind: z.literal('autoloop-result'),
  version: z.literal(RESULT_DOCUMENT_VERSION),
  /** The repository, as `owner/name` or a remote URL, or null when it has none. */
  repo: name.nullable(),
  base: sha,
  head: sha,
  configFile: name,
  configHash: sha256,
  /** SHA-256 of the protected files (path and blob id) the evaluator was pinned to. */
  protectedHash: sha256,
  metric: z.strictObject({ name, goal }),
  guards: z.array(z.strictObject({ name, goal })).max(100),
  baseline: z.enum(['paired', 'cached']),
  repeats: z.number().int().min(1),
  /** How setup, check and the evaluator were isolated; a document that does not say counts as unsandboxed. */
  sandbox: sandboxUsedSchema.default('none'),
  /** Metric name -> values of the valid runs, per side. */
  samples: z.strictObject({
    baseline: z.record(name, z.array(z.number()).max(MAX_RESULT_ENTRIES)),
    candidate: z.record(name, z.array(z.number()).max(MAX_RESULT_ENTRIES)),
  }),
  runs: z.array(runSchema).max(MAX_RESULT_ENTRIES),
  environment: environmentSchema,
  status: experimentStatusSchema,
  verdict: verdictSchema,
  /** The judge's full answer, for people; readers re-judge from `samples`. */
  judgement: storedJudgementSchema.nullable(),
  changedFiles: z.array(name).max(MAX_RESULT_ENTRIES),
  scopeViolations: z.array(scopeViolationSchema.extend({ path: name, pattern: name }).strict()).max(MAX_RESULT_ENTRIES),
  reason: text().nullable(),
  createdAt: z.string().max(100),
});

export type ResultDocument = z.infer<typeof resultDocumentSchema>;
export type Environment = z.infer<typeof environmentSchema>;

export interface ResultInput {
  repo: string | null;
  base: string;
  head: string;
  config: Config;
  configFile: string;
  configHash: string;
  protectedHash: string;
  status: ExperimentStatus;
  judgement: Judgement | null;
  samples: RunSample[];
  changedFiles: string[];
  scopeViolations: ScopeViolation[];
  reason: string | null;
  environment: Environment;
  sandbox: SandboxUsed;
  createdAt: Date;
}

function valuesBySide(samples: RunSample[], side: RunSample['side'], names: string[]): Record<string, number[]> {
  return Object.fromEntries(names.map((name) => [name, sampleValues(samples, side, name)]));
}

/** Builds the result document of one measurement. */
export function buildResultDocument(input: ResultInput): ResultDocument {
  const { config } = input;
  const names = [config.metric.name, ...config.guards.map((g) => g.name)];
  return {
    kind: 'autoloop-result',
    version: RESULT_DOCUMENT_VERSION,
    repo: input.repo,
    base: input.base,
    head: input.head,
    configFile: input.configFile,
    configHash: input.configHash,
    protectedHash: input.protectedHash,
    metric: { name: config.metric.name, goal: config.metric.goal },
    guards: config.guards.map((g) => ({ name: g.name, goal: g.goal })),
    baseline: config.evaluate.baseline,
    repeats: config.evaluate.repeats,
    sandbox: input.sandbox,
    samples: { baseline: valuesBySide(input.samples, 'baseline', names), candidate: valuesBySide(input.samples, 'candidate', names) },
    runs: input.samples.map((s) => ({
      side: s.side,
      index: s.index,
      commit: s.commit,
      ok: s.ok,
      ...(s.reason === undefined ? {} : { reason: s.reason }),
      exitCode: s.outcome.exitCode,
      signal: s.outcome.signal,
      durationMs: s.outcome.durationMs,
      timedOut: s.outcome.timedOut,
      metrics: s.metrics,
    })),
    environment: input.environment,
    status: input.status,
    verdict: input.judgement?.verdict ?? 'invalid',
    // Through JSON so that NaN (an invalid judgement's means) becomes null, as it will on disk.
    judgement: input.judgement ? (JSON.parse(JSON.stringify(input.judgement)) as StoredJudgement) : null,
    changedFiles: input.changedFiles,
    scopeViolations: input.scopeViolations,
    reason: input.reason,
    createdAt: input.createdAt.toISOString(),
  };
}

/** Reads a result document, with an error naming the first key that is wrong. */
export function parseResultDocument(value: unknown): ResultDocument {
  return resultDocumentSchema.parse(value);
}
