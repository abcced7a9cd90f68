import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Proposer } from '../../src/core/propose/proposer.js';
import { DEMO_PREFIX } from '../../src/engine/demo.js';
import { openRun } from '../../src/engine/open-run.js';
import { readLedger } from '../../src/engine/run-files.js';
import { runCli } from '../fixtures/drivers/cli.js';
import { makeQuadraticRepo, quadraticConfig } from '../fixtures/local/repo.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'src/cli/index.ts');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

const idle: Proposer = { kind: 'idle', propose: async () => null };

/** An evaluator slow enough that the run is still going when the reader of its output leaves. */
const SLOW_EVAL = `import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync('params.json', 'utf8'));
await new Promise((r) => setTimeout(r, 150));
console.log('METRIC loss=' + ((p.x - 3) ** 2 + (p.y + 1) ** 2 + 0.5));
`;

describe('autoloop run --resume', () => {
  it('keeps the flags the run started with, and refuses another, saying how to go on', async () => {
    const repo = makeQuadraticRepo('{ experiments: 6 }');
    expect((await runCli(['run', '--tag', 'kept', '--experiments', '1'], repo)).code).toBe(0);
    const refused = await runCli(['run', '--resume', '--tag', 'kept', '--experiments', '3'], repo);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('autoloop run: --experiments 3: run kept started with a budget of 1 experiment.');
    expect(refused.stderr).toContain('autoloop run --base autoloop/kept/run --tag NEW_TAG --experiments 3');
    // Without flags, the stored ones: the budget of 1 is spent already.
    const resumed = await runCli(['run', '--resume', '--tag', 'kept'], repo);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('Resuming run kept on autoloop/kept/run (loss, lower is better), 1 experiment;');
    expect(resumed.stderr).toContain('Stopped: budget of 1 experiment spent');
  });

  it('--json: the start line carries the budget and whether the run was resumed', async () => {
    const repo = makeQuadraticRepo();
    const run = await runCli(['run', '--tag', 'j', '--json', '--experiments', '1'], repo);
    expect(JSON.parse(run.stdout.split('\n')[0]!)).toMatchObject({ type: 'start', resumed: false, nextExperiment: 0, budget: 1, run: { experiments: 1, goal: null, acceptSuspicious: false } });
  });
});

describe('autoloop run on a working tree with uncommitted changes', () => {
  it('warns, names the files, and measures the committed config', async () => {
    const repo = makeQuadraticRepo('{ experiments: 1 }');
    writeFileSync(join(repo, 'params.json'), '{"x": 3, "y": -1}\n');
    writeFileSync(join(repo, '.github/autoloop.yml'), quadraticConfig('{ experiments: 3 }'));
    const run = await runCli(['run', '--tag', 'dirty'], repo);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/Warning: the working tree has uncommitted changes to 2 tracked files \(\.github\/autoloop\.yml, params\.json\): autoloop run measures commits/);
    expect(run.stderr).toMatch(/\.github\/autoloop\.yml is one of them: the run uses it as committed in [0-9a-f]{7}, not as it is now/);
    // The committed budget (1), not the working tree's (3).
    expect((await readLedger(join(repo, '.autoloop/dirty/ledger.jsonl'))).experiments).toHaveLength(2);
    const json = await runCli(['run', '--tag', 'dirty-json', '--json'], repo);
    expect(JSON.parse(json.stdout.split('\n')[0]!).warnings[0]).toMatch(/^the working tree has uncommitted changes to 2 tracked files/);

    const clean = await runCli(['run', '--tag', 'clean'], makeQuadraticRepo('{ experiments: 1 }'));
    expect(clean.stderr).not.toContain('uncommitted');
  });
});

describe('autoloop run --json | head -n 1', () => {
  it('stops cleanly when the reader closes its output: exit 0, and the ledger has its stop record', async () => {
    const repo = makeQuadraticRepo('{ experiments: 50 }', { 'eval.mjs': SLOW_EVAL });
    const child = spawn(process.execPath, ['--import', TSX, CLI, 'run', '--json', '--tag', 'pipe'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // `head -n 1`: read the first line, then close the pipe.
    await new Promise<void>((resolve) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) {
          child.stdout.destroy();
          resolve();
        }
      });
    });
    expect(await exited, stderr).toBe(0);
    expect(stderr).not.toContain('EPIPE');
    const ledger = await readLedger(join(repo, '.autoloop/pipe/ledger.jsonl'));
    expect(ledger.stop?.reason).toMatch(/the reader of autoloop's output closed it/);
    expect(ledger.experiments.length).toBeLessThan(51);
  });
});

describe('plurals in the output', () => {
  it('verify says 1 record, validate 1 attempt', async () => {
    const repo = makeQuadraticRepo();
    await openRun({ cwd: repo, tag: 'alone', proposer: idle });
    expect((await runCli(['verify', '--tag', 'alone'], repo)).stdout).toContain('hash chain intact, 1 record, head');
    writeFileSync(
      join(repo, '.github/autoloop.yml'),
      'metric: { name: loss, goal: minimize }\nevaluate: { command: node eval.mjs }\nscope: { edit: [params.json] }\nproposer: { kind: llm, llm: { provider: openai, model: m, max_attempts: 1 } }\n',
    );
    const validate = await runCli(['validate'], repo);
    expect(validate.stdout).toContain('up to 1 attempt,');
  });
});

describe('autoloop demo', () => {
  let temp: string;
  let saved: string | undefined;
  beforeEach(() => {
    // The demo's temp repository goes to a temp dir of this test's own.
    saved = process.env.TMPDIR;
    temp = mkdtempSync(join(tmpdir(), 'autoloop-demotest-'));
    process.env.TMPDIR = temp;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  });

  it('prints absolute paths: the files of the run are where it says, wherever the user is', async () => {
    const demo = await runCli(['demo', '--experiments', '1'], ROOT);
    expect(demo.code, demo.stderr).toBe(0);
    const paths = [...demo.stdout.matchAll(/^(?:Ledger|Table|Chart|Report|Traces): +(\S+)$/gm)].map((m) => m[1]!);
    expect(paths).toHaveLength(5);
    for (const path of paths) {
      expect(isAbsolute(path), path).toBe(true);
      expect(path.startsWith(join(temp, DEMO_PREFIX))).toBe(true);
      expect(existsSync(path), path).toBe(true);
    }
    expect(readFileSync(paths[0]!, 'utf8')).toContain('"type":"run"');
  });
});

describe('autoloop clean', () => {
  it('lists what would go with --dry-run, then removes the run worktrees', async () => {
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = mkdtempSync(join(tmpdir(), 'autoloop-clean-cli-'));
    try {
      const repo = makeQuadraticRepo('{ experiments: 1 }');
      expect((await runCli(['run', '--tag', 'c'], repo)).code).toBe(0);
      const dry = await runCli(['clean', '--dry-run'], repo);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain(`Would remove ${join(repo, '.git/autoloop/c')} (2 worktrees of run c)`);
      expect(dry.stdout).toContain('Ledgers are kept');
      expect(existsSync(join(repo, '.git/autoloop/c'))).toBe(true);
      const done = await runCli(['clean', '--json'], repo);
      expect(JSON.parse(done.stdout)).toMatchObject({ dryRun: false, removed: [{ kind: 'worktrees', path: join(repo, '.git/autoloop/c') }] });
      expect(existsSync(join(repo, '.git/autoloop/c'))).toBe(false);
      expect((await runCli(['clean'], repo)).stdout).toContain('Nothing to remove');
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});
