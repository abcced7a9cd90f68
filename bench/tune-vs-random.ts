/**
 * The `tune` proposer against random search, side by side, on synthetic objectives with noise. Each
 * search runs the loop as autoloop does: the real proposer (`createTuneProposer`, editing a JSON file
 * in a scratch worktree and reading its memory from ledger records) proposes, the candidate and its
 * parent are measured paired (B C B C, `REPEATS` runs per side, Gaussian noise plus a drift shared by
 * each pair), the real judge (`judgeExperiment`, default `min_effect` and `suspicious_effect`) decides,
 * and a kept candidate becomes the parent. Random search draws every point uniformly (ints and floats
 * as `tune` writes them, repeats allowed) and goes through the same judge.
 *
 * Printed for budgets 15 and 30: the median (and quartiles) over seeds of the share of the best-known
 * gain, (f(base) − f(final parent)) / (f(base) − f(best known)) in the objective's true, noise-free
 * values, where the best known is the best of a large uniform sample and of every point any search
 * measured; how many experiments re-measured a point the run had already measured (the same after
 * rounding, or "near": the same ints and choices and every float within 1% of its range); and how many
 * experiments the judge called a tie.
 *
 *   npx tsx bench/tune-vs-random.ts [seeds] [--real] [--random-seeds n] [--compare path/to/other/tune.ts]
 *
 * `--real` replaces the synthetic objectives by real ones (`bench/tune-real.ts`: a random forest trained
 * on a data set and zlib compressing a file, both from npm packages, values remembered across runs), whose
 * best known comes from a full grid or a large uniform sample; `tune` then runs 20 seeds and random search
 * 100 unless told otherwise. `--random-seeds` gives random search its own number of seeds. `--compare`
 * adds a column for another build of the proposer (a module exporting `createTuneProposer`), e.g. a copy
 * of the previous version, so that before and after are measured in one run.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { configSchema, type Config, type ConfigInput } from '../src/core/config/config-schema.js';
import { formatEffect } from '../src/core/config/units.js';
import { judgeExperiment } from '../src/core/judge/judge.js';
import type { ExperimentRecord, Judgement } from '../src/core/ledger/records.js';
import type { Proposer } from '../src/core/propose/proposer.js';
import { measuredPoints, pointKey, uniformPoint, type ParamSpecs, type Point } from '../src/core/propose/tune-search.js';
import { createTuneProposer } from '../src/proposers/tune.js';
import { mulberry32, normalSampler, printTable } from './simulate.js';

const args = process.argv.slice(2);
/** The value after `flag`, if the flag is given. */
function option(flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}
const COMPARE = option('--compare');
const REAL = args.includes('--real');
const positional = args.filter((arg, index) => !arg.startsWith('--') && !['--compare', '--random-seeds'].includes(args[index - 1] ?? ''));
const SEEDS = Number(positional[0] ?? (REAL ? 20 : 100));
const RANDOM_SEEDS = Number(option('--random-seeds') ?? (REAL ? 100 : SEEDS));
const BUDGETS = [15, 30];
const REPEATS = 3;
/** Runs in flight at once. */
const CONCURRENT_RUNS = 16;
/** Uniform points per objective for the best-known value. */
const REFERENCE_POINTS = 50_000;

type TuneInput = NonNullable<NonNullable<ConfigInput['proposer']>['tune']>;

export interface Objective {
  name: string;
  description: string;
  goal: 'minimize' | 'maximize';
  params: TuneInput['params'];
  /** The values in the file at the run's base. */
  base: Point;
  /** The true, noise-free value. */
  value: (point: Point) => number;
  /** Standard deviation of one run's noise, and of the drift a B C pair shares (cancelled by pairing). */
  noise: number;
  drift: number;
  /** The points whose values, with every measured one, give the best known (a full grid); by default `referencePoints` uniform draws. */
  reference?: () => readonly Point[];
  /** Uniform draws for the best known when there is no `reference` (default {@link REFERENCE_POINTS}). */
  referencePoints?: number;
  /** How many distinct points were really evaluated, for objectives that remember their values. */
  computed?: () => number;
}

/** Position of a numeric value in its range, 0 to 1, in the search's own coordinate (log for `scale: log`). */
function unit(spec: TuneInput['params'][string], value: number): number {
  if ('choices' in spec) throw new TypeError('not a numeric parameter');
  const log = spec.scale === 'log';
  const at = (x: number) => (log ? Math.log(x) : x);
  return (at(value) - at(spec.min)) / (at(spec.max) - at(spec.min));
}

const quadraticParams: TuneInput['params'] = {
  lr: { min: 1e-5, max: 1, scale: 'log' },
  hidden: { min: 8, max: 1024, scale: 'log', type: 'int' },
  dropout: { min: 0, max: 0.6 },
  layers: { min: 1, max: 8, type: 'int' },
  weight_decay: { min: 1e-6, max: 0.1, scale: 'log' },
  optimizer: { choices: ['sgd', 'adam', 'rmsprop'] },
};
const quadraticOptimum: Record<string, number> = { lr: 3e-4, hidden: 300, dropout: 0.25, layers: 5, weight_decay: 1e-4 };
const quadraticWeights: Record<string, number> = { lr: 3, hidden: 1, dropout: 0.5, layers: 1, weight_decay: 0.3 };

const ruggedParams: TuneInput['params'] = {
  x: { min: 0, max: 1 },
  y: { min: 0, max: 1 },
  z: { min: -10, max: 10 },
  kernel: { choices: ['a', 'b', 'c', 'd'] },
};
const ruggedOptimum: Record<string, number> = { x: 0.71, y: 0.23, z: 4.4 };

const plateauParams: TuneInput['params'] = {
  maxDepth: { min: 1, max: 20, type: 'int' },
  nEstimators: { min: 10, max: 300, scale: 'log', type: 'int' },
  maxFeatures: { min: 0.1, max: 1 },
  minNumSamples: { min: 1, max: 20, type: 'int' },
  replacement: { choices: [true, false] },
};

const compressionParams: TuneInput['params'] = {
  level: { min: 1, max: 9, type: 'int' },
  memLevel: { min: 1, max: 9, type: 'int' },
  windowBits: { min: 9, max: 15, type: 'int' },
  strategy: { choices: ['default', 'filtered', 'huffman', 'rle', 'fixed'] },
};

const sparseParams: TuneInput['params'] = Object.fromEntries(
  Array.from({ length: 8 }, (_, index) => [`p${index}`, index % 2 === 0 ? { min: 0, max: 100, type: 'int' } : { min: 1e-3, max: 10, scale: 'log' }] as const),
);

const OBJECTIVES: Objective[] = [
  {
    name: 'quadratic',
    description: 'separable quadratic bowl over 5 numbers (2 log floats, 1 log int, 1 int, 1 float) and a choice; noise 1%',
    goal: 'minimize',
    params: quadraticParams,
    base: { lr: 0.01, hidden: 32, dropout: 0, layers: 2, weight_decay: 0.01, optimizer: 'sgd' },
    value: (point) => {
      let sum = 1;
      for (const [key, weight] of Object.entries(quadraticWeights)) {
        sum += weight * (unit(quadraticParams[key]!, point[key] as number) - unit(quadraticParams[key]!, quadraticOptimum[key]!)) ** 2;
      }
      return sum + (point.optimizer === 'adam' ? 0 : point.optimizer === 'rmsprop' ? 0.03 : 0.08);
    },
    noise: 0.01,
    drift: 0.02,
  },
  {
    name: 'rugged',
    description: 'bowl with ripples (Rastrigin-like, 5 local minima a side) over 3 floats and a choice; noise 1%',
    goal: 'minimize',
    params: ruggedParams,
    base: { x: 0.2, y: 0.8, z: -5, kernel: 'a' },
    value: (point) => {
      let sum = 1;
      for (const key of ['x', 'y', 'z']) {
        const d = unit(ruggedParams[key]!, point[key] as number) - unit(ruggedParams[key]!, ruggedOptimum[key]!);
        sum += 0.6 * d ** 2 + 0.04 * (1 - Math.cos(2 * Math.PI * 5 * d));
      }
      return sum + ({ a: 0.05, b: 0.02, c: 0, d: 0.04 } as Record<string, number>)[point.kernel as string]!;
    },
    noise: 0.01,
    drift: 0.02,
  },
  {
    name: 'plateau',
    description: 'forest-like accuracy (maximize), deterministic, on a 1/400 grid: flat until maxDepth reaches 6, maxFeatures counts whole features of 8, small steps mostly tie',
    goal: 'maximize',
    params: plateauParams,
    base: { maxDepth: 3, nEstimators: 50, maxFeatures: 0.5, minNumSamples: 5, replacement: true },
    value: (point) => {
      const depth = point.maxDepth as number;
      const features = Math.max(1, Math.ceil((point.maxFeatures as number) * 8 - 1e-9));
      const trees = point.nEstimators as number;
      // Shallow trees underfit whatever else is set: every step of maxDepth below 6 ties.
      let error = depth < 6 ? 0.3 : 0.14 + 0.005 * Math.max(0, depth - 10);
      error += 0.02 * Math.abs(features - 3);
      error += 0.03 * Math.exp(-trees / 40);
      error += (point.minNumSamples as number) > 8 ? 0.01 : 0;
      error += point.replacement ? 0.005 : 0;
      // Accuracy on 400 test rows: a whole number of them.
      return Math.round((1 - error) * 400) / 400;
    },
    noise: 0,
    drift: 0,
  },
  {
    name: 'compression',
    description: 'zlib-like output size in bytes (minimize), deterministic, base at the library defaults, near the best: most random points are worse',
    goal: 'minimize',
    params: compressionParams,
    base: { level: 6, memLevel: 8, windowBits: 15, strategy: 'default' },
    value: (point) => {
      const level = point.level as number;
      const strategy = ({ default: 1, filtered: 1.004, huffman: 1.45, rle: 1.38, fixed: 1.09 } as Record<string, number>)[point.strategy as string]!;
      const levelFactor = 1 + 0.05 * Math.exp(-(level - 1) / 1.5) - 0.004 * Math.min(level, 8) / 8 - (level === 9 ? 0.0015 : 0);
      const window = 1 + 0.012 * (15 - (point.windowBits as number)) ** 1.4;
      const memory = 1 + 0.0008 * (9 - (point.memLevel as number)) ** 2;
      return Math.round(100_000 * strategy * levelFactor * window * memory);
    },
    noise: 0,
    drift: 0,
  },
  {
    name: 'sparse',
    description: '8 numbers of which 2 matter (low effective dimension, where random search is strong); noise 1%',
    goal: 'minimize',
    params: sparseParams,
    base: Object.fromEntries(Object.keys(sparseParams).map((key, index) => [key, index % 2 === 0 ? 50 : 0.1])),
    value: (point) => 1 + 0.5 * ((point.p0 as number) / 100 - 0.85) ** 2 + 0.3 * (unit(sparseParams.p3!, point.p3 as number) - 0.2) ** 2,
    noise: 0.01,
    drift: 0.02,
  },
];

/** What one experiment of a run was: a repeat of a measured point (after rounding), a near repeat, a tie. */
interface Step {
  repeat: boolean;
  /** Not a repeat, but every int and choice as in a measured point and every float within 1% of its range of it. */
  nearRepeat: boolean;
  tie: boolean;
}

/** What a search did in one run. */
interface Trace {
  /** parent[k] is the true value of the parent after experiment k (parent[0]: the base). */
  parent: number[];
  /** steps[k − 1] is experiment k; shorter than the budget when the search ran out of points. */
  steps: Step[];
  /** True values of every measured candidate. */
  measured: number[];
}

type Search = (objective: Objective, config: Config, seed: number, worktree: string) => Promise<{ propose: ProposeFn }>;
/** The next point and the notes the ledger records for it, or null when the search has nothing left. */
type ProposeFn = (parent: Point, experiment: number, history: readonly ExperimentRecord[]) => Promise<{ point: Point; notes: Record<string, unknown> } | null>;

function configFor(objective: Objective, seed: number): Config {
  return configSchema.parse({
    metric: { name: 'score', goal: objective.goal },
    evaluate: { command: 'node eval.js', repeats: REPEATS },
    scope: { edit: ['params.json'] },
    proposer: { kind: 'tune', tune: { file: 'params.json', params: objective.params, seed } },
  });
}

/** The loop with the real proposer `create` (this build's, or the one given by --compare). */
function tuneSearch(create: (config: Config) => Proposer): Search {
  return async (_objective, config, _seed, worktree) => {
    const proposer = create(config);
    const file = path.join(worktree, 'params.json');
    return {
      propose: async (parent, experiment, history) => {
        // The worktree is checked out at the parent, as the loop does before each proposal.
        await writeFile(file, `${JSON.stringify(nested(parent), null, 2)}\n`);
        const proposal = await proposer.propose({ worktree, config, experiment, history });
        if (!proposal) return null;
        // What is measured is what the proposer wrote into the file.
        const written = flat(Object.keys(parent), JSON.parse(await readFile(file, 'utf8')));
        return { point: written, notes: proposal.notes };
      },
    };
  };
}

/** The file's content for a point: dotted keys (`treeOptions.maxDepth`) as nested objects, as `tune` reads them. */
function nested(point: Point): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(point)) {
    const segments = key.split('.');
    let node = data;
    for (const segment of segments.slice(0, -1)) node = (node[segment] ??= {}) as Record<string, unknown>;
    node[segments.at(-1)!] = value;
  }
  return data;
}

/** The point `keys` read back from a file's content written by {@link nested}. */
function flat(keys: readonly string[], data: unknown): Point {
  return Object.fromEntries(keys.map((key) => [key, key.split('.').reduce<unknown>((node, segment) => (node as Record<string, unknown>)[segment], data)])) as Point;
}

/** Uniform draws over the space, written as `tune` writes values (whole ints, 4 significant digits), repeats allowed. */
const randomSearch: Search = async (objective, _config, seed) => {
  const random = mulberry32(seed * 7919 + 17);
  return {
    propose: async () => {
      const point = uniformPoint(objective.params as ParamSpecs, {}, random);
      return { point, notes: { params: point } };
    },
  };
};

function judgementRecord(experiment: number, judgement: Judgement | null, point: Point, notes: Record<string, unknown>): ExperimentRecord {
  const now = new Date(0).toISOString();
  return {
    type: 'experiment',
    experiment,
    status: judgement === null ? 'keep' : judgement.keep ? 'keep' : judgement.verdict === 'invalid' ? 'invalid' : 'discard',
    description: JSON.stringify(point),
    parentCommit: '0'.repeat(40),
    candidateCommit: '0'.repeat(40),
    keptCommit: null,
    bestCommit: '0'.repeat(40),
    metric: judgement?.candidate.mean ?? null,
    guards: {},
    best: null,
    judgement,
    samples: [],
    scopeViolations: [],
    changedFiles: [],
    reason: null,
    proposer: { kind: experiment === 0 ? 'baseline' : 'tune', notes },
    durations: { proposeMs: 0, evaluateMs: 0, totalMs: 0, overheadMs: 0 },
    traceDir: '',
    startedAt: now,
    finishedAt: now,
  };
}

async function runSearch(search: Search, objective: Objective, seed: number, budget: number): Promise<Trace> {
  const worktree = await mkdtemp(path.join(os.tmpdir(), 'autoloop-bench-tune-'));
  try {
    const config = configFor(objective, seed);
    const specs = config.proposer.tune!.params as ParamSpecs;
    const { propose } = await search(objective, config, seed, worktree);
    const normal = normalSampler(mulberry32(seed * 104_729 + objective.name.length));
    const measure = (value: number, drifts: number[]) => drifts.map((drift) => value + drift + objective.noise * normal());
    let parent = objective.base;
    let parentValue = objective.value(parent);
    const seen: Point[] = [parent];
    const history: ExperimentRecord[] = [judgementRecord(0, null, parent, {})];
    const trace: Trace = { parent: [parentValue], steps: [], measured: [] };
    for (let experiment = 1; experiment <= budget; experiment++) {
      const proposal = await propose(parent, experiment, history);
      if (!proposal) {
        // Exhausted: the rest of the budget is not spent.
        trace.parent.push(parentValue);
        continue;
      }
      const candidate = proposal.point;
      const repeat = seen.some((point) => pointKey(specs, point) === pointKey(specs, candidate));
      const nearRepeat = !repeat && measuredPoints(specs, seen)(candidate);
      seen.push(candidate);
      const candidateValue = objective.value(candidate);
      trace.measured.push(candidateValue);
      const drifts = Array.from({ length: REPEATS }, () => objective.drift * normal());
      const judgement = judgeExperiment({
        goal: objective.goal,
        minEffect: config.metric.min_effect,
        suspiciousEffect: config.metric.suspicious_effect,
        baseline: measure(parentValue, drifts),
        candidate: measure(candidateValue, drifts),
        paired: true,
      });
      history.push(judgementRecord(experiment, judgement, candidate, proposal.notes));
      trace.steps.push({ repeat, nearRepeat, tie: judgement.verdict === 'no-change' });
      if (judgement.keep) {
        parent = candidate;
        parentValue = candidateValue;
      }
      trace.parent.push(parentValue);
    }
    return trace;
  } finally {
    await rm(worktree, { recursive: true, force: true });
  }
}

function bestKnown(objective: Objective, traces: readonly Trace[]): number {
  const better = (a: number, b: number) => (objective.goal === 'minimize' ? Math.min(a, b) : Math.max(a, b));
  const random = mulberry32(424_242);
  let best = objective.value(objective.base);
  const points = objective.reference?.() ?? Array.from({ length: objective.referencePoints ?? REFERENCE_POINTS }, () => uniformPoint(objective.params as ParamSpecs, {}, random));
  for (const point of points) best = better(best, objective.value(point));
  for (const trace of traces) for (const value of trace.measured) best = better(best, value);
  return best;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low]! + (sorted[Math.min(low + 1, sorted.length - 1)]! - sorted[low]!) * (at - low);
}

const percent = (value: number) => `${(value * 100).toFixed(0)}%`;

/** How many of the first `at` experiments of all runs had `flag`. */
function count(runs: readonly Trace[], at: number, flag: keyof Step): number {
  return runs.reduce((sum, trace) => sum + trace.steps.slice(0, at).filter((step) => step[flag]).length, 0);
}

async function main(): Promise<void> {
  const searches: { name: string; search: Search; seeds: number }[] = [{ name: 'tune', search: tuneSearch(createTuneProposer), seeds: SEEDS }];
  if (COMPARE) {
    const module = (await import(pathToFileURL(path.resolve(COMPARE)).href)) as { createTuneProposer: (config: Config) => Proposer };
    searches.push({ name: `tune (${path.basename(path.dirname(path.resolve(COMPARE)))})`, search: tuneSearch(module.createTuneProposer), seeds: SEEDS });
  }
  searches.push({ name: 'random', search: randomSearch, seeds: RANDOM_SEEDS });
  const budget = Math.max(...BUDGETS);
  const objectives = REAL ? (await import('./tune-real.js')).realObjectives() : OBJECTIVES;

  console.log(
    `tune vs random search${REAL ? ' on real objectives' : ''}: ${SEEDS} seeds per objective for tune` +
      `${RANDOM_SEEDS !== SEEDS ? `, ${RANDOM_SEEDS} for random search` : ' and for random search'}, budgets ${BUDGETS.join(' and ')}.`,
  );
  const { metric } = configFor(objectives[0]!, 1);
  console.log(
    `Each experiment: candidate and parent measured paired, ${REPEATS} runs a side, decided by the real judge ` +
      `(min_effect ${formatEffect(metric.min_effect)}, suspicious_effect ${formatEffect(metric.suspicious_effect)}).`,
  );
  console.log('share: (f(base) − f(final parent)) / (f(base) − f(best known)) in true values; median [quartiles] over seeds.');
  console.log('re-measured: experiments that measured a point the run had measured before (after rounding), of all experiments;');
  console.log('  "near": not the same point, but the same ints and choices and every float within 1% of its range.');
  console.log('ties: experiments the judge called no-change.\n');

  const started = performance.now();
  const summary: { objective: string; budget: number; medians: number[] }[] = [];
  for (const objective of objectives) {
    const objectiveStarted = performance.now();
    const traces = new Map<string, Trace[]>();
    for (const { name, search, seeds: count } of searches) {
      // Runs wait mostly on the file system (the proposer reads and writes its file): several at once overlap that.
      const seeds = Array.from({ length: count }, (_, index) => index + 1);
      const runs: Trace[] = [];
      for (let at = 0; at < seeds.length; at += CONCURRENT_RUNS) {
        runs.push(...(await Promise.all(seeds.slice(at, at + CONCURRENT_RUNS).map((seed) => runSearch(search, objective, seed, budget)))));
      }
      traces.set(name, runs);
    }
    const reference = bestKnown(objective, [...traces.values()].flat());
    const base = objective.value(objective.base);
    const share = (value: number) => (value - base) / (reference - base);
    console.log(`${objective.name}: ${objective.description}.`);
    const computed = objective.computed ? `; ${objective.computed()} settings evaluated (the others remembered from earlier runs), ${((performance.now() - objectiveStarted) / 1000).toFixed(1)} s` : '';
    console.log(`base ${Number(base.toPrecision(6))}, best known ${Number(reference.toPrecision(6))} (${objective.goal})${computed}.`);
    const rows: string[][] = [];
    for (const { name } of searches) {
      const runs = traces.get(name)!;
      const row = [name];
      for (const at of BUDGETS) {
        const shares = runs.map((trace) => share(trace.parent[at]!));
        row.push(`${percent(quantile(shares, 0.5))} [${percent(quantile(shares, 0.25))}–${percent(quantile(shares, 0.75))}]`);
        row.push(`${count(runs, at, 'repeat')} (+${count(runs, at, 'nearRepeat')} near) of ${runs.reduce((sum, trace) => sum + Math.min(at, trace.steps.length), 0)}`);
      }
      row.push(String(count(runs, budget, 'tie')));
      rows.push(row);
    }
    for (const at of BUDGETS) {
      summary.push({ objective: objective.name, budget: at, medians: searches.map(({ name }) => quantile(traces.get(name)!.map((trace) => share(trace.parent[at]!)), 0.5)) });
    }
    printTable(['search', ...BUDGETS.flatMap((at) => [`share at ${at}`, `re-measured at ${at}`]), `ties at ${budget}`], rows);
    console.log('');
  }

  const randomIndex = searches.length - 1;
  for (const [index, { name }] of searches.slice(0, -1).entries()) {
    const ratios = summary.map(({ objective, budget: at, medians }) => {
      const [own, random] = [medians[index]!, medians[randomIndex]!];
      return `${objective}@${at} ${random > 0 ? `${(own / random).toFixed(2)}×` : `${percent(own)} vs ${percent(random)}`}`;
    });
    const ahead = summary.filter(({ medians }) => medians[index]! > medians[randomIndex]!).length;
    console.log(`${name} / random, median share: ${ratios.join(', ')}; ahead in ${ahead} of ${summary.length}`);
  }
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

await main();
