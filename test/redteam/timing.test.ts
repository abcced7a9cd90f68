/**
 * Red team: candidate code loaded into the evaluator's own process fakes a timing metric. An in-process timer
 * is the candidate's to patch (the first test shows it winning); `autoloop.wall_ms` and `autoloop.cpu_ms` are
 * measured by autoloop outside the sandbox, so patching the clock, printing `METRIC autoloop.wall_ms=1` or
 * writing it to the metrics file changes nothing of them, and CPU burnt in a background process still counts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evalRefs } from '../../src/engine/eval-refs.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

const linux = process.platform === 'linux';

/** The protected benchmark: loads the candidate in its own process and times it with the process's own clock. */
const BENCH = `const { solve } = await import('./solve.mjs');
const started = performance.now();
const startedAt = Date.now();
await solve();
console.log('METRIC bench_ms=' + Math.max(performance.now() - started, Date.now() - startedAt));
`;
/** Sleeps without burning CPU. */
const SLEEP = 'const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);';
const HONEST = `${SLEEP}\nexport const solve = () => sleep(100);\n`;

/** 300 ms slower than the honest solve, with every way the plain contract gives it to look fast. */
const CHEATS = {
  clock: `${SLEEP}
// Freezes the clocks the benchmark reads, so its timer says 0.
const frozen = Date.now();
Date.now = () => frozen;
const frozenPerf = performance.now();
performance.now = () => frozenPerf;
export const solve = () => sleep(400);
`,
  metricLine: `${SLEEP}
console.log('METRIC autoloop.wall_ms=1');
export const solve = () => sleep(400);
`,
  metricsFile: `${SLEEP}
import { writeFileSync } from 'node:fs';
if (process.env.AUTOLOOP_METRICS_FILE) writeFileSync(process.env.AUTOLOOP_METRICS_FILE, JSON.stringify({ bench_ms: 0, 'autoloop.wall_ms': 1 }));
export const solve = () => sleep(400);
`,
};

function repoWithCandidate(config: { metric: string; evaluate?: string }, candidate: string, bench = BENCH): string {
  const repo = makeRepo({
    'bench.mjs': bench,
    'solve.mjs': HONEST,
    '.github/autoloop.yml': `metric: { name: ${config.metric}, goal: minimize, suspicious_effect: 100000% }
evaluate: { command: node bench.mjs, repeats: 3${config.evaluate ?? ''} }
scope: { edit: [solve.mjs], protect: [bench.mjs] }
proposer: { kind: tune, tune: { file: solve.mjs, params: { x: { min: 0, max: 1 } } } }
`,
  });
  writeFileSync(join(repo, 'solve.mjs'), candidate);
  gitSync(repo, 'commit', '--quiet', '-am', 'a faster solve');
  return repo;
}

const mean = (values: number[] | undefined): number => (values ?? []).reduce((sum, value) => sum + value, 0) / (values?.length || 1);

describe.skipIf(!linux)('red team: a candidate that fakes its timing', () => {
  it('wins when the benchmark times it with its own process\'s clock: the limitation autoloop.wall_ms exists for', async () => {
    const { document } = await evalRefs({ cwd: repoWithCandidate({ metric: 'bench_ms' }, CHEATS.clock), base: 'HEAD~1', head: 'HEAD' });
    expect(mean(document.samples.candidate.bench_ms)).toBeLessThan(mean(document.samples.baseline.bench_ms));
    expect(document.verdict).toBe('improved');
  });

  it('patching the clock does not change autoloop.wall_ms: 300 ms slower measures slower', async () => {
    const { document, traceDir } = await evalRefs({ cwd: repoWithCandidate({ metric: 'autoloop.wall_ms' }, CHEATS.clock), base: 'HEAD~1', head: 'HEAD' });
    const baseline = mean(document.samples.baseline['autoloop.wall_ms']);
    const candidate = mean(document.samples.candidate['autoloop.wall_ms']);
    console.log(`autoloop.wall_ms: baseline ${baseline.toFixed(0)} ms, candidate (clock patched, 300 ms slower) ${candidate.toFixed(0)} ms`);
    // 300 ms more of sleep; a loaded machine's noise (2 cores, other suites) takes some of it on either side.
    expect(candidate - baseline).toBeGreaterThan(150);
    expect(document.verdict).toBe('regressed');
    // The benchmark's own timer was fooled all along, in the same runs.
    expect(readFileSync(join(traceDir, 'candidate-1.log'), 'utf8')).toContain('METRIC bench_ms=0');
  });

  it('printing METRIC autoloop.wall_ms=1 is refused: the name is reserved, the run invalid, never a 1', async () => {
    const { document } = await evalRefs({ cwd: repoWithCandidate({ metric: 'autoloop.wall_ms' }, CHEATS.metricLine), base: 'HEAD~1', head: 'HEAD' });
    expect(document.samples.candidate['autoloop.wall_ms'] ?? []).not.toContain(1);
    expect(document.status).not.toBe('ok');
    expect(JSON.stringify(document)).toMatch(/the evaluator reported \\"autoloop.wall_ms\\" on stdout: names autoloop\.\* are reserved/);
  });

  it('writing autoloop.wall_ms to the metrics file is refused as well', async () => {
    const repo = repoWithCandidate({ metric: 'autoloop.wall_ms', evaluate: ', report: file' }, CHEATS.metricsFile);
    const { document } = await evalRefs({ cwd: repo, base: 'HEAD~1', head: 'HEAD' });
    expect(document.samples.candidate['autoloop.wall_ms'] ?? []).not.toContain(1);
    expect(JSON.stringify(document)).toMatch(/the evaluator reported \\"autoloop.wall_ms\\" in \$AUTOLOOP_METRICS_FILE: names autoloop\.\* are reserved/);
  });

  it('CPU burnt in a background process that outlives the command still counts in autoloop.cpu_ms', async () => {
    // Same wall time as the honest solve, but a detached child busy-loops until the sandbox ends it.
    const background = `${SLEEP}
import { spawn } from 'node:child_process';
export const solve = () => {
  spawn(process.execPath, ['-e', 'for (;;);'], { detached: true, stdio: 'ignore' }).unref();
  sleep(400);
};
`;
    const honest = `${SLEEP}\nexport const solve = () => sleep(400);\n`;
    const repo = makeRepo({
      'bench.mjs': BENCH,
      'solve.mjs': honest,
      '.github/autoloop.yml': `metric: { name: autoloop.cpu_ms, goal: minimize, suspicious_effect: 100000% }
guards: [{ name: autoloop.wall_ms, goal: minimize, max_regression: 1000% }]
evaluate: { command: node bench.mjs, repeats: 3 }
scope: { edit: [solve.mjs], protect: [bench.mjs] }
proposer: { kind: tune, tune: { file: solve.mjs, params: { x: { min: 0, max: 1 } } } }
`,
    });
    writeFileSync(join(repo, 'solve.mjs'), background);
    gitSync(repo, 'commit', '--quiet', '-am', 'work in the background');
    const { document, traceDir } = await evalRefs({ cwd: repo, base: 'HEAD~1', head: 'HEAD' });
    const baseline = mean(document.samples.baseline['autoloop.cpu_ms']);
    const candidate = mean(document.samples.candidate['autoloop.cpu_ms']);
    console.log(`autoloop.cpu_ms: baseline ${baseline.toFixed(0)} ms, candidate (busy child in the background) ${candidate.toFixed(0)} ms`);
    expect(candidate - baseline).toBeGreaterThan(200);
    expect(document.verdict).toBe('regressed');
    expect(readFileSync(join(traceDir, 'candidate-1.log'), 'utf8')).toMatch(/--- exit 0 after .*, cpu .*, sandboxed \(bwrap\)/);
  });
});
