import { describe, expect, it } from 'vitest';
import {
  commandFiles,
  defaultCheck,
  defaultCommand,
  defaultEdit,
  defaultSetup,
  guessGoal,
  guessParamRange,
  metricNamesIn,
  rankParamFiles,
  tuneParams,
  type RepoFacts,
} from '../../../src/core/init/defaults.js';

function facts(overrides: Partial<RepoFacts> = {}): RepoFacts {
  return {
    languages: [],
    packageManager: null,
    scripts: {},
    dependencies: false,
    lockfile: false,
    makeTargets: {},
    evaluatorFiles: [],
    paramFiles: [],
    sourceDirs: [],
    ...overrides,
  };
}

describe('defaultCommand', () => {
  it('runs a plain `node file` bench script without npm, and anything else through the package manager', () => {
    const node = facts({ languages: ['node'], packageManager: 'npm', scripts: { test: 'vitest', bench: 'node bench.mjs --quick' } });
    expect(defaultCommand(node)).toEqual({ command: 'node bench.mjs --quick', placeholder: false, source: 'package.json script "bench", run without npm' });
    const tsx = facts({ languages: ['node'], packageManager: 'pnpm', scripts: { eval: 'tsx eval.ts' } });
    expect(defaultCommand(tsx)).toEqual({ command: 'pnpm run eval', placeholder: false, source: 'package.json script "eval"' });
    // A shell operator: the package manager's shell runs it.
    expect(defaultCommand(facts({ packageManager: 'yarn', scripts: { benchmark: 'node a.js && node b.js' } })).command).toBe('yarn benchmark');
  });

  it('takes a Make target, then an evaluator-named script, then a placeholder for the language', () => {
    expect(defaultCommand(facts({ languages: ['make'], makeTargets: { bench: ['./run'] } })).command).toBe('make bench');
    expect(defaultCommand(facts({ evaluatorFiles: ['bench/benchmark.py'] }))).toEqual({ command: 'python3 bench/benchmark.py', placeholder: false, source: 'bench/benchmark.py' });
    expect(defaultCommand(facts({ languages: ['python'] }))).toMatchObject({ command: 'python3 eval.py', placeholder: true });
    expect(defaultCommand(facts({ languages: ['rust'] }))).toMatchObject({ command: 'cargo run --release --bin eval', placeholder: true });
    expect(defaultCommand(facts())).toMatchObject({ command: './eval.sh', placeholder: true });
  });
});

describe('commandFiles', () => {
  it('follows a package.json script or a Make target to the files it runs, and names where it is defined', () => {
    const repo = facts({ scripts: { bench: 'tsx ./bench/run.ts --fast', pre: 'node a.js' }, makeTargets: { eval: ['python3 eval.py > out.txt', 'cat out.txt'] } });
    expect(commandFiles('npm run bench', repo)).toEqual({ files: ['bench/run.ts'], definedIn: ['package.json'] });
    expect(commandFiles('yarn bench', repo)).toEqual({ files: ['bench/run.ts'], definedIn: ['package.json'] });
    expect(commandFiles('make eval', repo)).toEqual({ files: ['eval.py'], definedIn: ['Makefile'] });
    expect(commandFiles('cd x && python3 "../escape.py" && sh ./go.sh', repo)).toEqual({ files: ['go.sh'], definedIn: [] });
    // A script npm does not know is left as words.
    expect(commandFiles('npm run missing', repo)).toEqual({ files: [], definedIn: [] });
  });
});

describe('metricNamesIn', () => {
  it('reads METRIC names printed as literals, in order, once each, never autoloop.* ones', () => {
    const text = 'print(f"METRIC val_loss={loss}")\nconsole.log("METRIC  acc = " + a)\nprint("METRIC val_loss=1")\nprint("METRIC autoloop.wall_ms=3")\nlog(`METRIC ${x}=1`)';
    expect(metricNamesIn(text)).toEqual(['val_loss', 'acc']);
  });
});

describe('guessGoal', () => {
  it('minimizes losses, errors, times and sizes, maximizes scores and rates, and minimizes what it cannot tell', () => {
    expect(['val_loss', 'error_rate', 'latency_ms', 'bundle_size', 'val_bpb', 'p99', 'autoloop.wall_ms'].map(guessGoal)).toEqual(Array(7).fill('minimize'));
    expect(['accuracy', 'f1', 'ops_per_sec', 'throughput', 'score', 'hits'].map(guessGoal)).toEqual(Array(6).fill('maximize'));
    expect(guessGoal('widgets')).toBe('minimize');
  });
});

describe('guessParamRange', () => {
  it('searches a tenth to ten times a positive number by orders of magnitude, a fraction staying at most 1', () => {
    expect(guessParamRange(0.01)).toEqual({ min: 0.001, max: 0.1, scale: 'log' });
    expect(guessParamRange(0.3)).toEqual({ min: 0.03, max: 1, scale: 'log' });
    expect(guessParamRange(2.5)).toEqual({ min: 0.25, max: 25, scale: 'log' });
    expect(guessParamRange(3e-7)).toEqual({ min: 3e-8, max: 0.000003, scale: 'log' });
  });

  it('keeps an integer an integer, searching a quarter to four times it', () => {
    expect(guessParamRange(16)).toEqual({ min: 4, max: 64, scale: 'log', type: 'int' });
    expect(guessParamRange(2)).toEqual({ min: 1, max: 8, scale: 'log', type: 'int' });
    expect(guessParamRange(1)).toEqual({ min: 1, max: 4, type: 'int' });
    expect(guessParamRange(0)).toEqual({ min: 0, max: 10, type: 'int' });
    expect(guessParamRange(-3)).toEqual({ min: -12, max: 12, type: 'int' });
    expect(guessParamRange(-0.5)).toEqual({ min: -5, max: 5 });
  });

  it('always holds the current value, with min below max', () => {
    for (const value of [0.0001, 0.5, 0.999, 1.5, 7, 100, 12345, -0.01, -40, 0, 0.0]) {
      const range = guessParamRange(value);
      expect(range.min).toBeLessThan(range.max);
      expect(value).toBeGreaterThanOrEqual(range.min);
      expect(value).toBeLessThanOrEqual(range.max);
      if (range.scale === 'log') expect(range.min).toBeGreaterThan(0);
    }
  });
});

describe('parameter files', () => {
  it('tunes numbers but not ports, versions, ids or seeds', () => {
    const file = { path: 'config.json', numbers: [{ key: 'port', value: 8080 }, { key: 'train.seed', value: 1 }, { key: 'train.lr', value: 0.1 }, { key: 'api_version', value: 2 }] };
    expect(Object.keys(tuneParams(file))).toEqual(['train.lr']);
  });

  it('ranks params files first, then hyperparams, then config, shallow before deep, and drops files with nothing to tune', () => {
    const files = [
      { path: 'config.yaml', numbers: [{ key: 'a', value: 1 }] },
      { path: 'conf/params.json', numbers: [{ key: 'a', value: 1 }] },
      { path: 'hyperparams.yml', numbers: [{ key: 'a', value: 1 }] },
      { path: 'params.json', numbers: [{ key: 'a', value: 1 }] },
      { path: 'params.yaml', numbers: [{ key: 'version', value: 3 }] },
    ];
    expect(rankParamFiles(files).map((file) => file.path)).toEqual(['params.json', 'conf/params.json', 'hyperparams.yml', 'config.yaml']);
  });
});

describe('scope, setup and check defaults', () => {
  it('edits the tuned file, else the source folder, else the language\'s files', () => {
    expect(defaultEdit(facts({ sourceDirs: ['src'] }), 'params.json')).toEqual(['params.json']);
    expect(defaultEdit(facts({ sourceDirs: ['src'], languages: ['python'] }), null)).toEqual(['src/**']);
    expect(defaultEdit(facts({ languages: ['python'] }), null)).toEqual(['**/*.py']);
  });

  it('installs a Node checkout\'s dependencies with its lockfile\'s client, and offers the tests as the check', () => {
    expect(defaultSetup(facts({ languages: ['node'], packageManager: 'npm', dependencies: true, lockfile: true }))).toBe('npm ci');
    expect(defaultSetup(facts({ languages: ['node'], packageManager: 'pnpm', dependencies: true, lockfile: true }))).toBe('pnpm install --frozen-lockfile');
    expect(defaultSetup(facts({ languages: ['node'], packageManager: 'npm', dependencies: false }))).toBeNull();
    expect(defaultCheck(facts({ packageManager: 'npm', scripts: { test: 'echo "Error: no test specified" && exit 1' } }))).toBeNull();
    expect(defaultCheck(facts({ packageManager: 'npm', scripts: { test: 'vitest run' } }))).toBe('npm test');
    expect(defaultCheck(facts({ languages: ['python'] }))).toBe('python3 -m pytest -q');
  });
});
