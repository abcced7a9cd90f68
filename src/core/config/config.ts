/**
 * Parsing and validation of `.github/autoloop.yml` into a typed {@link Config}, with errors
 * that name the file, the key, the line and what was expected. Pure: the caller reads the file.
 */
import { createHash } from 'node:crypto';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './config-schema.js';
import { INSTALLED_CONFIG_SCHEMA } from './json-schema.js';
import { AutoloopError, EXIT } from '../errors.js';
import { closestKey } from './suggest.js';

/** One problem in a config file. */
export interface ConfigIssue {
  file: string;
  /** Dotted path to the key, e.g. `metric.goal` or `guards[0].name`; empty for the whole file. */
  path: string;
  /** 1-based line of the offending key or value, or null when no line applies. */
  line: number | null;
  message: string;
}

/** The last line of every {@link ConfigError} message: where to read what is allowed, in the user's repository. */
export const CONFIG_HINT = `See ${INSTALLED_CONFIG_SCHEMA} or the README's config section.`;

/** `FILE:LINE: PATH: MESSAGE`, leaving out the line when unknown and the path when empty. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line === null ? issue.file : `${issue.file}:${issue.line}`;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** A config the user can fix: every problem found, each with its file, key path and line. */
export class ConfigError extends AutoloopError {
  override readonly name = 'ConfigError';
  override readonly exitCode = EXIT.config;
  readonly file: string;
  readonly issues: ConfigIssue[];

  constructor(file: string, issues: ConfigIssue[], hint: string = CONFIG_HINT) {
    super([...issues.map(formatConfigIssue), hint].join('\n'), { subject: { file } });
    this.file = file;
    this.issues = issues;
  }
}

/** sha256 (hex) of the config text, recorded with every run so that results name the config they used. */
export function configHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Parses and validates the YAML text of a config. `file` is only used in messages.
 * Throws {@link ConfigError} listing every problem (YAML syntax, unknown keys, wrong types, ...).
 */
export function parseConfig(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  // prettyErrors off: we print our own `file:line:` prefix, not the yaml package's excerpt.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;

  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((error) => {
        const quoteStart = error.code === 'MISSING_CHAR' ? unclosedQuoteStart(doc, error.pos[0]) : undefined;
        if (quoteStart !== undefined) return { file, path: '', line: lineAt(quoteStart), message: 'invalid YAML: this quoted string is never closed' };
        return { file, path: '', line: lineAt(error.pos[0]), message: yamlErrorMessage(error.code, error.message) };
      }),
    );
  }

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new ConfigError(file, [{ file, path: '', line: null, message: 'the file is empty; expected a mapping with at least metric, evaluate and scope' }]);
  }

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // Alias loops and similar; the parser itself reported no error.
    throw new ConfigError(file, [{ file, path: '', line: null, message: `cannot read the YAML: ${(error as Error).message}` }]);
  }

  if (!isPlainObject(data)) {
    const line = doc.contents.range ? lineAt(doc.contents.range[0]) : null;
    throw new ConfigError(file, [{ file, path: '', line, message: `expected a mapping with at least metric, evaluate and scope, got ${describeValue(data)}` }]);
  }

  const result = configSchema.safeParse(data);
  if (result.success) return result.data;

  const context: IssueContext = { file, data, doc, lineAt };
  const issues = result.error.issues.flatMap((issue) => toConfigIssues(issue, [], context));
  // Stable sort: the file reads top to bottom, and so should the list of its problems.
  issues.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  throw new ConfigError(file, issues);
}

type Path = readonly PropertyKey[];

interface IssueContext {
  file: string;
  data: unknown;
  doc: Document;
  lineAt: (offset: number) => number;
}

/** The yaml package reports an unclosed quote where the file ends; the user needs where it opened. */
function unclosedQuoteStart(doc: Document, errorOffset: number): number | undefined {
  let start: number | undefined;
  visit(doc, {
    Scalar(_key, node) {
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
      if (quoted && node.range && node.range[0] < errorOffset && node.range[1] >= errorOffset) start = node.range[0];
    },
  });
  return start;
}

function yamlErrorMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'expected one YAML document, found several (remove the extra `---`)';
  return `invalid YAML: ${message}`;
}

/** One zod issue in plain words; an unknown-keys issue becomes one entry per key, each on its own line. */
function toConfigIssues(issue: z.core.$ZodIssue, prefix: Path, context: IssueContext): ConfigIssue[] {
  const path = [...prefix, ...issue.path];
  const at = (where: Path, message: string): ConfigIssue => ({
    file: context.file,
    path: formatPath(where),
    line: lineOf(context, where),
    message,
  });
  const value = valueAt(context.data, path);
  const key = path[path.length - 1];
  // zod reports an absent key as a wrong type (or a wrong enum value); say it is missing, at the mapping that lacks it.
  const missing = value === undefined && key !== undefined && !hasKey(valueAt(context.data, path.slice(0, -1)), key);

  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => at([...path, key], unknownKeyMessage(key, path, context.data)));

    case 'invalid_type': {
      const expected = expectedName(issue.expected);
      if (missing) return [at(path, missingKeyMessage(key, expected))];
      return [at(path, `expected ${expected}, got ${describeValue(value)}`)];
    }

    case 'invalid_value': {
      const options = issue.values.map((option) => JSON.stringify(option));
      if (missing) return [at(path, missingKeyMessage(key, options.join(' or ')))];
      const got = typeof value === 'string' ? JSON.stringify(value) : describeValue(value);
      return [at(path, options.length === 1 ? `expected ${options[0]}, got ${got}` : `expected one of ${options.join(', ')}, got ${got}`)];
    }

    case 'too_small':
    case 'too_big':
      return [at(path, sizeMessage(issue, value))];

    case 'invalid_format': {
      const got = typeof value === 'string' ? JSON.stringify(value) : describeValue(value);
      const message = issue.message.startsWith('Invalid') ? `expected a string in ${issue.format} format` : issue.message;
      return [at(path, `${message}, got ${got}`)];
    }

    case 'invalid_union':
      return unionIssues(issue, path, value, context, at);

    case 'custom':
      return [at(path, issue.message)];

    default:
      return [at(path, lowerFirst(issue.message))];
  }
}

/**
 * A union failed on every branch. A message set on the union itself (durations, effects) wins;
 * otherwise report the branch that came closest, so the user sees one problem, not one per branch.
 */
function unionIssues(
  issue: z.core.$ZodIssueInvalidUnion,
  path: Path,
  value: unknown,
  context: IssueContext,
  at: (where: Path, message: string) => ConfigIssue,
): ConfigIssue[] {
  if (issue.message !== 'Invalid input' || issue.errors.length === 0) return [at(path, lowerFirst(issue.message))];

  const wrongShape = issue.errors.every((branch) => branch.length === 1 && branch[0]?.code === 'invalid_type' && branch[0].path.length === 0);
  if (wrongShape) {
    const expected = [...new Set(issue.errors.map((branch) => expectedName((branch[0] as z.core.$ZodIssueInvalidType).expected)))];
    return [at(path, `expected ${expected.join(' or ')}, got ${describeValue(value)}`)];
  }

  const weight = (branch: z.core.$ZodIssue[]): number =>
    branch.reduce((sum, sub) => sum + (sub.code === 'unrecognized_keys' ? sub.keys.length : 1), 0);
  const closest = issue.errors.reduce((best, branch) => (weight(branch) < weight(best) ? branch : best));
  // An unknown key usually explains the rest (a misspelt key is also a missing one), so it goes first.
  const first = closest.find((sub) => sub.code === 'unrecognized_keys') ?? closest[0];
  return first ? toConfigIssues(first, path, context) : [at(path, 'invalid value')];
}

function missingKeyMessage(key: PropertyKey | undefined, expected: string): string {
  return `missing required key ${JSON.stringify(String(key))} (expected ${expected})`;
}

function sizeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, value: unknown): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum);
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'array':
    case 'set': {
      const count = Array.isArray(value) ? value.length : 0;
      const got = count === 0 ? 'an empty list' : `${count}`;
      return `expected ${small ? 'at least' : 'at most'} ${bound} ${bound === 1 ? 'entry' : 'entries'}, got ${got}`;
    }
    case 'string':
      if (small && bound === 1) return 'expected a non-empty string';
      return `expected ${small ? 'at least' : 'at most'} ${bound} characters, got ${typeof value === 'string' ? value.length : describeValue(value)}`;
    default: {
      const op = small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
      return `expected a number ${op} ${bound}, got ${describeValue(value)}`;
    }
  }
}

function unknownKeyMessage(key: string, parentPath: Path, data: unknown): string {
  const present = valueAt(data, parentPath);
  const allowed = allowedKeys(parentPath);
  // A key the user already wrote is no fix for a second, misspelt one.
  const candidates = allowed.filter((name) => !hasKey(present, name));
  const suggestion = closestKey(key, candidates);
  if (suggestion) return `unknown key ${JSON.stringify(key)}; did you mean ${JSON.stringify(suggestion)}?`;
  return allowed.length > 0 ? `unknown key ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})` : `unknown key ${JSON.stringify(key)}`;
}

// Just enough of zod's internal definitions to walk from the root schema to the object at a path.
interface SchemaDef {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
  options?: readonly z.core.$ZodType[];
}

const defOf = (schema: z.core.$ZodType): SchemaDef => schema._zod.def as unknown as SchemaDef;

/** The schemas a value may have to match: wrappers (defaults, pipes) removed, unions spread. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrap(def.in);
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap);
  return [schema];
}

/** Keys allowed in the mapping at `path`, in schema order; several object schemas (a union) are merged. */
function allowedKeys(path: Path): string[] {
  let schemas = unwrap(configSchema);
  for (const segment of path) {
    schemas = schemas
      .flatMap((schema): z.core.$ZodType[] => {
        const def = defOf(schema);
        if (def.type === 'object' && typeof segment === 'string' && def.shape?.[segment]) return [def.shape[segment]];
        if (def.type === 'array' && typeof segment === 'number' && def.element) return [def.element];
        if (def.type === 'record' && def.valueType) return [def.valueType];
        return [];
      })
      .flatMap(unwrap);
  }
  const keys = schemas.flatMap((schema) => Object.keys(defOf(schema).shape ?? {}));
  return [...new Set(keys)];
}

/**
 * The 1-based line of the key (or list item) at `path`. When the path goes past what the file
 * holds (a missing key), the line of the deepest part that exists: the mapping that lacks it.
 */
function lineOf(context: IssueContext, path: Path): number | null {
  let node: unknown = context.doc.contents;
  let line = isNode(node) && node.range ? context.lineAt(node.range[0]) : null;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (isScalar(item.key) ? String(item.key.value) : String(item.key)) === String(segment));
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) line = context.lineAt(pair.key.range[0]);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (!isNode(item) || !item.range) break;
      line = context.lineAt(item.range[0]);
      node = item;
    } else {
      break;
    }
  }
  return line;
}

function valueAt(data: unknown, path: Path): unknown {
  let value = data;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function hasKey(value: unknown, key: PropertyKey): boolean {
  return value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, key);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `guards[0].name`; keys that are not plain words are quoted: `params["model.lr"]`. */
function formatPath(path: Path): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(segment))) text += text ? `.${String(segment)}` : String(segment);
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

const EXPECTED_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

function expectedName(expected: string): string {
  return EXPECTED_NAMES[expected] ?? expected;
}

/** What the user wrote, briefly: `string "abc"`, `number 5`, `a list`, `an empty value`. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  return `${typeof value} ${String(value)}`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
