/**
 * `autoloop run` with `budget.parallel: 1` and `2` side by side, on this machine, in one process: the same
 * repository and config (a load-insensitive metric, `evaluate.load_sensitive: false`; an evaluator that burns
 * 300 ms of CPU per run, or with `sleep` waits 300 ms; the tune proposer, same seed; 8 experiments, one run per
 * side; the default sandbox),
 * alternated over rounds so that drift of the machine hits both alike. Prints each run's wall time, what it
 * kept, re-measured (a stale winner measured again on the new head) or discarded as stale, and the speed-up.
 *
 *   npx tsx bench/parallel-local.ts [rounds] [experiments] [cpu|sleep]
 *
 * With `cpu` (the default) the two experiments compete for the cores with each other and with autoloop's own
 * git and sandbox processes: on 2 cores the ceiling is 2×, less what else the machine runs. With `sleep` the
 * evaluator takes no CPU: what is left is autoloop's own overhead, serial where it must be (one proposal at a
 * time, records in order).
 */
import { availableParallelism, loadavg } from 'node:os';
import { rmSync } from 'node:fs';
import { runLoop } from '../src/engine/loop.js';
import { makeRepo } from '../test/fixtures/local/repo.js';
import { createProposer } from '../src/proposers/index.js';

const rounds = Number(process.argv[2] ?? 2);
const experiments = Number(process.argv[3] ?? 8);
const mode = process.argv[4] === 'sleep' ? 'sleep' : 'cpu';
const WORK_MS = 300;

// A training step's stand-in: a loss that does not depend on the machine's load, after 300 ms of CPU work (or of waiting).
const work = mode === 'cpu'
  ? `const start = process.cpuUsage();
let sink = 0;
for (let u = process.cpuUsage(start); u.user + u.system < ${WORK_MS * 1000}; u = process.cpuUsage(start)) for (let i = 0; i < 1e5; i++) sink += Math.sqrt(i);
if (sink < 0) process.exit(1);`
  : `await new Promise((done) => setTimeout(done, ${WORK_MS}));`;
const EVAL = `import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync('params.json', 'utf8'));
${work}
console.log('METRIC loss=' + ((p.x - 3) ** 2 + (p.y + 1) ** 2 + 0.5));
`;

async function timedRun(parallel: number): Promise<{ ms: number; kept: number; remeasured: number; stale: number; best: number | null }> {
  const repo = makeRepo({
    'eval.mjs': EVAL,
    'params.json': '{\n  "x": 0,\n  "y": 0\n}\n',
    '.github/autoloop.yml': `metric: { name: loss, goal: minimize, min_effect: 0.001, suspicious_effect: 100% }
evaluate: { command: node eval.mjs, timeout: 30s, repeats: 1, confirm: false, load_sensitive: false }
scope: { edit: [params.json], protect: [eval.mjs] }
proposer: { kind: tune, tune: { file: params.json, seed: 7, params: { x: { min: -10, max: 10 }, y: { min: -10, max: 10 } } } }
budget: { experiments: ${experiments}, parallel: ${parallel}, max_failures: ${experiments} }
`,
  });
  try {
    const t0 = performance.now();
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: `p${parallel}` });
    const ms = performance.now() - t0;
    if (result.outcome !== 'completed' || result.experiments.length !== experiments + 1) throw new Error(`parallel ${parallel}: ${result.stopReason}`);
    const measured = result.experiments.slice(1);
    return {
      ms,
      kept: measured.filter((e) => e.status === 'keep').length,
      remeasured: measured.filter((e) => e.reason?.startsWith('re-measured on the run head')).length,
      stale: measured.filter((e) => e.reason?.startsWith('stale:')).length,
      best: result.experiments.at(-1)!.best,
    };
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

console.log(`${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)} at the start; ${experiments} experiments per run, ${WORK_MS} ms of ${mode === 'cpu' ? 'CPU' : 'sleep'} per evaluator run, one run per side; ${rounds} rounds, parallel 1 and 2 alternated`);
const ratios: number[] = [];
const rows: string[][] = [['round', 'parallel', 'wall time', 'kept', 're-measured', 'stale', 'best loss']];
for (let round = 1; round <= rounds; round++) {
  // Alternated, and the order swapped every round: neither always runs first.
  const order = round % 2 === 1 ? [1, 2] : [2, 1];
  const times: Record<number, number> = {};
  for (const parallel of order) {
    const run = await timedRun(parallel);
    times[parallel] = run.ms;
    rows.push([String(round), String(parallel), `${(run.ms / 1000).toFixed(2)} s`, String(run.kept), String(run.remeasured), String(run.stale), run.best?.toFixed(4) ?? '—']);
  }
  ratios.push(times[1]! / times[2]!);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
const sorted = [...ratios].sort((a, b) => a - b);
const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
console.log(`speed-up, parallel 2 over 1 (wall time 1 / wall time 2): ${ratios.map((r) => `${r.toFixed(2)}×`).join(', ')}; median ${median.toFixed(2)}×; load average ${loadavg()[0]!.toFixed(1)} at the end`);
