/**
 * Real objectives for `bench/tune-vs-random.ts --real`: the value of a point is what the library really
 * does with it, computed once per distinct setting and remembered (deterministic, so noise 0).
 *
 * - forest: `ml-random-forest` regression of Miles_per_Gallon on `vega-datasets`' cars.json (the 392 cars
 *   with every field) over nEstimators, maxFeatures, maxDepth, minNumSamples, sample bagging and feature
 *   replacement: 2-fold cross-validated RMSE on one fixed shuffle, printed to 4 decimals as an evaluator
 *   would; the forest's own seed is fixed. Base: the library's defaults. Best known: the best of
 *   {@link FOREST_REFERENCE_POINTS} uniform points and of every point a search measured (random search's
 *   uniform draws among them). Its best needs both choices flipped and 6 of the 7 features.
 * - zlib: deflate output size in bytes of TypeScript's `lib/lib.es5.d.ts` (219 KB of declarations and
 *   comments) over level, memLevel, windowBits and strategy. Base: zlib's defaults. Best known: the full
 *   grid of 2,835 settings; its best (level 8, memLevel 7) is not the default, and only 28 settings beat the default.
 *
 * A first run trains about 3,600 forests (minutes); later runs read the remembered values and take seconds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { RandomForestRegression } from 'ml-random-forest';
import { mulberry32 } from './simulate.js';
import type { Objective } from './tune-vs-random.js';
import type { Point } from '../src/core/propose/tune-search.js';

const require = createRequire(import.meta.url);

/** Uniform points whose forests are trained for the forest's best known. */
const FOREST_REFERENCE_POINTS = 200;
/** Cross-validation folds: training costs about the square of the rows (ml-cart tries every split of every feature), so few. */
const FOLDS = 2;

interface Car {
  Miles_per_Gallon: number | null;
  Cylinders: number;
  Displacement: number;
  Horsepower: number | null;
  Weight_in_lbs: number;
  Acceleration: number;
  Year: string;
  Origin: string;
}

const FEATURES = ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin'] as const;

/** The cars with every field, as feature rows and targets, in one fixed shuffled order. */
function loadCars(): { x: number[][]; y: number[]; file: string } {
  // The package exports only its loader; the data files ship beside it in data/.
  const file = path.join(path.dirname(require.resolve('vega-datasets')), '..', 'data', 'cars.json');
  const cars = (JSON.parse(readFileSync(file, 'utf8')) as Car[]).filter((car) => car.Miles_per_Gallon !== null && car.Horsepower !== null);
  const origins = ['USA', 'Europe', 'Japan'];
  const random = mulberry32(2024);
  for (let i = cars.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [cars[i], cars[j]] = [cars[j]!, cars[i]!];
  }
  return {
    x: cars.map((car) => [car.Cylinders, car.Displacement, car.Horsepower!, car.Weight_in_lbs, car.Acceleration, Number(car.Year.slice(0, 4)), origins.indexOf(car.Origin)]),
    y: cars.map((car) => car.Miles_per_Gallon!),
    file,
  };
}

/**
 * Remembers `value` by `key`, also across runs: in a file of the system's temporary directory named by
 * `name` and a hash of `inputs` (the data, the library's version), written when the process exits. Counts
 * the values this run really computed.
 */
function memoised(name: string, inputs: readonly (string | Buffer)[], key: (point: Point) => string, value: (point: Point) => number): { value: (point: Point) => number; computed: () => number } {
  const hash = createHash('sha256');
  for (const input of inputs) hash.update(input).update('\0');
  const file = path.join(os.tmpdir(), 'autoloop-bench-tune-real', `${name}-${hash.digest('hex').slice(0, 16)}.json`);
  let cache = new Map<string, number>();
  try {
    cache = new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>));
  } catch {
    // First run: nothing remembered yet.
  }
  const known = cache.size;
  let computed = 0;
  process.once('exit', () => {
    if (cache.size === known) return;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(Object.fromEntries(cache)));
  });
  return {
    value: (point) => {
      const at = key(point);
      let found = cache.get(at);
      if (found === undefined) {
        found = value(point);
        cache.set(at, found);
        computed++;
      }
      return found;
    },
    computed: () => computed,
  };
}

/** The version of an installed package (resolved from `from`), which its results depend on. */
function versionOf(name: string, from = require): string {
  let directory = path.dirname(from.resolve(name));
  while (!existsSync(path.join(directory, 'package.json')) || (JSON.parse(readFileSync(path.join(directory, 'package.json'), 'utf8')) as { name?: string }).name !== name) {
    directory = path.dirname(directory);
  }
  return (JSON.parse(readFileSync(path.join(directory, 'package.json'), 'utf8')) as { version: string }).version;
}

function forestObjective(): Objective {
  const { x, y, file } = loadCars();
  const options = (point: Point) => ({
    nEstimators: point.nEstimators as number,
    // A share of the features, passed as a count: the library reads 1.0 as "one feature".
    maxFeatures: Math.min(FEATURES.length, Math.max(1, Math.ceil((point.maxFeatures as number) * FEATURES.length - 1e-9))),
    replacement: point.replacement as boolean,
    useSampleBagging: point.useSampleBagging as boolean,
    treeOptions: { maxDepth: point['treeOptions.maxDepth'] as number, minNumSamples: point['treeOptions.minNumSamples'] as number },
    seed: 42,
    noOOB: true,
  });
  const { value, computed } = memoised(
    'forest',
    [`cv${FOLDS}-rmse-4dp`, JSON.stringify({ x, y }), versionOf('ml-random-forest'), versionOf('ml-cart', createRequire(require.resolve('ml-random-forest')))],
    (point) => JSON.stringify(options(point)),
    (point) => {
      let squares = 0;
      for (let fold = 0; fold < FOLDS; fold++) {
        const inFold = (index: number) => index % FOLDS === fold;
        const forest = new RandomForestRegression(options(point));
        forest.train(x.filter((_, index) => !inFold(index)), y.filter((_, index) => !inFold(index)));
        const predicted = forest.predict(x.filter((_, index) => inFold(index)));
        const actual = y.filter((_, index) => inFold(index));
        squares += predicted.reduce((sum, value, index) => sum + (value - actual[index]!) ** 2, 0);
      }
      return Number(Math.sqrt(squares / x.length).toFixed(4));
    },
  );
  return {
    name: 'forest',
    description:
      `ml-random-forest regression of Miles_per_Gallon on ${path.relative(process.cwd(), file)} (${x.length} cars, ${FEATURES.length} features), ` +
      `${FOLDS}-fold cross-validated RMSE (minimize), deterministic, base at the library's defaults; best known of ${FOREST_REFERENCE_POINTS} uniform points and every measured one`,
    goal: 'minimize',
    params: {
      nEstimators: { min: 1, max: 30, scale: 'log', type: 'int' },
      maxFeatures: { min: 0.1, max: 1 },
      'treeOptions.maxDepth': { min: 1, max: 20, type: 'int' },
      'treeOptions.minNumSamples': { min: 1, max: 30, scale: 'log', type: 'int' },
      useSampleBagging: { choices: [false, true] },
      replacement: { choices: [true, false] },
    },
    // ml-random-forest's defaults, with maxDepth 20 standing for "unlimited" (deeper than any tree here).
    base: { nEstimators: 10, maxFeatures: 1, 'treeOptions.maxDepth': 20, 'treeOptions.minNumSamples': 3, useSampleBagging: false, replacement: true },
    value,
    noise: 0,
    drift: 0,
    referencePoints: FOREST_REFERENCE_POINTS,
    computed,
  };
}

const STRATEGIES: Record<string, number> = {
  default: zlib.constants.Z_DEFAULT_STRATEGY,
  filtered: zlib.constants.Z_FILTERED,
  huffman: zlib.constants.Z_HUFFMAN_ONLY,
  rle: zlib.constants.Z_RLE,
  fixed: zlib.constants.Z_FIXED,
};

function zlibObjective(): Objective {
  const file = require.resolve('typescript/lib/lib.es5.d.ts');
  const text = readFileSync(file);
  const settings = (point: Point) => ({
    level: point.level as number,
    memLevel: point.memLevel as number,
    windowBits: point.windowBits as number,
    strategy: STRATEGIES[point.strategy as string]!,
  });
  const { value, computed } = memoised(
    'zlib',
    ['deflate-bytes', text, process.versions.zlib],
    (point) => JSON.stringify(settings(point)),
    (point) => zlib.deflateSync(text, settings(point)).length,
  );
  const grid: Point[] = [];
  for (let level = 1; level <= 9; level++) {
    for (let memLevel = 1; memLevel <= 9; memLevel++) {
      for (let windowBits = 9; windowBits <= 15; windowBits++) {
        for (const strategy of Object.keys(STRATEGIES)) grid.push({ level, memLevel, windowBits, strategy });
      }
    }
  }
  return {
    name: 'zlib',
    description: `deflate output size in bytes of ${path.relative(process.cwd(), file)} (${text.length} bytes; minimize), deterministic, base at zlib's defaults; best known of the full grid (${grid.length} settings)`,
    goal: 'minimize',
    params: {
      level: { min: 1, max: 9, type: 'int' },
      memLevel: { min: 1, max: 9, type: 'int' },
      windowBits: { min: 9, max: 15, type: 'int' },
      strategy: { choices: Object.keys(STRATEGIES) },
    },
    base: { level: 6, memLevel: 8, windowBits: 15, strategy: 'default' },
    value,
    noise: 0,
    drift: 0,
    reference: () => grid,
    computed,
  };
}

/** The real objectives, their data loaded; each also says how many settings it really evaluated. */
export function realObjectives(): Objective[] {
  return [forestObjective(), zlibObjective()];
}
