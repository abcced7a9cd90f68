/**
 * The metric contract between autoloop and the user's evaluator.
 *
 * The config declares one channel (`evaluate.report`) and only that channel is read, never a fallback:
 * `stdout`, lines `METRIC name=value` printed by the reporting command (`evaluate.command`, or
 * `evaluate.score` when set); or `file`, one JSON object `{"name": number, ...}` written to the file named
 * in `$AUTOLOOP_METRICS_FILE`. Both are written by a process the candidate's code may run in, so autoloop
 * also measures two metrics itself, from outside the sandbox: `autoloop.wall_ms` and `autoloop.cpu_ms` of
 * each run of `evaluate.command`. Names under `autoloop.` are reserved: an evaluator that reports one is
 * refused. A missing, duplicated, NaN or infinite metric is never turned into a number: the run is invalid
 * and the reason says what to print or write.
 *
 * Pure: no I/O. The engine reads the file and measures the times, and passes them in.
 */
import type { MetricValues } from '../ledger/records.js';
import { AutoloopError } from '../errors.js';

/** Environment variable that names the metrics file the harness created for one run. */
export const METRICS_FILE_ENV = 'AUTOLOOP_METRICS_FILE';

/** The channels an evaluator may report on (`evaluate.report`); only the declared one is read. */
export const METRIC_REPORTS = ['stdout', 'file'] as const;
export type MetricReport = (typeof METRIC_REPORTS)[number];

/** Wall-clock time of one run of `evaluate.command`, spawn to exit, measured by autoloop. */
export const WALL_METRIC = 'autoloop.wall_ms';
/** CPU time (user + system) of one run of `evaluate.command`'s whole process tree, measured by autoloop. */
export const CPU_METRIC = 'autoloop.cpu_ms';
/** The metrics autoloop measures itself; every other `autoloop.*` name is unknown. */
export const MEASURED_METRICS = [WALL_METRIC, CPU_METRIC] as const;
const RESERVED_PREFIX = 'autoloop.';

/** True for a name under `autoloop.`: autoloop's own, never an evaluator's. */
export function isReservedMetric(name: string): boolean {
  return name.startsWith(RESERVED_PREFIX);
}

/** What autoloop measured of one run of `evaluate.command` (cpuMs absent when it could not be measured). */
export interface MeasuredTimes {
  wallMs: number;
  cpuMs?: number;
}

/** A metric name, as accepted in `METRIC name=value` (same rule as the config schema). */
export const METRIC_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.\-/]*$/;

/** A reported value that is not a finite number, kept for the error message. */
export interface InvalidMetric {
  name: string;
  /** The value as the evaluator wrote it (truncated when long). */
  raw: string;
}

/** What one source (stdout or the metrics file) reported. */
export interface ParsedMetrics {
  /** Finite values of names reported exactly once. */
  values: MetricValues;
  /** Names reported more than once (each listed once); they are left out of `values`. */
  duplicates: string[];
  /** Values that are NaN, infinite or not numbers, and malformed `METRIC` lines. */
  invalid: InvalidMetric[];
}

/** The metrics file exists but is not one JSON object. */
export class MetricsFileError extends AutoloopError {
  override readonly name = 'MetricsFileError';
}

/** Which metrics a run must report. */
export interface RequiredMetrics {
  primary: string;
  guards: string[];
}

/** The metrics of one run, or why the run is invalid. `values` holds whatever was valid either way; `source` is the declared channel. */
export type MetricsReading =
  | { ok: true; values: MetricValues; source: MetricReport }
  | { ok: false; reason: string; values: MetricValues; source: MetricReport };

/** What one run left for the metrics reading: its declared channel, what it printed and wrote, and what autoloop measured. */
export interface MetricsInput {
  report: MetricReport;
  stdout: string;
  /** The metrics file's text; null when there is none (always with `report: stdout`). */
  fileText: string | null;
  /** The times of the `evaluate.command` run; absent, the `autoloop.*` metrics are unmeasured. */
  measured?: MeasuredTimes;
}

// `METRIC` then whitespace marks a metric line; anything else on stdout is ordinary output.
const METRIC_LINE = /^\s*METRIC\s+(.*?)\s*$/;
const NAME_VALUE = /^([A-Za-z_][A-Za-z0-9_.\-/]*)\s*=\s*(.*)$/;
// Decimal float syntax as JS writes it: `1`, `-0.5`, `.5`, `5.`, `1e-3`, `+2.5E+10`.
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const NAN_TEXT = /^[+-]?nan$/i;
const INFINITY_TEXT = /^[+-]?inf(?:inity)?$/i;
const RAW_MAX_CHARS = 80;
// Python's json.dump writes these bare tokens, which JSON.parse rejects; they are read
// as invalid values (so the message says "NaN", not "bad JSON").
const NON_FINITE_TOKEN = /^(?:-?Infinity|NaN)/;
const NON_FINITE_SENTINEL = '\u0000autoloop-non-finite:';

/**
 * Parses `METRIC name=value` lines from an evaluator's stdout. Whitespace around the line
 * and around `=` is allowed; any other text on the line makes it invalid (never guessed).
 */
export function parseMetricLines(text: string): ParsedMetrics {
  const collector = new Collector(true);
  for (const line of text.split(/\r\n|\n|\r/)) {
    const metric = METRIC_LINE.exec(line);
    if (!metric) continue;
    const body = metric[1]!;
    const pair = NAME_VALUE.exec(body);
    if (!pair) {
      // A line meant as a metric but malformed (`METRIC val-loss: 3`, `METRIC 1x=2`): keep it for the hint.
      const equals = body.indexOf('=');
      collector.malformed(equals > 0 ? body.slice(0, equals).trim() : body, equals > 0 ? body.slice(equals + 1).trim() : '');
      continue;
    }
    collector.add(pair[1]!, parseNumber(pair[2]!.trim()), pair[2]!.trim());
  }
  return collector.result();
}

/**
 * Parses the text of `$AUTOLOOP_METRICS_FILE` (with `evaluate.report: file`): one JSON object of numbers. Values that are
 * not finite numbers become invalid entries; a key written twice is a duplicate.
 * @throws MetricsFileError when the text is not JSON or not an object.
 */
export function parseMetricsFile(text: string): ParsedMetrics {
  let data: unknown;
  let source = text;
  try {
    data = JSON.parse(text);
  } catch (error) {
    source = replaceNonFiniteTokens(text);
    try {
      data = JSON.parse(source);
    } catch {
      throw new MetricsFileError(
        `$${METRICS_FILE_ENV} is not valid JSON (${(error as Error).message}): write one JSON object such as {"val_loss": 0.123}`,
      );
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    const kind = data === null ? 'null' : Array.isArray(data) ? 'an array' : `a ${typeof data}`;
    throw new MetricsFileError(
      `$${METRICS_FILE_ENV} holds ${kind}, not a JSON object: write one object such as {"val_loss": 0.123}`,
    );
  }
  const collector = new Collector(false);
  // JSON.parse silently keeps the last of repeated keys; count them from the text instead.
  for (const name of topLevelKeys(source)) collector.count(name);
  for (const [name, value] of Object.entries(data)) {
    if (typeof value === 'number') collector.add(name, value, String(value));
    else if (typeof value === 'string' && value.startsWith(NON_FINITE_SENTINEL)) {
      collector.add(name, Number.NaN, value.slice(NON_FINITE_SENTINEL.length));
    } else collector.add(name, Number.NaN, truncate(JSON.stringify(value) ?? String(value)));
  }
  return collector.result();
}

/**
 * Reads one run's metrics from the declared channel alone, adds the `autoloop.*` metrics the config names
 * from what autoloop measured, checks the primary and guard metrics, and says what is wrong in terms of
 * what the evaluator should print or write (naming the other channel when the metric went there).
 * Never throws for bad evaluator output; never substitutes 0 for a missing value.
 */
export function readMetrics(input: MetricsInput, required: RequiredMetrics): MetricsReading {
  const source = input.report;
  // An empty (or whitespace-only) file is the harness's untouched placeholder, not a report.
  const fileWritten = input.fileText !== null && input.fileText.trim() !== '';
  let parsed: ParsedMetrics = { values: {}, duplicates: [], invalid: [] };
  if (source === 'file' && fileWritten) {
    try {
      parsed = parseMetricsFile(input.fileText!);
    } catch (error) {
      if (!(error instanceof MetricsFileError)) throw error;
      return { ok: false, reason: error.message, values: {}, source };
    }
  } else if (source === 'stdout') {
    parsed = parseMetricLines(input.stdout);
  }

  // A reserved name in the evaluator's report is a forgery of autoloop's own measurement, or a mistake: refused either way.
  const forged = [...new Set([...Object.keys(parsed.values), ...parsed.duplicates, ...parsed.invalid.map((entry) => entry.name)])].filter(isReservedMetric);
  const reportedValues: MetricValues = Object.fromEntries(Object.entries(parsed.values).filter(([name]) => !isReservedMetric(name)));
  if (forged.length > 0) {
    const where = source === 'file' ? `in $${METRICS_FILE_ENV}` : 'on stdout';
    return {
      ok: false,
      reason: `the evaluator reported ${forged.map((name) => `"${name}"`).join(', ')} ${where}: names autoloop.* are reserved, measured by autoloop itself (${MEASURED_METRICS.join(', ')}); rename the metric or stop reporting it`,
      values: reportedValues,
      source,
    };
  }

  const hints: ChannelHints = {
    source,
    fileWritten,
    // With `file`, METRIC lines are never read as metrics, only to say where a missing one went.
    stdoutValues: source === 'file' ? parseMetricLines(input.stdout).values : {},
  };
  const values: MetricValues = { ...reportedValues };
  const problems: string[] = [];
  const names = [...new Set([required.primary, ...required.guards])];
  for (const name of names) {
    const kind = name === required.primary ? 'metric' : 'guard metric';
    if (isReservedMetric(name)) {
      const value = measuredValue(name, input.measured);
      if (value === undefined) problems.push(`${kind} "${name}" was not measured for this run: ${unmeasuredReason(name)}`);
      else values[name] = value;
      continue;
    }
    const problem = checkMetric(name, kind, parsed, hints);
    if (problem) problems.push(problem);
  }
  if (problems.length === 0) return { ok: true, values, source };

  const requiredNames = new Set(names);
  const stray = parsed.invalid.filter((entry) => !requiredNames.has(entry.name));
  if (stray.length > 0) {
    const shown = stray.slice(0, 3).map((entry) => (entry.raw === '' ? `"${entry.name}"` : `"${entry.name}=${entry.raw}"`));
    problems.push(`also ignored ${stray.length} invalid metric${stray.length === 1 ? '' : 's'}: ${shown.join(', ')}${stray.length > 3 ? ', …' : ''}`);
  }
  return { ok: false, reason: problems.join('; '), values, source };
}

/** The measured value of a reserved metric, or undefined when it was not measured (or is not one autoloop knows). */
function measuredValue(name: string, measured: MeasuredTimes | undefined): number | undefined {
  if (!measured) return undefined;
  const value = name === WALL_METRIC ? measured.wallMs : name === CPU_METRIC ? measured.cpuMs : undefined;
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

function unmeasuredReason(name: string): string {
  if (name === CPU_METRIC) return 'autoloop times evaluate.command under a shell of its own outside the sandbox, and that shell did not report (it was killed, or something wrote to its report)';
  if (name === WALL_METRIC) return 'autoloop measures it around each run of evaluate.command';
  return `autoloop measures only ${MEASURED_METRICS.join(' and ')}`;
}

/** What a message about a missing metric needs to know of the channels. */
interface ChannelHints {
  source: MetricReport;
  fileWritten: boolean;
  /** Valid METRIC lines on stdout when the declared channel is the file (else empty). */
  stdoutValues: MetricValues;
}

/** Why `name` is not usable, or null when it is a finite number reported once. */
function checkMetric(name: string, kind: string, parsed: ParsedMetrics, hints: ChannelHints): string | null {
  const { source } = hints;
  const how = source === 'file' ? `write {"${name}": <number>} to $${METRICS_FILE_ENV}` : `print a line "METRIC ${name}=<number>"`;
  if (parsed.duplicates.includes(name)) {
    return `${kind} "${name}" reported more than once ${source === 'file' ? `in $${METRICS_FILE_ENV}` : 'on stdout'}: report it exactly once`;
  }
  const invalid = parsed.invalid.find((entry) => entry.name === name);
  if (invalid) return `${kind} "${name}" ${describeInvalid(invalid.raw)}: ${how} with a finite number`;
  if (Object.hasOwn(parsed.values, name)) return null;
  if (source === 'stdout') {
    return `no ${kind} "${name}" on stdout: ${how} (evaluate.report is stdout, so there is no $${METRICS_FILE_ENV} to write; to report through a file, set evaluate.report: file)`;
  }
  const where = hints.fileWritten ? ` in $${METRICS_FILE_ENV}` : '';
  const empty = hints.fileWritten ? '' : ' (the command left it empty)';
  const printed = Object.hasOwn(hints.stdoutValues, name)
    ? `; stdout has "METRIC ${name}=…", but evaluate.report is file, so METRIC lines are not read: set evaluate.report: stdout or write the file`
    : '';
  return `no ${kind} "${name}"${where}: ${how}${empty}${printed}`;
}

function describeInvalid(raw: string): string {
  if (NAN_TEXT.test(raw)) return 'is NaN';
  if (INFINITY_TEXT.test(raw) || NUMBER.test(raw)) return `is infinite (${raw})`;
  if (raw === '') return 'has no value';
  return `is not a number (${JSON.stringify(raw)})`;
}

/** Number for `raw` in JS float syntax; NaN for anything else (including `nan`, `inf`). */
function parseNumber(raw: string): number {
  return NUMBER.test(raw) ? Number(raw) : Number.NaN;
}

function truncate(text: string): string {
  return text.length > RAW_MAX_CHARS ? `${text.slice(0, RAW_MAX_CHARS - 1)}…` : text;
}

/** Accumulates one source's reports; duplicates are tracked by name, whatever their values. */
class Collector {
  private readonly seen = new Map<string, number>();
  private readonly valid = new Map<string, number>();
  private readonly invalid: InvalidMetric[] = [];

  /** @param countOnAdd false when names are counted separately (from the file text) via `count`. */
  constructor(private readonly countOnAdd: boolean) {}

  count(name: string): void {
    this.seen.set(name, (this.seen.get(name) ?? 0) + 1);
  }

  add(name: string, value: number, raw: string): void {
    if (Number.isFinite(value)) this.valid.set(name, value);
    else this.invalid.push({ name, raw: truncate(raw) });
    if (this.countOnAdd) this.count(name);
  }

  malformed(name: string, raw: string): void {
    this.invalid.push({ name: truncate(name), raw: truncate(raw) });
  }

  result(): ParsedMetrics {
    const duplicates = [...this.seen].filter(([, times]) => times > 1).map(([name]) => name);
    // Object.fromEntries defines own properties, so a name like `__proto__` stays plain data.
    const values: MetricValues = Object.fromEntries([...this.valid].filter(([name]) => !duplicates.includes(name)));
    return { values, duplicates, invalid: this.invalid };
  }
}

/** Top-level keys of a valid JSON object text, in order and with repeats. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth !== 1) continue;
      let next = i + 1;
      while (next < text.length && /\s/.test(text[next]!)) next++;
      if (text[next] === ':') keys.push(JSON.parse(text.slice(start, i + 1)) as string);
    } else if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') depth--;
  }
  return keys;
}

/** Replaces bare `NaN`, `Infinity`, `-Infinity` outside strings by sentinel strings. */
function replaceNonFiniteTokens(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      out += text.slice(start, i + 1);
      continue;
    }
    const token = NON_FINITE_TOKEN.exec(text.slice(i, i + 9));
    if (token) {
      out += JSON.stringify(NON_FINITE_SENTINEL + token[0]);
      i += token[0].length - 1;
      continue;
    }
    out += char;
  }
  return out;
}
