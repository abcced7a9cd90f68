/**
 * The metric contract between autoloop and the user's evaluator.
 *
 * The evaluator reports metrics either by printing lines `METRIC name=value` on stdout,
 * or by writing one JSON object `{"name": number, ...}` to the file named in
 * `$AUTOLOOP_METRICS_FILE`. The file wins when it exists and is non-empty: the harness
 * owns it, so stdout is then ignored entirely (a forged `METRIC` line printed by, say,
 * a test log cannot override it). A missing, duplicated, NaN or infinite metric is
 * never turned into a number: the run is invalid and the reason says what to print.
 *
 * Pure: no I/O. The engine reads the file and passes its text in.
 */
import type { MetricValues } from '../ledger/records.js';
import { AutoloopError } from '../errors.js';

/** Environment variable that names the metrics file the harness created for one run. */
export const METRICS_FILE_ENV = 'AUTOLOOP_METRICS_FILE';

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

/** The metrics of one run, or why the run is invalid. `values` holds whatever was valid either way. */
export type MetricsReading =
  | { ok: true; values: MetricValues; source: 'file' | 'stdout' }
  | { ok: false; reason: string; values: MetricValues; source: 'file' | 'stdout' };

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
 * Parses the text of `$AUTOLOOP_METRICS_FILE`: one JSON object of numbers. Values that are
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
 * Reads one run's metrics from its stdout and its metrics file text (null when the file is
 * absent), checks the primary and guard metrics, and says what is wrong in terms of what
 * the evaluator should print. A non-empty file wins and stdout is then ignored entirely.
 * Never throws for bad evaluator output; never substitutes 0 for a missing value.
 */
export function readMetrics(
  input: { stdout: string; fileText: string | null },
  required: RequiredMetrics,
): MetricsReading {
  // An empty (or whitespace-only) file is the harness's untouched placeholder, not a report.
  const source: 'file' | 'stdout' = input.fileText !== null && input.fileText.trim() !== '' ? 'file' : 'stdout';
  let parsed: ParsedMetrics;
  if (source === 'file') {
    try {
      parsed = parseMetricsFile(input.fileText!);
    } catch (error) {
      if (!(error instanceof MetricsFileError)) throw error;
      return { ok: false, reason: error.message, values: {}, source };
    }
  } else {
    parsed = parseMetricLines(input.stdout);
  }

  const problems: string[] = [];
  const primaryProblem = checkMetric(required.primary, 'metric', parsed, source);
  if (primaryProblem) problems.push(primaryProblem);
  for (const guard of new Set(required.guards)) {
    if (guard === required.primary) continue;
    const problem = checkMetric(guard, 'guard metric', parsed, source);
    if (problem) problems.push(problem);
  }
  if (problems.length === 0) return { ok: true, values: parsed.values, source };

  const requiredNames = new Set([required.primary, ...required.guards]);
  const stray = parsed.invalid.filter((entry) => !requiredNames.has(entry.name));
  if (stray.length > 0) {
    const shown = stray.slice(0, 3).map((entry) => (entry.raw === '' ? `"${entry.name}"` : `"${entry.name}=${entry.raw}"`));
    problems.push(`also ignored ${stray.length} invalid metric${stray.length === 1 ? '' : 's'}: ${shown.join(', ')}${stray.length > 3 ? ', …' : ''}`);
  }
  return { ok: false, reason: problems.join('; '), values: parsed.values, source };
}

/** Why `name` is not usable, or null when it is a finite number reported once. */
function checkMetric(name: string, kind: string, parsed: ParsedMetrics, source: 'file' | 'stdout'): string | null {
  const how = source === 'file'
    ? `write {"${name}": <number>} to $${METRICS_FILE_ENV} (METRIC lines on stdout are ignored once that file is written)`
    : `print a line "METRIC ${name}=<number>" or write {"${name}": <number>} to $${METRICS_FILE_ENV}`;
  if (parsed.duplicates.includes(name)) {
    return `${kind} "${name}" reported more than once ${source === 'file' ? `in $${METRICS_FILE_ENV}` : 'on stdout'}: report it exactly once`;
  }
  const invalid = parsed.invalid.find((entry) => entry.name === name);
  if (invalid) return `${kind} "${name}" ${describeInvalid(invalid.raw)}: ${how} with a finite number`;
  if (!Object.hasOwn(parsed.values, name)) {
    return `no ${kind} "${name}"${source === 'file' ? ` in $${METRICS_FILE_ENV}` : ''}: ${how}`;
  }
  return null;
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
