/**
 * Paired measurement against a cached baseline on a machine whose speed drifts during the run.
 *
 * A seeded simulation of the loop's measurement schedule over time, judged by the real
 * `judgeExperiment`. Each evaluator run takes one tick and reports the true value of the commit
 * plus the machine's drift at that tick plus noise N(0, σ²); the proposer takes PROPOSE_TICKS
 * between experiments. Per loop, EXPERIMENTS experiments, each proposing a child of the current best:
 *
 * - paired: the parent and the candidate are measured now, B C B C …, `repeats` runs each;
 * - cached: only the candidate is measured now and compared (Welch's t, `paired: false`) with the
 *   parent's samples from when it was itself measured (the base at the start, or the last keep).
 *
 * A/A: every candidate has the parent's true value, so every keep is a false keep.
 * A/B: every candidate is truly better than its parent by 2σ, so a keep is a true keep (power).
 *
 * With `--real`, a small real-process section follows: the real Evaluator runs a tiny node evaluator
 * (a fixed busy loop, its time reported in ms) whose reported time is inflated by a load read from a
 * file that a timer in this process moves steadily, and the two schedules are compared on identical
 * code (A/A). Too few runs for rates; it shows where the cached comparison's delta comes from.
 *
 *   npx tsx bench/paired-vs-unpaired.ts [loops] [--real]
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/core/config/config.js';
import { judgeExperiment, type JudgeInput } from '../src/core/judge/judge.js';
import type { RunSample } from '../src/core/ledger/records.js';
import { mean } from '../src/core/judge/stats.js';
import { Evaluator, type Checkout } from '../src/engine/evaluator.js';
import { formatClusteredRate, mulberry32, normalSampler, printTable } from './simulate.js';

const args = process.argv.slice(2);
const LOOPS = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 1_000);
const REAL = args.includes('--real');
const EXPERIMENTS = 20;
const REPEATS = 5;
const SEED = 1;
const MU = 100;
const SIGMA = 1;
const EFFECT_SIGMAS = 2;
const PROPOSE_TICKS = 5;

interface Scenario {
  name: string;
  /** The drift's change over one tick, given a standard normal draw. */
  step: (normal: () => number) => number;
}

const SLOPE = 0.02 * SIGMA;
const WALK = 0.2 * SIGMA;
const SCENARIOS: Scenario[] = [
  { name: 'no drift', step: () => 0 },
  { name: `load rising (+${SLOPE}σ per run)`, step: () => SLOPE },
  { name: `load falling (−${SLOPE}σ per run)`, step: () => -SLOPE },
  { name: `random walk (${WALK}σ per run)`, step: (normal) => WALK * normal() },
];

const config: Omit<JudgeInput, 'baseline' | 'candidate'> = {
  goal: 'minimize',
  minEffect: { kind: 'absolute', value: 0 },
  suspiciousEffect: { kind: 'relative', value: 0.5 },
};

/** The machine: a clock and a drift that moves every tick. */
class Machine {
  private drift = 0;

  constructor(
    private readonly scenario: Scenario,
    private readonly normal: () => number,
  ) {}

  idle(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.drift += this.scenario.step(this.normal);
  }

  /** One evaluator run of a commit whose true metric is `value`. */
  run(value: number): number {
    const reported = value + this.drift + SIGMA * this.normal();
    this.idle(1);
    return reported;
  }
}

/** Experiments kept in each of LOOPS loops of EXPERIMENTS experiments. */
function keepsPerLoop(scenario: Scenario, mode: 'paired' | 'cached', trueGain: number, seed: number): number[] {
  const normal = normalSampler(mulberry32(seed));
  const keepCounts: number[] = [];
  for (let loop = 0; loop < LOOPS; loop++) {
    let keeps = 0;
    const machine = new Machine(scenario, normal);
    let parent = MU;
    // The loop measures the base once at the start: the cached mode's first baseline.
    let cached = Array.from({ length: REPEATS }, () => machine.run(parent));
    for (let experiment = 0; experiment < EXPERIMENTS; experiment++) {
      machine.idle(PROPOSE_TICKS);
      const candidate = parent - trueGain;
      let baselineSamples: number[];
      const candidateSamples: number[] = [];
      if (mode === 'paired') {
        baselineSamples = [];
        for (let i = 0; i < REPEATS; i++) {
          baselineSamples.push(machine.run(parent));
          candidateSamples.push(machine.run(candidate));
        }
      } else {
        baselineSamples = cached;
        for (let i = 0; i < REPEATS; i++) candidateSamples.push(machine.run(candidate));
      }
      const judgement = judgeExperiment({ ...config, baseline: baselineSamples, candidate: candidateSamples, paired: mode === 'paired' });
      if (judgement.keep) {
        keeps++;
        parent = candidate;
        cached = candidateSamples;
      }
    }
    keepCounts.push(keeps);
  }
  return keepCounts;
}

const started = performance.now();
const decisions = LOOPS * EXPERIMENTS;
const rows = SCENARIOS.map((scenario, s) => {
  const seed = SEED * 1_000 + s * 10;
  const rate = (mode: 'paired' | 'cached', trueGain: number, offset: number) =>
    formatClusteredRate(keepsPerLoop(scenario, mode, trueGain, seed + offset), EXPERIMENTS);
  return [scenario.name, rate('paired', 0, 0), rate('cached', 0, 1), rate('paired', EFFECT_SIGMAS * SIGMA, 2), rate('cached', EFFECT_SIGMAS * SIGMA, 3)];
});
const elapsed = performance.now() - started;

console.log(
  `Paired vs cached baseline: ${LOOPS.toLocaleString('en')} loops × ${EXPERIMENTS} experiments = ${decisions.toLocaleString('en')} decisions per cell, ` +
    `seed ${SEED}, repeats ${REPEATS}, min_effect 0, one run = one tick, proposer = ${PROPOSE_TICKS} ticks.`,
);
console.log(`Each run reports true value + drift + N(0, σ²). A/A: no true effect (false keep). A/B: candidate better by ${EFFECT_SIGMAS}σ (power).`);
console.log('paired: B C B C now, paired t. cached: candidate now vs the parent\'s samples from when it was measured, Welch\'s t.');
console.log('±: Monte Carlo 95% margin (from the spread between loops: decisions within a loop share a baseline).\n');
printTable(['machine', 'paired false keep', 'cached false keep', 'paired power', 'cached power'], rows);
console.log(`\n(${(elapsed / 1000).toFixed(1)} s)`);

/**
 * Real processes: A/A on identical code, the load in `load.txt` moving by `msPerSecond` from the
 * start. Returns per mode the verdicts and the mean delta (candidate − baseline, ms).
 */
async function realSection(msPerSecond: number): Promise<string[][]> {
  const experiments = 8;
  const repeats = 3;
  const dir = mkdtempSync(join(tmpdir(), 'autoloop-drift-'));
  const loadFile = join(dir, 'load.txt');
  const script = `import { readFileSync } from 'node:fs';
const t0 = performance.now();
let x = 0;
for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
const ms = performance.now() - t0;
const load = Number(readFileSync(process.env.LOAD_FILE, 'utf8'));
console.log('METRIC ms=' + (ms + load + (x > 0 ? 0 : 1)).toFixed(4));
`;
  const checkouts: Checkout[] = (['baseline', 'candidate'] as const).map((side) => {
    const worktree = join(dir, side);
    mkdirSync(worktree);
    writeFileSync(join(worktree, 'eval.mjs'), script);
    return { side, worktree, commit: side };
  });
  const [baseline, candidate] = checkouts as [Checkout, Checkout];
  const evaluatorConfig = parseConfig(
    `metric: { name: ms, goal: minimize }
evaluate: { command: node eval.mjs, timeout: 30s, repeats: ${repeats} }
scope: { edit: [eval.mjs] }
proposer: { kind: tune, tune: { file: p.json, params: { x: { min: 0, max: 1 } } } }
`,
    'bench',
  );
  const evaluator = new Evaluator(evaluatorConfig, { env: { ...process.env, LOAD_FILE: loadFile } });
  const start = performance.now();
  const writeLoad = () => {
    // Start at 50 ms so a falling load stays positive; written atomically so a run never reads half a number.
    writeFileSync(`${loadFile}.tmp`, String(50 + (msPerSecond * (performance.now() - start)) / 1000));
    renameSync(`${loadFile}.tmp`, loadFile);
  };
  writeLoad();
  const timer = setInterval(writeLoad, 10);
  const values = (samples: RunSample[], side: RunSample['side']) => samples.filter((s) => s.side === side && s.ok).map((s) => s.metrics.ms!);
  const rows: string[][] = [];
  try {
    for (const mode of ['paired', 'cached'] as const) {
      const trace = join(dir, mode);
      const verdicts = { improved: 0, 'no-change': 0, regressed: 0, invalid: 0 };
      const deltas: number[] = [];
      let cached = values((await evaluator.measureAlone(baseline, trace)).samples, 'baseline');
      for (let e = 0; e < experiments; e++) {
        let input: Pick<JudgeInput, 'baseline' | 'candidate' | 'paired'>;
        if (mode === 'paired') {
          const samples = await evaluator.measurePair(baseline, candidate, trace);
          input = { baseline: values(samples, 'baseline'), candidate: values(samples, 'candidate'), paired: true };
        } else {
          input = { baseline: cached, candidate: values((await evaluator.measureAlone(candidate, trace)).samples, 'candidate'), paired: false };
        }
        const judgement = judgeExperiment({ ...config, ...input });
        verdicts[judgement.verdict]++;
        deltas.push(judgement.delta);
        if (judgement.keep) cached = input.candidate;
      }
      rows.push([
        `${msPerSecond > 0 ? 'rising' : 'falling'} ${Math.abs(msPerSecond)} ms/s, ${mode}`,
        `${verdicts.improved}/${experiments}`,
        `${verdicts.regressed}/${experiments}`,
        `${mean(deltas) >= 0 ? '+' : ''}${mean(deltas).toFixed(2)} ms`,
      ]);
    }
  } finally {
    clearInterval(timer);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (REAL) {
  const realStarted = performance.now();
  const rows = [...(await realSection(5)), ...(await realSection(-5))];
  console.log(`\nReal processes (A/A, identical code, repeats 3, 8 experiments per row; the busy loop's own noise is about 1 ms):\n`);
  printTable(['load', 'called improved', 'called regressed', 'mean delta'], rows);
  console.log(`\n(${((performance.now() - realStarted) / 1000).toFixed(1)} s)`);
}
