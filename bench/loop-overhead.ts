/**
 * autoloop's own time per experiment (git worktrees and commits, proposer, judge, ledger, derived
 * files), with an evaluator that does nothing, measured side by side with the cost of one bare
 * process spawn on the same machine in the same run; and how many git commands each experiment ran
 * (each one a process: most of the overhead).
 *
 *   npm run bench            (or: npx tsx bench/loop-overhead.ts [experiments])
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { runLoop } from '../src/engine/loop.js';
import { gitInvocations } from '../src/engine/git.js';
import { makeRepo } from '../test/fixtures/local/repo.js';
import { createProposer } from '../src/proposers/index.js';

const experiments = Number(process.argv[2] ?? 40);
const TARGET_MS = 50;
const EXPERIMENT_MS = 2_000;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const repo = makeRepo({
  'params.json': '{\n  "x": 0,\n  "y": 0\n}\n',
  '.github/autoloop.yml': `metric: { name: loss, goal: minimize }
evaluate: { command: "echo METRIC loss=1", timeout: 10s }
scope: { edit: [params.json] }
proposer: { kind: tune, tune: { file: params.json, params: { x: { min: -10, max: 10 }, y: { min: -10, max: 10 } } } }
budget: { experiments: ${experiments}, max_failures: ${experiments} }
`,
});

const spawnMs: number[] = [];
for (let i = 0; i < 30; i++) {
  const t0 = performance.now();
  execFileSync('git', ['--version']);
  spawnMs.push(performance.now() - t0);
}

// git commands from one experiment's start to its record (ledger and derived files included), per experiment.
const gitPerExperiment: number[] = [];
let gitAtStart = 0;
const result = await runLoop({
  proposer: createProposer,
  cwd: repo,
  tag: 'bench',
  onEvent: (event) => {
    if (event.type === 'experiment-start') gitAtStart = gitInvocations();
    else if (event.type === 'experiment' && event.record.experiment > 0) gitPerExperiment.push(gitInvocations() - gitAtStart);
  },
});
const measured = result.experiments.filter((e) => e.experiment > 0);
const overhead = measured.map((e) => e.durations.overheadMs);
const evaluate = measured.map((e) => e.durations.evaluateMs);
const propose = measured.map((e) => e.durations.proposeMs);
const median = quantile(overhead, 0.5);
const spawn = quantile(spawnMs, 0.5);

const rows = [
  ['experiments', String(measured.length)],
  ['autoloop overhead per experiment, median', `${median.toFixed(1)} ms`],
  ['autoloop overhead per experiment, p90', `${quantile(overhead, 0.9).toFixed(1)} ms`],
  ['  of which the proposer (median)', `${quantile(propose, 0.5).toFixed(1)} ms`],
  ['git commands per experiment (median)', String(quantile(gitPerExperiment, 0.5))],
  ['trivial evaluator, both sides (median)', `${quantile(evaluate, 0.5).toFixed(1)} ms`],
  ['one bare process spawn (git --version, median)', `${spawn.toFixed(1)} ms`],
  ['overhead / bare spawn', `${(median / spawn).toFixed(1)}×`],
  [`overhead / a ${EXPERIMENT_MS / 1000}-second experiment`, `${((median / EXPERIMENT_MS) * 100).toFixed(2)}%`],
  [`target: median under ${TARGET_MS} ms`, median < TARGET_MS ? 'met' : 'NOT met'],
];
const width = Math.max(...rows.map(([label]) => label!.length));
for (const [label, value] of rows) console.log(`${label!.padEnd(width)}  ${value}`);
rmSync(repo, { recursive: true, force: true });
