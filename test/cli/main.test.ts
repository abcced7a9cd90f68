import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseResultDocument } from '../../src/core/result/result.js';
import { readLedger } from '../../src/engine/run-files.js';
import { runCli } from '../fixtures/drivers/cli.js';
import { gitSync, makeQuadraticRepo } from '../fixtures/local/repo.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'src/cli/index.ts');
// Absolute, because the child runs inside a temp repository where `tsx` does not resolve.
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** Starts the CLI as its own process (through tsx), so it can be killed like a user would. */
function spawnCli(args: string[], cwd: string) {
  return spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function countExperiments(ledgerFile: string): number {
  if (!existsSync(ledgerFile)) return 0;
  return readFileSync(ledgerFile, 'utf8').split('\n').filter((l) => l.includes('"type":"experiment"')).length;
}

/** An evaluator slow enough to be killed in the middle of an experiment. */
const SLOW_EVAL = `import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync('params.json', 'utf8'));
await new Promise((r) => setTimeout(r, 150));
console.log('METRIC loss=' + ((p.x - 3) ** 2 + (p.y + 1) ** 2 + 0.5));
`;

describe('autoloop CLI', () => {
  it('prints usage and rejects unknown commands and flags with exit code 2', async () => {
    expect((await runCli(['--help'], ROOT)).stdout).toContain('autoloop run');
    const unknown = await runCli(['frobnicate'], ROOT);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const flag = await runCli(['run', '--experimnts', '3'], ROOT);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/Unknown option '--experimnts'/);
    const count = await runCli(['run', '--experiments', 'many'], ROOT);
    expect(count.code).toBe(2);
    expect(count.stderr).toContain('--experiments expects a whole number');
  });

  it('validate explains a valid config and exits 3 on an invalid one, naming file, key and line', async () => {
    const repo = makeQuadraticRepo();
    const ok = await runCli(['validate'], repo);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('.github/autoloop.yml is valid.');
    expect(ok.stdout).toContain('metric:   loss, minimize');
    await writeFile(join(repo, '.github/autoloop.yml'), 'metric: { name: loss, goal: minimise }\nevaluate: { command: x }\nscope: { edit: [a] }\n');
    const bad = await runCli(['validate'], repo);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('.github/autoloop.yml:1: metric.goal');
  });

  it('validate refuses, before any measurement, a tune key the file lacks, a missing program and a scope that matches nothing', async () => {
    const repo = makeQuadraticRepo();
    const config = await readFile(join(repo, '.github/autoloop.yml'), 'utf8');
    await writeFile(join(repo, '.github/autoloop.yml'), config.replace('y: { min: -10, max: 10 }', 'z: { min: -10, max: 10 }'));
    const key = await runCli(['validate'], repo);
    expect(key.code).toBe(3);
    expect(key.stderr).toContain('.github/autoloop.yml: proposer.tune.params: params.json (key "z"): not found');
    await writeFile(join(repo, '.github/autoloop.yml'), config.replace('command: node eval.mjs', 'command: nodee eval.mjs'));
    const program = await runCli(['validate'], repo);
    expect(program.code).toBe(3);
    expect(program.stderr).toContain('evaluate.command: program "nodee" is not on PATH; did you mean "node"?');
    await writeFile(join(repo, '.github/autoloop.yml'), config.replace('file: params.json', 'file: params.yml').replace('edit: [params.json]', 'edit: [params.yml]'));
    const missing = await runCli(['validate', '--json'], repo);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout).errors).toEqual([
      '.github/autoloop.yml: scope.edit: no tracked file is editable (params.yml): every proposal would be out of scope; list files that exist and are not protected',
      '.github/autoloop.yml: proposer.tune.file: params.yml is not in the repository: create it or fix proposer.tune.file',
    ]);
  });

  it('validate says how commands are isolated, and that an in-process evaluator can be fooled', async () => {
    const repo = makeQuadraticRepo();
    const sandboxed = await runCli(['validate'], repo);
    expect(sandboxed.stdout).toMatch(/sandbox: +auto \(bubblewrap on Linux\).*no network/);
    expect(sandboxed.stdout).toContain("an evaluator that loads the candidate's code into its own process can be fooled by it");
    const config = await readFile(join(repo, '.github/autoloop.yml'), 'utf8');
    await writeFile(join(repo, '.github/autoloop.yml'), `${config}sandbox: none\n`);
    expect((await runCli(['validate'], repo)).stdout).toMatch(/sandbox: +none: setup, check and command run unsandboxed/);
  });

  it('run prints one line per experiment and a summary, and report renders the ledger', async () => {
    const repo = makeQuadraticRepo('{ experiments: 3 }');
    const run = await runCli(['run', '--tag', 'cli'], repo);
    expect(run.code).toBe(0);
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('exp '));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^exp {2}base {2}keep +loss 10.5/);
    expect(lines[1]).toMatch(/^exp {3}1\/3 {2}(keep|discard)/);
    expect(run.stdout).toContain('Run branch: autoloop/cli/run');
    expect(run.stdout).toContain('Ledger:  .autoloop/cli/ledger.jsonl');
    const report = await runCli(['report'], repo);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain('| # |');
    const json = await runCli(['report', '--json'], repo);
    expect(JSON.parse(json.stdout).summary.baseline).toBe(10.5);
  });

  it('eval measures the working tree against HEAD, as CI would', async () => {
    const repo = makeQuadraticRepo();
    await writeFile(join(repo, 'params.json'), '{"x": 3, "y": 0}\n');
    const result = await runCli(['eval', '--repeats', '3'], repo);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('baseline 10.5 → candidate 1.5');
    expect(result.stdout).toContain('verdict: improved');
    expect(result.stdout).toContain('3 runs per side');
    // The user's files and index are as they were.
    expect(gitSync(repo, 'status', '--porcelain')).toBe('M params.json');
    const json = await runCli(['eval', '--json', '--repeats', '2'], repo);
    const document = parseResultDocument(JSON.parse(json.stdout));
    expect(document).toMatchObject({
      kind: 'autoloop-result',
      version: 1,
      base: gitSync(repo, 'rev-parse', 'HEAD'),
      status: 'keep',
      verdict: 'improved',
      baseline: 'paired',
      repeats: 2,
      samples: { baseline: { loss: [10.5, 10.5] }, candidate: { loss: [1.5, 1.5] } },
      changedFiles: ['params.json'],
      environment: { node: process.version, cpuCount: expect.any(Number) },
    });
    expect(document.runs.map((r) => r.side)).toEqual(['baseline', 'candidate', 'baseline', 'candidate']);
    expect(document.protectedHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('eval HEAD --base HEAD is an A/A test of the benchmark: measured, and said to be one', async () => {
    const repo = makeQuadraticRepo();
    const result = await runCli(['eval', 'HEAD', '--base', 'HEAD', '--repeats', '3'], repo);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("A/A: head and base hold the same files, so the delta is your benchmark's own noise");
    expect(result.stdout).toContain('baseline 10.5 → candidate 10.5');
    expect(result.stdout).toContain('verdict: no-change');
    const json = JSON.parse((await runCli(['eval', 'HEAD', '--base', 'HEAD', '--json', '--repeats', '2'], repo)).stdout);
    expect(json).toMatchObject({ status: 'discard', changedFiles: [], samples: { baseline: { loss: [10.5, 10.5] }, candidate: { loss: [10.5, 10.5] } } });
  });

  it('eval --aa measures a commit against itself and reports the noise and the smallest effect each setting finds', async () => {
    // A noisy benchmark: the same code, a different number every run.
    const repo = makeQuadraticRepo(undefined, { 'eval.mjs': 'const r = Number(process.env.AUTOLOOP_RUN) * 7 + (process.env.AUTOLOOP_SIDE === "candidate" ? 3 : 0);\nconsole.log("METRIC loss=" + (10 + (r % 5) * 0.1))\n' });
    const result = await runCli(['eval', '--aa'], repo);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^HEAD \([0-9a-f]{7}\) against HEAD \([0-9a-f]{7}\), 5 runs per side, interleaved/);
    expect(result.stdout).toMatch(/noise: CV [\d.]+% \(base\) and [\d.]+% \(head\) per run; paired differences vary by 0\.\d+/);
    expect(result.stdout).toMatch(/ {2}fixed 3 +[\d.]+ \([\d.]+%\)\n {2}fixed 5 +[\d.]+ \([\d.]+%\)\n {2}auto \(3 to 8\) +[\d.]+/);
    // The quadratic fixture measures one run per side (repeats: 1): no row for it, and the advice says so.
    expect(result.stdout).toContain('with your settings, 1 run per side, gains smaller than these are mostly missed');
    // A deterministic benchmark is told so.
    const steady = await runCli(['eval', '--aa', 'HEAD', '--repeats', '2'], makeQuadraticRepo());
    expect(steady.stdout).toContain('the metric did not vary: it is deterministic; autoloop sees that from the base\'s runs');
    const both = await runCli(['eval', '--aa', '--base', 'HEAD'], repo);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--aa measures one commit against itself');
  });

  it('eval reports out-of-scope changes as invalid with exit code 4', async () => {
    const repo = makeQuadraticRepo();
    await writeFile(join(repo, 'eval.mjs'), 'console.log("METRIC loss=0")\n');
    const result = await runCli(['eval'], repo);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('verdict: invalid — eval.mjs (modified) is protected by eval.mjs');
  });

  it('says what to do outside a git repository', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoloop-nogit-'));
    const result = await runCli(['run'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${dir} is not inside a git repository: run autoloop from a repository with at least one commit`);
  });

  it('loses nothing when killed mid-run: --resume continues from the ledger', async () => {
    const repo = makeQuadraticRepo('{ experiments: 6 }', { 'eval.mjs': SLOW_EVAL });
    const ledger = join(repo, '.autoloop/kill/ledger.jsonl');
    const child = spawnCli(['run', '--tag', 'kill'], repo);
    await waitFor(() => countExperiments(ledger) >= 3, 30_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = await readLedger(ledger);
    expect(before.experiments.length).toBeLessThan(7);

    const resumed = await runCli(['run', '--resume', '--tag', 'kill'], repo);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('Resuming run kill');
    const after = await readLedger(ledger);
    expect(after.experiments.map((e) => e.experiment)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // What was recorded before the kill is unchanged.
    expect(after.experiments.slice(0, before.experiments.length)).toEqual(before.experiments);
    expect(gitSync(repo, 'rev-parse', 'autoloop/kill/run')).toBe(after.experiments.at(-1)!.bestCommit);
    expect(readFileSync(join(repo, '.autoloop/kill/results.tsv'), 'utf8').trim().split('\n')).toHaveLength(8);
  });

  it('stops cleanly on SIGINT with exit code 130 and tells how to resume', async () => {
    const repo = makeQuadraticRepo('{ experiments: 50 }', { 'eval.mjs': SLOW_EVAL });
    const ledger = join(repo, '.autoloop/int/ledger.jsonl');
    const child = spawnCli(['run', '--tag', 'int'], repo);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await waitFor(() => countExperiments(ledger) >= 2, 30_000);
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('Continue with: autoloop run --resume --tag int');
    const contents = await readLedger(ledger);
    expect(contents.truncatedTail).toBe(false);
    expect(contents.stop).toBeNull();
  });
});
