/**
 * The `tune` proposer's search, as pure functions: a seeded (1+1)-evolution strategy in a
 * normalised [0, 1] space around the best point, whose step size is replayed from the ledger
 * with the 1/5th success rule, plus a share of uniform exploration. It never proposes a point
 * that was already measured, and it says so (null) only when the space is exhausted.
 */
import type { TuneParam } from '../config/config-schema.js';
import type { ExperimentRecord, ExperimentStatus } from '../ledger/records.js';
import { formatNumber } from '../config/units.js';
import { mulberry32 } from './random.js';

/** A value a tuned key can take. */
export type ParamValue = number | string | boolean;
/** Dotted key -> value: one point of the search space. */
export type Point = Record<string, ParamValue>;
/** Dotted key -> search space, as in `proposer.tune.params`. */
export type ParamSpecs = Record<string, TuneParam>;
/** How a proposal was drawn: near the best (`local`), uniformly (`explore`), or from a full listing (`enumerate`). */
export type SearchMode = 'local' | 'explore' | 'enumerate';

/** One proposal that was measured, with what the loop made of it. */
export interface MeasuredPoint {
  experiment: number;
  point: Point;
  status: ExperimentStatus;
  /** Only `local` steps adapt the step size; absent counts as `local`. */
  mode?: SearchMode;
}

/** Everything the search needs; the same input always gives the same answer. */
export interface SearchInput {
  params: ParamSpecs;
  /** The values at the best commit so far: the centre of local steps. Always counts as measured. */
  best: Point;
  /** Measured proposals, in experiment order. */
  history: readonly MeasuredPoint[];
  /** Points known to be measured without an outcome to learn from (the baseline, earlier best points). */
  visited?: readonly Point[];
  seed: number;
  /** The experiment being proposed (1-based): seeds this proposal's random draws. */
  experiment: number;
  /** Probability of a uniform random point instead of a local step. */
  explore: number;
}

/** The next point to measure. */
export interface SearchResult {
  /** Every tuned key: changed ones carry their new (rounded) value, the rest the best point's value. */
  point: Point;
  /** Keys whose value differs from the best point, in `params` order. */
  changed: string[];
  /** Step size in the normalised space used for this proposal (after any retries). */
  sigma: number;
  mode: SearchMode;
}

/** Significant digits of floats written to the file: enough to search, few enough to read. */
export const FLOAT_DIGITS = 4;
export const SIGMA_INITIAL = 0.2;
const SIGMA_MIN = 0.01;
// Capped well below the range: on a 20–40 experiment budget a wide step wastes experiments.
const SIGMA_MAX = 0.3;
// 1/5th success rule: ×1.4 on success and ×1.4^(-1/4) on failure balance at one success in five.
const SIGMA_SUCCESS = 1.4;
const SIGMA_FAILURE = SIGMA_SUCCESS ** -0.25;
const LOCAL_ATTEMPTS = 40;
const RETRY_GROWTH = 1.25;
const RANDOM_ATTEMPTS = 200;
/** Largest space listed in full once sampling keeps hitting measured points. */
const ENUMERATE_LIMIT = 50_000;

/** Rounds to `digits` significant digits, as a clean double (`0.1 + 0.2` -> `0.3`). */
export function roundSignificant(value: number, digits = FLOAT_DIGITS): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** The value as the search compares it: ints rounded, floats to {@link FLOAT_DIGITS} significant digits. */
export function canonicalValue(spec: TuneParam, value: ParamValue): ParamValue {
  if ('choices' in spec || typeof value !== 'number') return value;
  return spec.type === 'int' ? Math.round(value) : roundSignificant(value);
}

/** A string identifying a point after canonicalisation; equal keys mean "the same experiment". */
export function pointKey(params: ParamSpecs, point: Point): string {
  return JSON.stringify(Object.keys(params).map((key) => {
    const value = point[key];
    return value === undefined ? null : canonicalValue(params[key]!, value);
  }));
}

/**
 * Replays the step size from the ledger: it grows after each kept local step and shrinks after
 * each failed one, so a resumed run continues exactly where it left off.
 */
export function replaySigma(history: readonly MeasuredPoint[]): number {
  let sigma = SIGMA_INITIAL;
  for (const entry of history) {
    if (entry.mode !== undefined && entry.mode !== 'local') continue;
    sigma = clamp(sigma * (entry.status === 'keep' ? SIGMA_SUCCESS : SIGMA_FAILURE), SIGMA_MIN, SIGMA_MAX);
  }
  return sigma;
}

/**
 * Reads the search's memory from ledger records: `notes.params` of each proposal with its
 * status, and `notes.from` (the best point it started from) plus any baseline point as visited.
 */
export function readTuneHistory(records: readonly ExperimentRecord[]): { history: MeasuredPoint[]; visited: Point[] } {
  const history: MeasuredPoint[] = [];
  const visited: Point[] = [];
  for (const record of [...records].sort((a, b) => a.experiment - b.experiment)) {
    const notes = record.proposer?.notes ?? {};
    const params = asPoint(notes['params']);
    const from = asPoint(notes['from']);
    if (from) visited.push(from);
    if (!params) continue;
    if (record.experiment === 0) {
      visited.push(params);
      continue;
    }
    const mode = notes['mode'];
    history.push({
      experiment: record.experiment,
      point: params,
      status: record.status,
      ...(mode === 'local' || mode === 'explore' || mode === 'enumerate' ? { mode } : {}),
    });
  }
  return { history, visited };
}

/**
 * Proposes the next point: with probability `explore` a uniform draw, otherwise a Gaussian step
 * of the replayed size around `best` on a random subset of keys. Points already measured are
 * skipped by retrying with a growing step, then uniformly, then by listing a small discrete
 * space in full. Returns null only when every point of the space has been measured.
 */
export function nextPoint(input: SearchInput): SearchResult | null {
  const { params, best } = input;
  const keys = Object.keys(params);
  const random = createRandom(input.seed, input.experiment);
  const measured = new Set<string>([pointKey(params, best)]);
  for (const entry of input.history) measured.add(pointKey(params, entry.point));
  for (const point of input.visited ?? []) measured.add(pointKey(params, point));

  const result = (point: Point, sigma: number, mode: SearchMode): SearchResult => ({
    point,
    changed: keys.filter((key) => canonicalValue(params[key]!, point[key]!) !== canonicalValue(params[key]!, best[key]!)),
    sigma,
    mode,
  });
  const fresh = (point: Point): boolean => !measured.has(pointKey(params, point));

  const baseSigma = replaySigma(input.history);
  if (random() >= input.explore) {
    let sigma = baseSigma;
    for (let attempt = 0; attempt < LOCAL_ATTEMPTS; attempt++) {
      const candidate = localStep(params, best, sigma, random);
      if (fresh(candidate)) return result(candidate, sigma, 'local');
      sigma = Math.min(1, sigma * RETRY_GROWTH);
    }
  }
  for (let attempt = 0; attempt < RANDOM_ATTEMPTS; attempt++) {
    const candidate = uniformPoint(params, best, random);
    if (fresh(candidate)) return result(candidate, baseSigma, 'explore');
  }
  const all = enumerate(params, best);
  if (!all) return null; // Continuous and still not exhausted in practice: only reachable by pathological ranges.
  const open = all.filter(fresh);
  if (open.length === 0) return null;
  // Nearest unmeasured point to the best: keeps the search local even when listing.
  const distances = open.map((point) => distance(params, best, point));
  const nearest = Math.min(...distances);
  const ties = open.filter((_, index) => distances[index]! <= nearest + 1e-12);
  return result(ties[Math.floor(random() * ties.length)]!, baseSigma, 'enumerate');
}

/**
 * A hypothesis for people: the changed keys only, e.g. `lr 0.01 → 0.02, hidden 16 → 24`.
 * Keys follow `after`'s order.
 */
export function describeChange(before: Point, after: Point): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(after)) {
    const previous = before[key];
    if (previous === value) continue;
    parts.push(`${key} ${previous === undefined ? '(unset)' : formatValue(previous)} → ${formatValue(value)}`);
  }
  return parts.length > 0 ? parts.join(', ') : 'no change';
}

function formatValue(value: ParamValue): string {
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

function asPoint(value: unknown): Point | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const point: Point = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === 'number' || typeof entry === 'string' || typeof entry === 'boolean') point[key] = entry;
  }
  return point;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

type NumberParam = Exclude<TuneParam, { choices: unknown }>;

/** The interval [low, high] in the search's own coordinate (log for `scale: log`) that maps onto [0, 1]. */
function interval(spec: NumberParam): [number, number] {
  // Ints own the half-unit around them, so the end values are drawn as often as the others.
  const low = spec.type === 'int' ? spec.min - 0.5 : spec.min;
  const high = spec.type === 'int' ? spec.max + 0.5 : spec.max;
  if (spec.scale === 'log') return [Math.log(spec.type === 'int' ? Math.max(low, spec.min / 2) : low), Math.log(high)];
  return [low, high];
}

function normalise(spec: NumberParam, value: number): number {
  const [low, high] = interval(spec);
  const x = spec.scale === 'log' ? Math.log(Math.max(value, Number.MIN_VALUE)) : value;
  return clamp((x - low) / (high - low), 0, 1);
}

function denormalise(spec: NumberParam, unit: number): number {
  const [low, high] = interval(spec);
  const x = low + unit * (high - low);
  return snap(spec, spec.scale === 'log' ? Math.exp(x) : x);
}

/** The nearest writable value inside [min, max]: a whole number, or a float with 4 significant digits. */
function snap(spec: NumberParam, value: number): number {
  if (spec.type === 'int') {
    const low = Math.ceil(spec.min);
    const high = Math.floor(spec.max);
    return low > high ? Math.round((spec.min + spec.max) / 2) : clamp(Math.round(value), low, high);
  }
  const rounded = roundSignificant(value);
  if (rounded > spec.max) return floorSignificant(spec.max) >= spec.min ? floorSignificant(spec.max) : spec.max;
  if (rounded < spec.min) return ceilSignificant(spec.min) <= spec.max ? ceilSignificant(spec.min) : spec.min;
  return rounded;
}

/** One unit in the last significant digit of `value`. */
function significantStep(value: number): number {
  return 10 ** (Math.floor(Math.log10(Math.abs(value))) - (FLOAT_DIGITS - 1));
}

function floorSignificant(value: number): number {
  const rounded = roundSignificant(value);
  return rounded > value ? roundSignificant(rounded - significantStep(rounded)) : rounded;
}

function ceilSignificant(value: number): number {
  const rounded = roundSignificant(value);
  return rounded < value ? roundSignificant(rounded + significantStep(rounded)) : rounded;
}

function localStep(params: ParamSpecs, best: Point, sigma: number, random: () => number): Point {
  const keys = Object.keys(params);
  // Change a few keys at a time (two on average), so each hypothesis stays readable and attributable.
  const rate = Math.min(1, 2 / keys.length);
  let chosen = keys.filter(() => random() < rate);
  if (chosen.length === 0) chosen = [keys[Math.floor(random() * keys.length)]!];
  const point: Point = { ...best };
  for (const key of chosen) {
    const spec = params[key]!;
    const current = best[key]!;
    if ('choices' in spec) {
      const others = spec.choices.filter((choice) => choice !== current);
      if (others.length > 0) point[key] = others[Math.floor(random() * others.length)]!;
      continue;
    }
    const step = sigma * gaussian(random);
    let value = denormalise(spec, reflect(normalise(spec, current as number) + step));
    if (spec.type === 'int' && value === canonicalValue(spec, current)) {
      // A small step rounds back to the same whole number: move by one in the step's direction.
      const direction = step >= 0 ? 1 : -1;
      const moved = snap(spec, value + direction);
      value = moved !== value ? moved : snap(spec, value - direction);
    }
    point[key] = value;
  }
  return point;
}

function uniformPoint(params: ParamSpecs, best: Point, random: () => number): Point {
  const point: Point = { ...best };
  for (const [key, spec] of Object.entries(params)) {
    point[key] = 'choices' in spec ? spec.choices[Math.floor(random() * spec.choices.length)]! : denormalise(spec, random());
  }
  return point;
}

/** Folds a step that left [0, 1] back inside, so the bounds are not over-sampled. */
function reflect(unit: number): number {
  let x = Math.abs(unit) % 2;
  if (x > 1) x = 2 - x;
  return x;
}

function distance(params: ParamSpecs, a: Point, b: Point): number {
  let sum = 0;
  for (const [key, spec] of Object.entries(params)) {
    if ('choices' in spec) sum += a[key] === b[key] ? 0 : 1;
    else sum += (normalise(spec, a[key] as number) - normalise(spec, b[key] as number)) ** 2;
  }
  return sum;
}

/** Every writable value of one key, or null when there are too many (or infinitely many, around 0). */
function gridValues(spec: TuneParam, limit: number): ParamValue[] | null {
  if ('choices' in spec) return [...spec.choices];
  if (spec.type === 'int') {
    const low = Math.ceil(spec.min);
    const high = Math.floor(spec.max);
    if (high - low + 1 > limit) return null;
    return low > high ? [snap(spec, spec.min)] : Array.from({ length: high - low + 1 }, (_, index) => low + index);
  }
  // Floats with 4 significant digits are finite only on an interval that does not reach 0.
  if (spec.min <= 0 && spec.max >= 0) return null;
  const negative = spec.max < 0;
  const low = negative ? -spec.max : spec.min;
  const high = negative ? -spec.min : spec.max;
  const values: number[] = [];
  for (let value = ceilSignificant(low); value <= high; value = roundSignificant(value + significantStep(value))) {
    if (values.length >= limit) return null;
    values.push(negative ? -value : value);
  }
  return values.length > 0 ? values : [snap(spec, spec.min)];
}

/** Every point of a small discrete space, or null when the space is too large to list. */
function enumerate(params: ParamSpecs, best: Point): Point[] | null {
  let points: Point[] = [{ ...best }];
  for (const [key, spec] of Object.entries(params)) {
    const values = gridValues(spec, ENUMERATE_LIMIT);
    if (!values || points.length * values.length > ENUMERATE_LIMIT) return null;
    points = points.flatMap((point) => values.map((value) => ({ ...point, [key]: value })));
  }
  return points;
}

function gaussian(random: () => number): number {
  // Box–Muller; 1 - u keeps the logarithm finite.
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** mulberry32 seeded by an FNV-1a hash of (seed, experiment): each proposal has its own stream. */
function createRandom(seed: number, experiment: number): () => number {
  let hash = 0x811c9dc5;
  for (const char of `autoloop-tune:${seed}:${experiment}`) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193);
  }
  return mulberry32(hash);
}
