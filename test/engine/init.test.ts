import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitState, inspectRepository, makeTargets, numericLeaves, readScripts } from '../../src/engine/init/inspect.js';
import { probeMetrics } from '../../src/engine/init/probe.js';
import { readWorkflowTemplate, writePlannedFiles } from '../../src/engine/init/write.js';
import { makeNodeRepo, makePythonRepo } from '../fixtures/init/repos.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

describe('inspectRepository', () => {
  it('finds a Node repository\'s scripts, its evaluator, its parameter file and no autoloop files yet', async () => {
    const repo = makeNodeRepo({ 'package-lock.json': '{}', 'tsconfig.json': '{ "compilerOptions": { "target": 2022 } }' });
    const facts = await inspectRepository(repo);
    expect(facts).toMatchObject({
      languages: ['node'],
      packageManager: 'npm',
      scripts: { bench: 'node bench.mjs', test: 'node --test' },
      dependencies: false,
      lockfile: true,
      evaluatorFiles: ['bench.mjs'],
      sourceDirs: ['src'],
      existing: { config: false, instructions: false, workflow: false },
      problems: [],
    });
    // tsconfig.json is not a parameter file, whatever numbers it holds.
    expect(facts.paramFiles).toEqual([{ path: 'params.json', numbers: [{ key: 'learning_rate', value: 0.01 }, { key: 'hidden_units', value: 16 }, { key: 'momentum', value: 0.9 }] }]);
  });

  it('finds Python markers, nested YAML parameters, Make targets and workflows that already use autoloop', async () => {
    const repo = makePythonRepo({
      'configs/train_config.yaml': 'optimizer:\n  lr: 0.001\n  betas: [0.9, 0.99]\nname: run\n',
      'docker-compose.yml': 'services:\n  db:\n    replicas: 2\n',
      'Makefile': 'bench:\n\t@python3 bench/run.py --quick\n\nVAR := 1\ntest:\n\tpytest\n',
      'bench/benchmark.py': 'print("METRIC acc=1")\n',
      '.github/workflows/ci.yml': 'jobs:\n  a:\n    steps:\n      - uses: acme/autoloop@v1\n',
      'package.json': '{ not json',
    });
    const facts = await inspectRepository(repo);
    expect(facts.languages).toEqual(['node', 'python', 'make']);
    expect(facts.makeTargets).toEqual({ bench: ['python3 bench/run.py --quick'], test: ['pytest'] });
    expect(facts.evaluatorFiles).toEqual(['bench/benchmark.py']);
    expect(facts.paramFiles).toEqual([{ path: 'configs/train_config.yaml', numbers: [{ key: 'optimizer.lr', value: 0.001 }] }]);
    expect(facts.autoloopWorkflows).toEqual(['.github/workflows/ci.yml']);
    expect(facts.problems[0]).toMatch(/^package\.json could not be read as JSON/);
  });

  it('sees the autoloop files that exist', async () => {
    const repo = makeNodeRepo({ '.github/autoloop.yml': 'x: 1\n', '.github/workflows/autoloop.yml': 'on: push\n' });
    expect((await inspectRepository(repo)).existing).toEqual({ config: true, instructions: false, workflow: true });
  });
});

describe('inspection helpers', () => {
  it('reads numbers by dotted key, skipping arrays and keys that hold a dot', () => {
    expect(numericLeaves({ a: 1, b: { c: 2.5, 'd.e': 3, f: [1, 2] }, g: 'x', h: Number.NaN })).toEqual([{ key: 'a', value: 1 }, { key: 'b.c', value: 2.5 }]);
  });

  it('reads Make targets and their recipes, not variables', () => {
    expect(makeTargets('all: bench\nX = 1\nbench: build\n\t-./run --fast\n\t@echo done\nY := 2\n')).toEqual({ all: [], bench: ['./run --fast', 'echo done'] });
  });

  it('reads only existing files inside the repository', async () => {
    const repo = makeNodeRepo();
    expect((await readScripts(repo, ['bench.mjs', 'missing.js', '../outside.js', '/etc/passwd'])).map((s) => s.path)).toEqual(['bench.mjs']);
  });

  it('tells a repository with a commit from one without, and from a folder that is none', async () => {
    const repo = makeNodeRepo();
    const state = await gitState(repo);
    expect(state.head).toMatch(/^[0-9a-f]{40}$/);
    expect(state.tracked.has('bench.mjs')).toBe(true);
    const empty = mkdtempSync(join(tmpdir(), 'autoloop-test-'));
    expect(await gitState(empty)).toMatchObject({ repo: false, head: null });
    gitSync(empty, 'init', '--quiet');
    expect(await gitState(empty)).toMatchObject({ repo: true, head: null });
  });
});

describe('writePlannedFiles', () => {
  it('creates new files, and replaces an existing one only when asked', async () => {
    const repo = makeNodeRepo({ '.github/autoloop.yml': 'mine\n' });
    const asked: string[] = [];
    const files = [
      { path: '.github/autoloop.yml', text: 'theirs\n' },
      { path: '.github/workflows/autoloop.yml', text: 'on: push\n' },
    ];
    const kept = await writePlannedFiles(repo, files, async (path) => (asked.push(path), false));
    expect(kept).toEqual([{ path: '.github/autoloop.yml', action: 'kept' }, { path: '.github/workflows/autoloop.yml', action: 'written' }]);
    expect(asked).toEqual(['.github/autoloop.yml']);
    expect(readFileSync(join(repo, '.github/autoloop.yml'), 'utf8')).toBe('mine\n');
    const again = await writePlannedFiles(repo, files, async () => true);
    expect(again).toEqual([{ path: '.github/autoloop.yml', action: 'overwritten' }, { path: '.github/workflows/autoloop.yml', action: 'unchanged' }]);
    expect(readFileSync(join(repo, '.github/autoloop.yml'), 'utf8')).toBe('theirs\n');
  });

  it('reads the bundled workflow', async () => {
    expect(await readWorkflowTemplate()).toContain('uses: OWNER/autoloop@v1');
  });
});

describe('probeMetrics', () => {
  it('runs the command once on HEAD, in a worktree of its own, and returns the metrics it printed in order', async () => {
    const repo = makeRepo({ 'bench.mjs': 'import { writeFileSync } from "node:fs";\nconst n = ["l", "oss"].join("");\nconsole.log(`METRIC ${n}=3`);\nconsole.log("METRIC " + "acc=0.5");\nwriteFileSync("left.txt", "x");\n' });
    // An uncommitted change is not what is measured: HEAD is.
    await writeFile(join(repo, 'bench.mjs'), 'console.log("METRIC other=1")\n');
    const result = await probeMetrics(repo, 'node bench.mjs');
    expect(result).toMatchObject({ ok: true, metrics: ['loss', 'acc'] });
    // It ran in autoloop's worktree, not the user's, and left none behind.
    expect(existsSync(join(repo, 'left.txt'))).toBe(false);
    expect(gitSync(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('says why a command that fails did not run to the end', async () => {
    const repo = makeRepo({ 'bench.mjs': 'console.error("no data"); process.exit(3);\n' });
    const result = await probeMetrics(repo, 'node bench.mjs');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toContain('evaluate.command exited with code 3: no data');
  });
});
