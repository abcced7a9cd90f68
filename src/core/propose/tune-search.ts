/**
 * The `tune` proposer's search, as pure functions over the run's history: a seeded (1+1)-evolution
 * strategy in a normalised [0, 1] space around the best point, whose step size is replayed from the
 * ledger with the 1/5th success rule (a tie counts as "not worse", as the rule has it, so it never
 * shrinks the step), a mirrored step after a regression, a Gaussian-process model of the measured gains
 * that picks the most promising of many candidate steps, plus a share of uniform exploration. It never
 * proposes a point that was already measured, and it says so (null) only when the space is exhausted.
 */
import type { TuneParam } from '../config/config-schema.js';
import type { ExperimentRecord, ExperimentStatus, Verdict } from '../ledger/records.js';
import { formatNumber } from '../config/units.js';
import { gaussian, seededRandom } from './random.js';

/** A value a tuned key can take. */
export type ParamValue = number | string | boolean;
/** Dotted key -> value: one point of the search space. */
export type Point = Record<string, ParamValue>;
/** Dotted key -> search space, as in `proposer.tune.params`. */
export type ParamSpecs = Record<string, TuneParam>;
/**
 * How a proposal was drawn: a step near the best (`local`), the opposite of the last step that regressed
 * (`mirror`), uniformly (`explore`), or from a full listing of a small space (`enumerate`).
 */
export type SearchMode = 'local' | 'mirror' | 'explore' | 'enumerate';
const SEARCH_MODES: readonly string[] = ['local', 'mirror', 'explore', 'enumerate'] satisfies SearchMode[];

/** One proposal that was measured, with what the loop and the judge made of it. */
export interface MeasuredPoint {
  experiment: number;
  point: Point;
  status: ExperimentStatus;
  /** The best point it was proposed from (its parent), as recorded in `notes.from`. */
  from?: Point;
  /** The judge's verdict, when it judged the experiment: tells a tie (`no-change`) from a regression. */
  verdict?: Verdict;
  /** Candidate − parent in the metric's unit, as the judge measured it (paired). */
  delta?: number;
  /** `local` and `mirror` steps adapt the step size; absent counts as `local`. */
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
  /** The metric's goal, which turns measured deltas into gains; without it the search learns from verdicts only (no model). */
  goal?: 'minimize' | 'maximize';
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
  /** How many candidate steps the model compared to choose this one (absent: no model yet). */
  screened?: number;
}

/** Significant digits of floats written to the file: enough to search, few enough to read. */
export const FLOAT_DIGITS = 4;
/** Floats nearer than this share of their range (log range for `scale: log`) to a measured value count as that value. */
export const FLOAT_RESOLUTION = 0.01;
export const SIGMA_INITIAL = 0.2;
const SIGMA_MIN = 0.01;
// Capped well below the range: on a 20–40 experiment budget a wide step wastes experiments.
const SIGMA_MAX = 0.3;
/**
 * The 1/5th success rule of the (1+1)-ES (Rechenberg, "Evolutionsstrategie", 1973), in the form of Kern et al.,
 * "Learning probability distributions in continuous evolutionary algorithms", Natural Computing 3, 2004, and
 * Hansen, Arnold & Auger, "Evolution Strategies", Springer Handbook of Computational Intelligence, 2015, §3.1:
 * σ ← σ · exp((1[f(y) ≤ f(x)] − 1/5) / d). Success is "not worse", so a tie (the judge's `no-change`)
 * grows the step like a gain: a step too small to matter says nothing against the step size, and on a
 * plateau (maxDepth 3 → 2 → 4, all alike) only a larger step can find the edge. Only a regression or a
 * broken candidate shrinks it. ×1.4 and ×1.4^(−1/4) are d ≈ 2.4 (√(n + 1) for five keys), and balance at
 * one success in five.
 */
export const SIGMA_SUCCESS = 1.4;
export const SIGMA_FAILURE = SIGMA_SUCCESS ** -0.25;
/** Keys changed by a local step, on average: few enough to read and attribute each hypothesis. */
const KEYS_PER_STEP = 3;
const LOCAL_ATTEMPTS = 40;
const RETRY_GROWTH = 1.25;
const RANDOM_ATTEMPTS = 200;
/** Largest space listed in full once sampling keeps hitting measured points. */
const ENUMERATE_LIMIT = 50_000;
/** Candidate local steps the model compares for each proposal. */
const MODEL_CANDIDATES = 200;
/** Fewest measured points (the base included) before the model is used, and most it learns from (the latest). */
const MODEL_MIN_POINTS = 3;
const MODEL_MAX_POINTS = 200;

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

/**
 * A string identifying a point after canonicalisation; equal keys mean "the same experiment". A point is
 * the value of every tuned key, not a change from the parent: `maxDepth 3 → 2` from a new parent is a new
 * point, while a point measured from an earlier parent is the same candidate file again, so it is not
 * measured again.
 */
export function pointKey(params: ParamSpecs, point: Point): string {
  return JSON.stringify(Object.keys(params).map((key) => {
    const value = point[key];
    return value === undefined ? null : canonicalValue(params[key]!, value);
  }));
}

/**
 * A test for "already measured": the same point after rounding ({@link pointKey}), or one whose ints and
 * choices are the same as a measured point's and whose every float lies within {@link FLOAT_RESOLUTION}
 * of that point's: `maxDepth 3 → 2, lr 0.01 → 0.01003` is `maxDepth 3 → 2, lr 0.01` again, to any measurement.
 */
export function measuredPoints(params: ParamSpecs, points: readonly Point[]): (point: Point) => boolean {
  const floats = Object.entries(params).filter((entry): entry is [string, NumberParam] => !('choices' in entry[1]) && entry[1].type !== 'int');
  const floatKeys = new Set(floats.map(([key]) => key));
  const exact = new Set(points.map((point) => pointKey(params, point)));
  const discrete = (point: Point) => JSON.stringify(Object.keys(params).map((key) => (floatKeys.has(key) ? null : canonicalValue(params[key]!, point[key]!))));
  const units = (point: Point) => floats.map(([key, spec]) => normalise(spec, point[key] as number));
  // Measured floats, by the ints and choices they were measured with.
  const near = new Map<string, number[][]>();
  for (const point of floats.length > 0 ? points : []) {
    if (floats.some(([key]) => typeof point[key] !== 'number')) continue;
    const key = discrete(point);
    near.set(key, [...(near.get(key) ?? []), units(point)]);
  }
  return (point) => {
    if (exact.has(pointKey(params, point))) return true;
    const neighbours = near.get(discrete(point));
    if (!neighbours) return false;
    const x = units(point);
    return neighbours.some((other) => other.every((value, index) => Math.abs(value - x[index]!) < FLOAT_RESOLUTION));
  };
}

/**
 * True when a measured step counts as a success for the step size: kept, or judged `improved` or
 * `no-change` ("not worse"). A regression, a crash, an invalid run, or an old record that says only
 * `discard` counts as a failure.
 */
export function notWorse(entry: Pick<MeasuredPoint, 'status' | 'verdict'>): boolean {
  return entry.status === 'keep' || entry.verdict === 'improved' || entry.verdict === 'no-change';
}

/**
 * Replays the step size from the ledger with the 1/5th success rule ({@link SIGMA_SUCCESS}): it grows
 * after each local step that was not worse than its parent and shrinks after each one that was, so a
 * resumed run continues exactly where it left off. Exploration and enumeration do not count.
 */
export function replaySigma(history: readonly MeasuredPoint[]): number {
  let sigma = SIGMA_INITIAL;
  for (const entry of history) {
    if (entry.mode === 'explore' || entry.mode === 'enumerate') continue;
    sigma = clamp(sigma * (notWorse(entry) ? SIGMA_SUCCESS : SIGMA_FAILURE), SIGMA_MIN, SIGMA_MAX);
  }
  return sigma;
}

/**
 * Reads the search's memory from ledger records: `notes.params` of each proposal with its status, the
 * judge's verdict and delta, and `notes.from` (the best point it started from), which also counts as
 * visited, like any baseline point.
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
    const judgement = record.judgement;
    history.push({
      experiment: record.experiment,
      point: params,
      status: record.status,
      ...(from ? { from } : {}),
      ...(judgement ? { verdict: judgement.verdict } : {}),
      ...(judgement && Number.isFinite(judgement.delta) ? { delta: judgement.delta } : {}),
      ...(typeof mode === 'string' && SEARCH_MODES.includes(mode) ? { mode: mode as SearchMode } : {}),
    });
  }
  return { history, visited };
}

/**
 * Proposes the next point. With probability `explore` a uniform draw; otherwise a local step: Gaussian
 * steps of the replayed size around `best` on a few keys, plus, after a step from `best` that regressed,
 * its mirror image. Once a few points are measured, a Gaussian-process model of their gains compares
 * {@link MODEL_CANDIDATES} such steps and picks the one of highest expected improvement (a
 * metamodel-assisted ES); before that, the mirror or the first step is taken. Points already measured are
 * skipped by retrying with a growing step, then uniformly, then by listing a small discrete space in
 * full. Returns null only when every point of the space has been measured.
 */
export function nextPoint(input: SearchInput): SearchResult | null {
  const { params, best } = input;
  const keys = Object.keys(params);
  const random = seededRandom(`autoloop-tune:${input.seed}:${input.experiment}`);
  const measured = measuredPoints(params, [best, ...input.history.map((entry) => entry.point), ...(input.visited ?? [])]);

  const result = (point: Point, sigma: number, mode: SearchMode, screened?: number): SearchResult => ({
    point,
    changed: keys.filter((key) => canonicalValue(params[key]!, point[key]!) !== canonicalValue(params[key]!, best[key]!)),
    sigma,
    mode,
    ...(screened !== undefined ? { screened } : {}),
  });
  const fresh = (point: Point): boolean => !measured(point);

  const baseSigma = replaySigma(input.history);
  if (random() >= input.explore) {
    const model = input.goal ? fitModel(params, observations(params, input.history, input.goal)) : null;
    const mirror = mirrorStep(params, best, input.history.at(-1));
    const first: Candidate[] = mirror && fresh(mirror) ? [{ point: mirror, mode: 'mirror' }] : [];
    if (!model && first.length > 0) return result(first[0]!.point, baseSigma, 'mirror');
    let sigma = baseSigma;
    for (let attempt = 0; attempt < LOCAL_ATTEMPTS; attempt++) {
      const candidates = [...(attempt === 0 ? first : [])];
      for (let i = 0; i < (model ? MODEL_CANDIDATES : 1); i++) {
        const point = localStep(params, best, sigma, random);
        if (fresh(point)) candidates.push({ point, mode: 'local' });
      }
      if (candidates.length > 0) {
        const chosen = model ? mostPromising(model, candidates) : candidates[0]!;
        return result(chosen.point, sigma, chosen.mode, model ? candidates.length : undefined);
      }
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

interface Candidate {
  point: Point;
  mode: SearchMode;
}

/**
 * After a local step from `best` that regressed, the opposite step from the same parent: mirrored
 * sampling (Brockhoff, Auger, Hansen, Arnold & Hohm, "Mirrored Sampling and Sequential Selection for
 * Evolution Strategies", PPSN 2010). On a smooth metric, a step that made it worse points away from a
 * better one. Choices keep the parent's value; a mirror is not mirrored again.
 */
function mirrorStep(params: ParamSpecs, best: Point, last: MeasuredPoint | undefined): Point | null {
  if (!last?.from || last.verdict !== 'regressed' || (last.mode !== undefined && last.mode !== 'local')) return null;
  if (pointKey(params, last.from) !== pointKey(params, best)) return null;
  const point: Point = { ...best };
  let moved = false;
  for (const [key, spec] of Object.entries(params)) {
    const [from, to, centre] = [last.from[key], last.point[key], best[key]];
    if ('choices' in spec || typeof from !== 'number' || typeof to !== 'number' || typeof centre !== 'number' || from === to) continue;
    point[key] = denormalise(spec, clamp(normalise(spec, centre) - (normalise(spec, to) - normalise(spec, from)), 0, 1));
    moved ||= canonicalValue(spec, point[key]) !== canonicalValue(spec, centre);
  }
  return moved ? point : null;
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
  // Change a few keys at a time (KEYS_PER_STEP on average), so each hypothesis stays readable and attributable.
  const rate = Math.min(1, KEYS_PER_STEP / keys.length);
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

/**
 * A point drawn uniformly from the space (log-uniformly for `scale: log`), written as the search writes
 * values: whole ints, floats to {@link FLOAT_DIGITS} significant digits. Keys outside `params` keep `best`'s value.
 */
export function uniformPoint(params: ParamSpecs, best: Point, random: () => number): Point {
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


/** What the model learns from: a measured point and its gain over the first parent, in the metric's unit (positive = better). */
interface Observation {
  point: Point;
  gain: number;
}

/**
 * The measured gains, chained through the parents: the first parent (the base) gains 0, and each judged
 * candidate gains its parent's gain plus its own paired improvement over that parent. Paired deltas cancel
 * the drift between experiments that absolute means would carry. A point whose parent has no gain yet is
 * left out; so is a repeat.
 */
function observations(params: ParamSpecs, history: readonly MeasuredPoint[], goal: 'minimize' | 'maximize'): Observation[] {
  const sign = goal === 'minimize' ? -1 : 1;
  const gains = new Map<string, number>();
  const found: Observation[] = [];
  for (const entry of history) {
    if (!entry.from || entry.delta === undefined) continue;
    const parentKey = pointKey(params, entry.from);
    if (gains.size === 0) {
      gains.set(parentKey, 0);
      found.push({ point: entry.from, gain: 0 });
    }
    const parent = gains.get(parentKey);
    const key = pointKey(params, entry.point);
    if (parent === undefined || gains.has(key)) continue;
    // A gain the loop did not keep (beyond suspicious_effect, or a guard regressed) is worth no more than its parent
    // to the search: otherwise the model would keep asking for its neighbours, which the loop would refuse too.
    const refused = entry.verdict === 'improved' && entry.status !== 'keep';
    const gain = refused ? parent : parent + sign * entry.delta;
    gains.set(key, gain);
    found.push({ point: entry.point, gain });
  }
  return found.slice(-MODEL_MAX_POINTS);
}

/** The model's belief about a point's gain, standardised: posterior mean and standard deviation. */
interface Model {
  predict(point: Point): { mean: number; sd: number };
  /** The best posterior mean among the measured points: what a candidate must beat. */
  incumbent: number;
}

/** Length scales (in the normalised space) and noise variances (of the standardised gains) tried when fitting. */
const LENGTH_SCALES = [0.1, 0.2, 0.35, 0.6, 1, 1.6];
const NOISE_VARIANCES = [1e-4, 0.01, 0.05, 0.2, 0.5];
/** Squared distance between two different choices of one key, in the normalised space. */
const CHOICE_DISTANCE = 0.5;

/**
 * Gaussian-process regression of the gains (Rasmussen & Williams, "Gaussian Processes for Machine
 * Learning", 2006, algorithm 2.1), with a Matérn 5/2 kernel over the normalised numbers and the
 * mismatched choices, its length scale and noise chosen on a small grid by marginal likelihood (their
 * chapter 5). Null with too few points, or when every gain is the same (nothing to learn yet).
 */
function fitModel(params: ParamSpecs, found: readonly Observation[]): Model | null {
  const n = found.length;
  if (n < MODEL_MIN_POINTS) return null;
  const encode = encoder(params);
  const xs = found.map((entry) => encode(entry.point));
  const centre = found.reduce((sum, entry) => sum + entry.gain, 0) / n;
  const spread = Math.sqrt(found.reduce((sum, entry) => sum + (entry.gain - centre) ** 2, 0) / n);
  if (!(spread > 0)) return null;
  const y = found.map((entry) => (entry.gain - centre) / spread);
  const distances = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) distances[i * n + j] = distances[j * n + i] = encodedDistance(xs[i]!, xs[j]!);

  let fit: { factor: Float64Array; alpha: Float64Array; length: number; likelihood: number } | null = null;
  for (const length of LENGTH_SCALES) {
    for (const noise of NOISE_VARIANCES) {
      const kernel = new Float64Array(n * n);
      for (let i = 0; i < n * n; i++) kernel[i] = matern52(distances[i]!, length);
      for (let i = 0; i < n; i++) kernel[i * n + i]! += noise;
      const factor = cholesky(kernel, n);
      if (!factor) continue;
      const alpha = solveUpper(factor, solveLower(factor, y, n), n);
      let likelihood = 0;
      for (let i = 0; i < n; i++) likelihood -= 0.5 * y[i]! * alpha[i]! + Math.log(factor[i * n + i]!);
      if (!fit || likelihood > fit.likelihood) fit = { factor, alpha, length, likelihood };
    }
  }
  if (!fit) return null;
  const { factor, alpha, length } = fit;
  const predict = (point: Point) => {
    const x = encode(point);
    const k = xs.map((other) => matern52(encodedDistance(x, other), length));
    let mean = 0;
    for (let i = 0; i < n; i++) mean += k[i]! * alpha[i]!;
    const v = solveLower(factor, k, n);
    let explained = 0;
    for (let i = 0; i < n; i++) explained += v[i]! ** 2;
    return { mean, sd: Math.sqrt(Math.max(1 - explained, 1e-12)) };
  };
  return { predict, incumbent: Math.max(...found.map((entry) => predict(entry.point).mean)) };
}

/** The candidate of highest expected improvement over the incumbent (Jones, Schonlau & Welch 1998); ties go to the higher mean. */
function mostPromising(model: Model, candidates: readonly Candidate[]): Candidate {
  let chosen = candidates[0]!;
  let top = { improvement: -Infinity, mean: -Infinity };
  for (const candidate of candidates) {
    const { mean, sd } = model.predict(candidate.point);
    const improvement = expectedImprovement(mean - model.incumbent, sd);
    if (improvement > top.improvement || (improvement === top.improvement && mean > top.mean)) {
      chosen = candidate;
      top = { improvement, mean };
    }
  }
  return chosen;
}

/** E[max(0, f − incumbent)] for f ~ N(incumbent + margin, sd²). */
function expectedImprovement(margin: number, sd: number): number {
  const z = margin / sd;
  return margin * normalCdf(z) + sd * Math.exp(-(z * z) / 2) / Math.sqrt(2 * Math.PI);
}

/** Φ(z), from Abramowitz & Stegun 7.1.26 (error below 1.5e-7), computed without cancellation in the lower tail. */
function normalCdf(z: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const tail = 0.5 * t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-(z * z) / 2);
  return z >= 0 ? 1 - tail : tail;
}

/** A point as the model sees it: numbers normalised to [0, 1] (log for `scale: log`), choices as they are. */
function encoder(params: ParamSpecs): (point: Point) => ParamValue[] {
  const entries = Object.entries(params);
  return (point) => entries.map(([key, spec]) => ('choices' in spec ? point[key]! : normalise(spec, point[key] as number)));
}

function encodedDistance(a: readonly ParamValue[], b: readonly ParamValue[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i]!, b[i]!];
    if (typeof x === 'number' && typeof y === 'number') sum += (x - y) ** 2;
    else if (x !== y) sum += CHOICE_DISTANCE;
  }
  return Math.sqrt(sum);
}

function matern52(distance: number, length: number): number {
  const s = (Math.sqrt(5) * distance) / length;
  return (1 + s + (s * s) / 3) * Math.exp(-s);
}

/** The lower Cholesky factor of a symmetric n × n matrix (row-major), or null when it is not positive definite. */
function cholesky(matrix: Float64Array, n: number): Float64Array | null {
  const factor = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= factor[i * n + k]! * factor[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) return null;
        factor[i * n + i] = Math.sqrt(sum);
      } else {
        factor[i * n + j] = sum / factor[j * n + j]!;
      }
    }
  }
  return factor;
}

/** Solves L x = b for the lower factor L. */
function solveLower(factor: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= factor[i * n + k]! * x[k]!;
    x[i] = sum / factor[i * n + i]!;
  }
  return x;
}

/** Solves Lᵀ x = b for the lower factor L. */
function solveUpper(factor: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = b[i]!;
    for (let k = i + 1; k < n; k++) sum -= factor[k * n + i]! * x[k]!;
    x[i] = sum / factor[i * n + i]!;
  }
  return x;
}
