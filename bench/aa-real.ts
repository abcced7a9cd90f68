/**
 * The judge against A/A measurements of a real noisy command, through the whole engine (worktrees, sandbox, paired
 * runs, sequential looks): a commit measured against itself many times, where every keep is a false one. The command
 * times `JSON.parse` of a generated 1.6 MB document in-process (a timing that varies run to run with the machine's load)
 * and reports the median of 20 parses in ms. Printed side by side: the default (`repeats: auto`), fixed `repeats: 5`,
 * and one run per side with no `min_effect` (what the default used to be).
 *
 *   npx tsx bench/aa-real.ts [measurements]      (default 40 per design)
 */
import { rmSync } from 'node:fs';
import { evalRefs } from '../src/engine/eval-refs.js';
import { makeRepo } from '../test/fixtures/local/repo.js';
import { formatRate, printTable } from './simulate.js';

const MEASUREMENTS = Number(process.argv[2] ?? 40);

const BENCH = `const rows = [];
for (let i = 0; i < 12000; i++) rows.push({ id: i, name: 'item-' + i, tags: ['a', 'b', 'c'], score: i * 1.5, nested: { x: i % 7, y: String(i) } });
const text = JSON.stringify(rows);
const times = [];
for (let i = 0; i < 20; i++) { const t0 = performance.now(); JSON.parse(text); times.push(performance.now() - t0); }
times.sort((a, b) => a - b);
console.log('METRIC parse_ms=' + times[10].toFixed(4));
`;

function repoWith(evaluate: string): string {
  return makeRepo({
    'bench.mjs': BENCH,
    'params.json': '{ "x": 0 }\n',
    '.github/autoloop.yml': `metric: { name: parse_ms, goal: minimize }
evaluate: { command: node bench.mjs, timeout: 60s${evaluate} }
scope: { edit: [params.json], protect: [bench.mjs] }
proposer: { kind: tune, tune: { file: params.json, params: { x: { min: 0, max: 1 } } } }
`,
  });
}

const designs: Array<[string, string]> = [
  ['auto (default)', ''],
  ['repeats 5', ', repeats: 5'],
  ['repeats 1, min_effect 0', ', repeats: 1'],
];

const rows: string[][] = [];
const started = performance.now();
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
console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
