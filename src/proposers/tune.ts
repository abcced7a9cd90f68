/**
 * The built-in offline proposer: reads the tuned keys of one JSON or YAML file in the worktree,
 * asks the search for the next point, and writes only the changed values back, leaving the rest
 * of the file byte for byte as it was.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { isAlias, isScalar, parseDocument, stringify, type Document } from 'yaml';
import { CONFIG_PATH, type Config, type TuneConfig, type TuneParam } from '../core/config/config-schema.js';
import { describeChange, nextPoint, readTuneHistory, type ParamValue, type Point } from '../core/propose/tune-search.js';
import type { Proposal, ProposalContext, Proposer } from '../core/propose/proposer.js';
import { AutoloopError, EXIT } from '../core/errors.js';

/** A problem with the tuned file or one of its keys; names both, and says what to do. */
export class TuneError extends AutoloopError {
  override readonly exitCode = EXIT.config;

  constructor(
    readonly file: string,
    readonly key: string | null,
    message: string,
  ) {
    super(`${file}${key ? ` (key "${key}")` : ''}: ${message}`, { subject: key ? { file, key } : { file } });
    this.name = 'TuneError';
  }
}

type Format = 'json' | 'yaml';

/**
 * Creates the `tune` proposer from a validated config (`proposer.tune` must be present).
 * Each proposal edits `tune.file` in the worktree and records the full point in `notes.params` and the
 * point it started from in `notes.from`. Its memory is the run's history (`context.history`, the ledger
 * records, so a resumed run continues where it stopped): what was measured, the judge's verdicts and deltas.
 */
export function createTuneProposer(config: Config): Proposer {
  const tune = config.proposer.tune;
  if (!tune) throw new TuneError(CONFIG_PATH, 'proposer.tune', 'missing; add a `tune` section with `file` and `params`');
  const format = formatOf(tune.file);
  return {
    kind: 'tune',
    async propose(context: ProposalContext): Promise<Proposal | null> {
      context.signal?.throwIfAborted();
      const file = resolveInside(context.worktree, tune.file);
      const text = await readTunedFile(file, tune.file);
      const data = parse(text, format, tune.file);
      const best = readPoint(data, tune, tune.file);
      const { history, visited } = readTuneHistory(context.history);
      const result = nextPoint({
        params: tune.params,
        best,
        history,
        visited,
        seed: tune.seed,
        experiment: context.experiment,
        explore: tune.explore,
        goal: config.metric.goal,
      });
      if (!result) return null;
      const updates = new Map<string, ParamValue>(result.changed.map((key) => [key, result.point[key]!]));
      await writeFile(file, writeValues(text, format, data, updates), 'utf8');
      return {
        hypothesis: describeChange(best, result.point),
        notes: {
          params: result.point,
          from: best,
          changed: result.changed,
          sigma: result.sigma,
          mode: result.mode,
          ...(result.screened !== undefined ? { screened: result.screened } : {}),
        },
      };
    },
  };
}

/**
 * The point `text` (the tuned file's content) holds for `tune.params`: parsed and checked as a proposal reads it,
 * throwing a {@link TuneError} that names the file and key. For `validate`, and for rebuilding an App run's history
 * from the tuned file at each experiment's commit.
 */
export function readTunedPoint(text: string, tune: TuneConfig): Point {
  return readPoint(parse(text, formatOf(tune.file), tune.file), tune, tune.file);
}

function formatOf(file: string): Format {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.json') return 'json';
  if (extension === '.yml' || extension === '.yaml') return 'yaml';
  throw new TuneError(file, null, `cannot tune a "${extension || 'extensionless'}" file; use a .json, .yml or .yaml file in proposer.tune.file`);
}

function resolveInside(worktree: string, file: string): string {
  const root = path.resolve(worktree);
  const resolved = path.resolve(root, file);
  if (resolved !== root && !resolved.startsWith(root + path.sep)) {
    throw new TuneError(file, null, 'is outside the repository; proposer.tune.file must be a path inside it');
  }
  return resolved;
}

async function readTunedFile(file: string, name: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TuneError(name, null, 'not found in the repository; create it or fix proposer.tune.file');
    }
    throw error;
  }
}

function parse(text: string, format: Format, file: string): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new TuneError(file, null, `not valid JSON: ${(error as Error).message}`);
    }
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) throw new TuneError(file, null, `not valid YAML: ${document.errors[0]!.message}`);
  return document.toJS() as unknown;
}

/** `model.lr` -> ['model', 'lr']; a numeric segment also indexes an array (`layers.0`). */
function segmentsOf(key: string): string[] {
  return key.split('.');
}

function lookup(data: unknown, key: string, file: string): unknown {
  let node = data;
  const segments = segmentsOf(key);
  segments.forEach((segment, index) => {
    const container = node;
    const found =
      Array.isArray(container) ? /^\d+$/.test(segment) && Number(segment) < container.length
      : typeof container === 'object' && container !== null && Object.hasOwn(container, segment);
    if (!found) {
      const at = segments.slice(0, index + 1).join('.');
      throw new TuneError(file, key, `not found${at !== key ? ` (no "${at}")` : ''}; add it to the file or fix proposer.tune.params`);
    }
    node = (container as Record<string, unknown>)[segment];
  });
  return node;
}

function readPoint(data: unknown, tune: TuneConfig, file: string): Point {
  const point: Point = {};
  for (const [key, spec] of Object.entries(tune.params)) point[key] = checkValue(lookup(data, key, file), spec, key, file);
  return point;
}

function checkValue(value: unknown, spec: TuneParam, key: string, file: string): ParamValue {
  const found = `found ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value} ${JSON.stringify(value) ?? ''}`.trimEnd();
  if ('choices' in spec) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    throw new TuneError(file, key, `expected one of ${spec.choices.map((choice) => JSON.stringify(choice)).join(', ')}, ${found}`);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TuneError(file, key, `expected a number (proposer.tune.params gives it min and max), ${found}`);
  }
  return value;
}

/**
 * Writes new values into the file's text. Each value's own characters are replaced where the
 * parser located them, so indentation, key order and comments survive exactly; the result is
 * parsed back and compared, and only if that fails is the file re-serialised.
 */
function writeValues(text: string, format: Format, data: unknown, updates: ReadonlyMap<string, ParamValue>): string {
  const expected = structuredClone(data);
  for (const [key, value] of updates) assign(expected, key, value);
  // Plain YAML strings read best; quoting every string is the second try (a `,` inside a flow map).
  for (const quoteStrings of [false, true]) {
    const spliced = spliceValues(text, format, updates, quoteStrings);
    if (spliced !== null && isDeepStrictEqual(parseLoose(spliced, format), expected)) return spliced;
  }
  return reserialise(text, format, expected, updates);
}

function spliceValues(text: string, format: Format, updates: ReadonlyMap<string, ParamValue>, quoteStrings: boolean): string | null {
  // JSON is YAML 1.2 flow syntax, so one parser locates values in both formats.
  const document = parseDocument(text, { uniqueKeys: false });
  if (document.errors.length > 0) return null;
  const edits: { start: number; end: number; replacement: string }[] = [];
  for (const [key, value] of updates) {
    const node = document.getIn(segmentsOf(key), true);
    // An alias (`lr: *base`) is replaced by the value itself; the anchored original stays as it was.
    if (!(isScalar(node) || isAlias(node)) || !node.range) return null;
    const style = quoteStrings ? 'QUOTE_DOUBLE' : isScalar(node) ? node.type : undefined;
    edits.push({ start: node.range[0], end: node.range[1], replacement: scalarText(value, format, style) });
  }
  edits.sort((a, b) => b.start - a.start);
  let result = text;
  for (const edit of edits) result = result.slice(0, edit.start) + edit.replacement + result.slice(edit.end);
  return result;
}

function scalarText(value: ParamValue, format: Format, style: string | undefined): string {
  if (typeof value !== 'string') return String(value);
  if (format === 'json' || style === 'QUOTE_DOUBLE') return JSON.stringify(value);
  if (style === 'QUOTE_SINGLE') return `'${value.replaceAll("'", "''")}'`;
  const plain = stringify(value, { lineWidth: 0 }).trimEnd();
  return plain.includes('\n') ? JSON.stringify(value) : plain;
}

function parseLoose(text: string, format: Format): unknown {
  try {
    if (format === 'json') return JSON.parse(text) as unknown;
    const document = parseDocument(text);
    return document.errors.length > 0 ? undefined : (document.toJS() as unknown);
  } catch {
    return undefined;
  }
}

function reserialise(text: string, format: Format, expected: unknown, updates: ReadonlyMap<string, ParamValue>): string {
  const newline = text.includes('\r\n') ? '\r\n' : '\n';
  if (format === 'json') {
    const out = JSON.stringify(expected, null, jsonIndent(text));
    return (text.endsWith('\n') ? `${out}\n` : out).replaceAll('\n', newline);
  }
  const document: Document = parseDocument(text);
  for (const [key, value] of updates) document.setIn(segmentsOf(key), value);
  return document.toString({ lineWidth: 0 });
}

/** The indent the file already uses (spaces or a tab), two spaces when it shows none. */
function jsonIndent(text: string): string | number {
  const match = /^[{[][ \t]*\r?\n([ \t]+)\S/.exec(text);
  return match ? match[1]! : 2;
}

function assign(data: unknown, key: string, value: ParamValue): void {
  const segments = segmentsOf(key);
  let node = data as Record<string, unknown>;
  for (const segment of segments.slice(0, -1)) node = node[segment] as Record<string, unknown>;
  node[segments.at(-1)!] = value;
}
