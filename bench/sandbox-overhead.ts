/**
 * What the sandbox costs per evaluator run: the same trivial evaluator (`true`) measured through the
 * Evaluator with `sandbox: auto` (bubblewrap) and `sandbox: none`, alternated run by run in one process on
 * one worktree, beside a bare `/bin/sh -c true` for scale.
 *
 *   npx tsx bench/sandbox-overhead.ts [runs]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/core/config/config.js';
import { Evaluator } from '../src/engine/evaluator.js';
import { runCommand } from '../src/engine/process.js';

const runs = Number(process.argv[2] ?? 60);
const TARGET_MS = 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const scratch = mkdtempSync(join(tmpdir(), 'autoloop-bench-sandbox-'));
const worktree = join(scratch, 'worktree');
const traces = join(scratch, 'traces');
const config = (sandbox: string) =>
  parseConfig(`metric: { name: loss, goal: minimize }\nevaluate: { command: "echo METRIC loss=1", timeout: 10s }\nscope: { edit: [x] }\nproposer: { kind: tune, tune: { file: x, params: { a: { min: 0, max: 1 } } } }\nsandbox: ${sandbox}\n`, 'bench.yml');
const sandboxed = new Evaluator(config('auto'));
const bare = new Evaluator(config('none'));
await sandboxed.ready();
mkdirSync(worktree, { recursive: true });

const checkout = { side: 'candidate' as const, worktree, commit: '0'.repeat(40) };
const times = { bwrap: [] as number[], none: [] as number[], shell: [] as number[] };
const time = async (what: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await what();
  return performance.now() - t0;
};
for (let i = -5; i < runs; i++) {
  const b = await time(() => sandboxed.measure(checkout, 0, traces));
  const n = await time(() => bare.measure(checkout, 0, traces));
  const s = await time(() => runCommand({ command: 'true', cwd: worktree, env: { PATH: process.env.PATH }, timeoutMs: 10_000 }));
  if (i < 0) continue; // warm-up
  times.bwrap.push(b);
  times.none.push(n);
  times.shell.push(s);
}
rmSync(scratch, { recursive: true, force: true });

const overhead = median(times.bwrap) - median(times.none);
const rows = [
  ['runs per variant (alternated)', String(runs)],
  ['evaluator run, sandbox: auto (bwrap), median', `${median(times.bwrap).toFixed(1)} ms`],
  ['evaluator run, sandbox: none, median', `${median(times.none).toFixed(1)} ms`],
  ['bare /bin/sh -c true, median', `${median(times.shell).toFixed(1)} ms`],
  ['sandbox overhead per run (difference of medians)', `${overhead.toFixed(1)} ms`],
  ['bwrap / none', `${(median(times.bwrap) / median(times.none)).toFixed(2)}×`],
  [`target: overhead under ${TARGET_MS} ms`, overhead < TARGET_MS ? 'met' : 'NOT met'],
];
const width = Math.max(...rows.map(([label]) => label!.length));
for (const [label, value] of rows) console.log(`${label!.padEnd(width)}  ${value}`);
