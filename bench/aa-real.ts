/**
 * The judge against A/A measurements of a real noisy command, through the whole engine (worktrees, sandbox, paired
 * runs, sequential looks): a commit measured against itself many times, where every keep is a false one. The command
 * times `JSON.parse` of a generated 1.6 MB document in-process (a timing that varies run to run with the machine's load)
 * and reports the median of 20 parses in ms. Printed side by side: the default (`repeats: auto`), fixed `repeats: 3`
 * and `5`, and one run per side with no `min_effect` (what the default used to be).
 *
 * Then (`noop`) whole `autoloop run` loops with the default config on the same timing, where the tuned parameter is one
 * the command never reads, so every keep is a false one; and (`deterministic`) the saving on a deterministic metric:
 * `autoloop run` loops (the `tune` proposer, seeded) on the zlib-compressed size of a real text file (TypeScript's
 * lib.es5.d.ts) under the same designs, which keep the same experiments: how many evaluator runs each needed.
 *
 *   npx tsx bench/aa-real.ts [measurements] [--only aa,noop,deterministic]
 *   (default: 40 measurements per design; no-op loops of 20 experiments; deterministic loops of 8)
 */
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { FIRST_LOOK } from '../src/core/judge/sequential.js';
import { evalRefs } from '../src/engine/eval-refs.js';
import { runLoop } from '../src/engine/loop.js';
import { createProposer } from '../src/proposers/index.js';
import { makeRepo } from '../test/fixtures/local/repo.js';
import { formatRate, printTable } from './simulate.js';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const SECTIONS = new Set(onlyAt >= 0 ? args[onlyAt + 1]!.split(',') : ['aa', 'noop', 'deterministic']);
const MEASUREMENTS = Number(args.find((arg, i) => i !== onlyAt + 1 && /^\d+$/.test(arg)) ?? 40);
const NOOP_EXPERIMENTS = 20;
const DETERMINISTIC_EXPERIMENTS = 8;

const BENCH = `const rows = [];
for (let i = 0; i < 12000; i++) rows.push({ id: i, name: 'item-' + i, tags: ['a', 'b', 'c'], score: i * 1.5, nested: { x: i % 7, y: String(i) } });
const text = JSON.stringify(rows);
const times = [];
for (let i = 0; i < 20; i++) { const t0 = performance.now(); JSON.parse(text); times.push(performance.now() - t0); }
times.sort((a, b) => a - b);
console.log('METRIC parse_ms=' + times[10].toFixed(4));
`;

function repoWith(evaluate: string, budget = ''): string {
  return makeRepo({
    'bench.mjs': BENCH,
    'params.json': '{ "x": 0 }\n',
    '.github/autoloop.yml': `metric: { name: parse_ms, goal: minimize }
evaluate: { command: node bench.mjs, timeout: 60s${evaluate} }
${budget}scope: { edit: [params.json], protect: [bench.mjs] }
proposer: { kind: tune, tune: { file: params.json, params: { x: { min: 0, max: 1 } } } }
`,
  });
}

const designs: Array<[string, string]> = [
  ['auto (default)', ''],
  ['repeats 3', ', repeats: 3'],
  ['repeats 5', ', repeats: 5'],
  ['repeats 1, min_effect 0', ', repeats: 1'],
];

const started = performance.now();

async function aaSection(): Promise<void> {
  const rows: string[][] = [];
  for (const [name, evaluate] of designs) {
    const repo = repoWith(evaluate);
    let kept = 0;
    let runs = 0;
    let cv = 0;
    try {
      for (let i = 0; i < MEASUREMENTS; i++) {
        const result = await evalRefs({ cwd: repo, base: 'HEAD', head: 'HEAD' });
        const judgement = result.measurement.judgement;
        if (result.measurement.status === 'keep') kept++;
        runs += judgement?.candidate.samples.length ?? 0;
        const samples = judgement?.baseline.samples ?? [];
        if (samples.length > 1) {
          const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
          cv += Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length - 1)) / mean;
        }
      }
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
    rows.push([name, `${kept} of ${MEASUREMENTS}`, formatRate(kept, MEASUREMENTS), (runs / MEASUREMENTS).toFixed(2), name.startsWith('repeats 1') ? '-' : `${((cv / MEASUREMENTS) * 100).toFixed(1)}%`]);
  }
  console.log(`A/A on a real noisy command (JSON.parse of a 1.6 MB document, median of 20 parses), ${MEASUREMENTS} measurements per design, every keep a false one.\n`);
  printTable(['design', 'kept', 'false-keep rate', 'runs per side', 'CV of the base per run'], rows);
}

/** `autoloop run` with the default config where the tuned parameter changes nothing the command reads. */
async function noopSection(): Promise<void> {
  const repo = repoWith('', `budget: { experiments: ${NOOP_EXPERIMENTS} }\n`);
  try {
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'noop' });
    const experiments = result.experiments.filter((e) => e.experiment > 0);
    const kept = experiments.filter((e) => e.status === 'keep').length;
    const perSide = experiments.reduce((sum, e) => sum + e.samples.filter((s) => s.side === 'candidate').length, 0) / Math.max(1, experiments.length);
    console.log(`\nA no-op run with the default config (tune writes params.json, which bench.mjs never reads): ${NOOP_EXPERIMENTS} experiments.\n`);
    printTable(
      ['design', 'experiments', 'kept (all false)', 'runs per side per experiment', 'confirmation'],
      [['auto (default)', String(experiments.length), String(kept), perSide.toFixed(2), result.confirmation?.status ?? 'none (nothing kept)']],
    );
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

// A deterministic metric: compressed bytes of a real file at the tuned zlib settings. Every run of a commit gives one value.
const CORPUS = readFileSync(createRequire(import.meta.url).resolve('typescript/lib/lib.es5.d.ts'), 'utf8');
const COMPRESS = `import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
const p = JSON.parse(readFileSync('params.json', 'utf8'));
const size = deflateSync(readFileSync('corpus.txt'), { level: p.level, memLevel: p.memLevel, strategy: p.strategy }).length;
console.log('METRIC bytes=' + size);
`;
/** `autoloop run` loops on a deterministic metric under each design: the same experiments kept, fewer runs. */
async function deterministicSection(): Promise<void> {
  const loopRows: string[][] = [];
  const deterministicDesigns = designs.filter(([name]) => !name.startsWith('repeats 1'));
  for (const [name, evaluate] of deterministicDesigns) {
    const repo = makeRepo({
      'compress.mjs': COMPRESS,
      'corpus.txt': CORPUS,
      'params.json': '{ "level": 1, "memLevel": 4, "strategy": 2 }\n',
      '.github/autoloop.yml': `metric: { name: bytes, goal: minimize }
evaluate: { command: node compress.mjs, timeout: 60s${evaluate} }
budget: { experiments: ${DETERMINISTIC_EXPERIMENTS} }
scope: { edit: [params.json], protect: [compress.mjs, corpus.txt] }
proposer: { kind: tune, tune: { file: params.json, seed: 3, params: { level: { min: 1, max: 9, type: int }, memLevel: { min: 1, max: 9, type: int }, strategy: { min: 0, max: 4, type: int } } } }
`,
    });
    try {
      const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'det' });
      const measured = result.experiments.filter((e) => e.experiment > 0 && e.judgement);
      const runs = result.experiments.reduce((sum, e) => sum + e.samples.length, 0) + (result.confirmation?.samples.length ?? 0);
      const perSide = measured.reduce((sum, e) => sum + e.samples.filter((s) => s.side === 'candidate').length, 0) / Math.max(1, measured.length);
      const kept = result.experiments.filter((e) => e.experiment > 0 && e.status === 'keep').map((e) => e.experiment);
      const last = result.experiments.at(-1);
      // Without recognising the metric as deterministic: every side at least its planned runs (the first look's 3 for auto).
      const planned = Number(/repeats: (\d+)/.exec(evaluate)?.[1] ?? FIRST_LOOK);
      const without = planned * (1 + 2 * measured.length + (result.confirmation ? 2 : 0));
      loopRows.push([name, String(runs), String(without), (runs / without).toFixed(2), perSide.toFixed(2), kept.join(' ') || '-', String(last?.best ?? '-')]);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  }
  console.log(`\nA deterministic metric (zlib-compressed bytes of lib.es5.d.ts, ${CORPUS.length.toLocaleString('en')} characters): one loop of ${DETERMINISTIC_EXPERIMENTS} experiments per design.\n`);
  printTable(['design', 'evaluator runs', 'at least, not recognised', 'ratio', 'runs per side per experiment', 'experiments kept', 'best bytes'], loopRows);
  console.log('(evaluator runs: every run of the loop, the base and the confirmation included)');
}

if (SECTIONS.has('aa')) await aaSection();
if (SECTIONS.has('noop')) await noopSection();
if (SECTIONS.has('deterministic')) await deterministicSection();
console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
