/**
 * What `autoloop init` proposes for a repository, from the facts its inspection found: the evaluator command, the
 * metric and its goal, the scope, and the tune proposer's parameters with ranges guessed around their current
 * values. Pure: the facts come in as plain values (see ../../engine/init/inspect.ts).
 */
import { isReservedMetric, METRIC_NAME_PATTERN } from '../judge/metrics.js';
import type { Goal } from '../config/config-schema.js';

/** A language (or build tool) a marker file shows the repository uses. */
export type Language = 'node' | 'python' | 'rust' | 'go' | 'make';

/** How each language reads in messages. */
export const LANGUAGE_NAMES: Record<Language, string> = { node: 'Node', python: 'Python', rust: 'Rust', go: 'Go', make: 'Make' };

export type PackageManager = 'npm' | 'pnpm' | 'yarn';

/** One number in a parameter file, by its dotted key. */
export interface NumericLeaf {
  key: string;
  value: number;
}

/** A JSON or YAML file holding numbers a search could tune. */
export interface ParamFile {
  /** Relative to the repository root. */
  path: string;
  numbers: NumericLeaf[];
}

/** What the inspection of a repository found (read-only; see ../../engine/init/inspect.ts). */
export interface RepoFacts {
  languages: Language[];
  /** With package.json: which client its lockfile names (npm without one). */
  packageManager: PackageManager | null;
  /** package.json's scripts. */
  scripts: Record<string, string>;
  /** package.json declares dependencies (a fresh checkout needs them installed). */
  dependencies: boolean;
  /** A lockfile is committed next to package.json. */
  lockfile: boolean;
  /** The Makefile's targets, each with its recipe lines. */
  makeTargets: Record<string, string[]>;
  /** Scripts named like an evaluator (`eval.py`, `bench/benchmark.mjs`, …), relative to the root. */
  evaluatorFiles: string[];
  /** Files of numbers a search could tune, most likely first is not implied: see {@link rankParamFiles}. */
  paramFiles: ParamFile[];
  /** Top-level source folders (`src`). */
  sourceDirs: string[];
}

/** The package.json scripts, Make targets and file names taken for an evaluator, in this order. */
export const EVALUATOR_SCRIPTS = ['bench', 'benchmark', 'eval', 'evaluate'] as const;

/** The default evaluator when none is found, by language: a placeholder the user replaces. */
const PLACEHOLDER_COMMANDS: Array<[Language | 'other', string]> = [
  ['python', 'python3 eval.py'],
  ['node', 'node eval.mjs'],
  ['rust', 'cargo run --release --bin eval'],
  ['go', 'go run ./cmd/eval'],
  ['other', './eval.sh'],
];

/** The metric name written when no evaluator prints one yet. */
export const PLACEHOLDER_METRIC = 'score';

/** The evaluator command init proposes, and where it came from. */
export interface CommandChoice {
  command: string;
  /** Nothing in the repository measures anything yet: the command names a script to write. */
  placeholder: boolean;
  /** For people: `package.json script "bench"`, `eval.py`, or why it is a placeholder. */
  source: string;
}

/** How a package manager runs a package.json script. */
export function runScript(manager: PackageManager, script: string): string {
  if (manager === 'yarn') return `yarn ${script}`;
  if (script === 'test') return `${manager} test`;
  return `${manager} run ${script}`;
}

// A script that is one interpreter on one file, with nothing a shell or the package manager would add (PATH to
// node_modules/.bin, variables, operators): it runs the same without the package manager.
const DIRECT_SCRIPT = /^(?:node|python3?|sh|bash)\s+[\w./@-]+\.(?:[cm]?js|py|sh)(?:\s+[\w./@=-]+)*$/;

/** How a script file is run, by its extension; null for a kind init does not know. */
function runFile(path: string): string | null {
  if (/\.py$/.test(path)) return `python3 ${path}`;
  if (/\.[cm]?js$/.test(path)) return `node ${path}`;
  if (/\.sh$/.test(path)) return `sh ${path}`;
  return null;
}

/**
 * The evaluator command: a package.json script named bench, benchmark, eval or evaluate; else such a Make target;
 * else an evaluator-named script file; else a placeholder for the repository's language.
 */
export function defaultCommand(facts: RepoFacts): CommandChoice {
  const manager = facts.packageManager ?? 'npm';
  for (const name of EVALUATOR_SCRIPTS) {
    const script = facts.scripts[name];
    if (!script) continue;
    // npm itself adds most of a second to every run (and its noise to a time): a plain `node bench.mjs` runs as it is.
    if (DIRECT_SCRIPT.test(script.trim())) return { command: script.trim(), placeholder: false, source: `package.json script "${name}", run without ${manager}` };
    return { command: runScript(manager, name), placeholder: false, source: `package.json script "${name}"` };
  }
  for (const name of EVALUATOR_SCRIPTS) {
    if (facts.makeTargets[name]) return { command: `make ${name}`, placeholder: false, source: `Makefile target "${name}"` };
  }
  for (const file of facts.evaluatorFiles) {
    const command = runFile(file);
    if (command) return { command, placeholder: false, source: file };
  }
  const language = PLACEHOLDER_COMMANDS.find(([lang]) => lang === 'other' || facts.languages.includes(lang))!;
  return { command: language[1], placeholder: true, source: 'a placeholder: no bench or eval script was found' };
}

/** What a command names: the script files it runs (as written) and the files that define it (package.json, Makefile). */
export interface CommandFiles {
  files: string[];
  definedIn: string[];
}

// A token that names a script file: a relative path with a script's extension.
const SCRIPT_FILE = /^[\w@.-][\w@./-]*\.(?:[cm]?[jt]s|py|sh|rb|jl|lua|pl|R)$/;

/** The words of a shell command, split at whitespace and operators, quotes removed. Good enough to find file names. */
function words(command: string): string[] {
  return command
    .split(/\s+|&&|\|\||[;|()<>]/)
    .map((word) => word.replace(/^['"]+|['"]+$/g, ''))
    .filter((word) => word !== '');
}

/** The package.json script or Make target a command runs (`npm run bench`, `yarn bench`, `make bench`), if it is one. */
function delegated(command: string, facts: RepoFacts): { kind: 'script' | 'make'; name: string } | null {
  const [tool, sub, ...rest] = words(command);
  if (tool === 'make') return sub && facts.makeTargets[sub] ? { kind: 'make', name: sub } : null;
  if (tool !== 'npm' && tool !== 'pnpm' && tool !== 'yarn') return null;
  let script: string | undefined;
  if (sub === 'run' || sub === 'run-script') script = rest.find((word) => !word.startsWith('-'));
  else if (sub === 'test' || sub === 't') script = 'test';
  else if (tool !== 'npm') script = sub;
  return script !== undefined && facts.scripts[script] !== undefined ? { kind: 'script', name: script } : null;
}

/**
 * The files a command runs, following one package.json script or Make target (`npm run bench` → `node bench.mjs`
 * → bench.mjs): what the evaluator is, so that scope.protect can name it and its METRIC lines can be read.
 */
export function commandFiles(command: string, facts: RepoFacts, depth = 2): CommandFiles {
  const files = new Set<string>();
  const definedIn = new Set<string>();
  const visit = (text: string, level: number) => {
    const target = delegated(text, facts);
    if (target && level > 0) {
      definedIn.add(target.kind === 'make' ? 'Makefile' : 'package.json');
      const lines = target.kind === 'make' ? facts.makeTargets[target.name]! : [facts.scripts[target.name]!];
      for (const line of lines) visit(line, level - 1);
      return;
    }
    for (const word of words(text)) {
      const path = word.replace(/^\.\//, '');
      if (SCRIPT_FILE.test(path) && !path.split('/').includes('..')) files.add(path);
    }
  };
  visit(command, depth);
  return { files: [...files], definedIn: [...definedIn] };
}

const METRIC_LITERAL = /METRIC\s+([A-Za-z_][A-Za-z0-9_.\-/]*)\s*=/g;

/** The metric names a script's text prints as literals (`print("METRIC loss=" + …)`), in order, each once. */
export function metricNamesIn(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(METRIC_LITERAL)) {
    const name = match[1]!;
    if (METRIC_NAME_PATTERN.test(name) && !isReservedMetric(name)) names.add(name);
  }
  return [...names];
}

const MINIMIZE_WORDS = new Set([
  'loss', 'error', 'err', 'errors', 'latency', 'time', 'ms', 'sec', 'secs', 'seconds', 'duration', 'bytes', 'size', 'mem', 'memory', 'rss',
  'cost', 'bpb', 'bpc', 'perplexity', 'ppl', 'mse', 'mae', 'rmse', 'wer', 'cer', 'regret', 'ns', 'us', 'wall', 'cpu', 'p50', 'p90', 'p95', 'p99',
]);
const MAXIMIZE_WORDS = new Set([
  'acc', 'accuracy', 'score', 'f1', 'auc', 'precision', 'recall', 'throughput', 'ops', 'qps', 'rps', 'speed', 'speedup', 'reward', 'hits',
  'hit', 'bleu', 'rouge', 'pass', 'passed', 'win', 'wins', 'iou', 'map', 'r2', 'fps', 'success', 'coverage',
]);

/**
 * Whether smaller or larger is better, guessed from the metric's name: `val_loss`, `latency_ms` minimize;
 * `accuracy`, `ops_per_sec` (a rate) maximize. Unknown names minimize (the user is asked).
 */
export function guessGoal(name: string): Goal {
  const tokens = name.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  if (tokens.includes('per')) return 'maximize';
  for (const token of tokens) if (MAXIMIZE_WORDS.has(token)) return 'maximize';
  for (const token of tokens) if (MINIMIZE_WORDS.has(token)) return 'minimize';
  return 'minimize';
}

/** A numeric range of the tune proposer, as written in the config. */
export interface GuessedParam {
  min: number;
  max: number;
  scale?: 'log';
  type?: 'int';
}

/** Rounds to 3 significant digits, which is as precise as a guessed bound needs to be. */
function round(value: number): number {
  return Number(value.toPrecision(3));
}

/**
 * A search range around a parameter's current value: a tenth to ten times a positive number, searched by orders of
 * magnitude (a fraction below 1 stays at most 1); a quarter to four times a positive integer, as an integer; a
 * symmetric range around 0 or a negative number. The current value is always inside.
 */
export function guessParamRange(value: number): GuessedParam {
  if (Number.isInteger(value)) {
    if (value >= 1) {
      const min = Math.max(1, Math.floor(value / 4));
      const max = Math.max(value * 4, min + 1);
      return max / min >= 8 ? { min, max, scale: 'log', type: 'int' } : { min, max, type: 'int' };
    }
    if (value === 0) return { min: 0, max: 10, type: 'int' };
    return { min: value * 4, max: -value * 4, type: 'int' };
  }
  if (value > 0) return { min: round(value / 10), max: value < 1 ? Math.min(1, round(value * 10)) : round(value * 10), scale: 'log' };
  return { min: round(value * 10), max: round(-value * 10) };
}

// Numbers that are not settings to search: ports, versions, identifiers, seeds (a seed tuned is noise fitted).
const NOT_A_PARAM = /(?:^|[._-])(?:port|version|seed|id|year|pid|uid|gid)$/i;

/** The parameters tune searches in a file: its numbers (not ports, versions, ids or seeds), at most `limit`. */
export function tuneParams(file: ParamFile, limit = 16): Record<string, GuessedParam> {
  const params: Record<string, GuessedParam> = {};
  for (const leaf of file.numbers) {
    if (NOT_A_PARAM.test(leaf.key) || !Number.isFinite(leaf.value)) continue;
    if (Object.keys(params).length >= limit) break;
    params[leaf.key] = guessParamRange(leaf.value);
  }
  return params;
}

/** How likely a file name is to hold the parameters to tune: params before hyperparams before config before the rest. */
function paramFileRank(path: string): number {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const depth = path.split('/').length - 1;
  const kind = /^params\./.test(name) ? 0 : /h(?:yper)?params|hyperparameters/.test(name) ? 1 : /params/.test(name) ? 2 : /^(?:config|settings)\./.test(name) ? 3 : 4;
  return kind * 10 + depth;
}

/** The parameter files worth tuning (at least one tunable number), most likely first. */
export function rankParamFiles(files: readonly ParamFile[]): ParamFile[] {
  return files
    .filter((file) => Object.keys(tuneParams(file)).length > 0)
    .sort((a, b) => paramFileRank(a.path) - paramFileRank(b.path) || a.path.localeCompare(b.path));
}

/** What a proposal may change when there is no parameter file to tune: the source folder, else the language's files. */
export function defaultEdit(facts: RepoFacts, tuneFile: string | null): string[] {
  if (tuneFile) return [tuneFile];
  if (facts.sourceDirs.length > 0) return facts.sourceDirs.map((dir) => `${dir}/**`);
  if (facts.languages.includes('python')) return ['**/*.py'];
  if (facts.languages.includes('node')) return ['**/*.js', '**/*.mjs', '**/*.ts'];
  if (facts.languages.includes('rust')) return ['src/**'];
  if (facts.languages.includes('go')) return ['**/*.go'];
  return ['src/**'];
}

/** What installs a Node checkout's dependencies, when it has any: autoloop measures fresh worktrees. */
export function defaultSetup(facts: RepoFacts): string | null {
  if (!facts.languages.includes('node') || !facts.dependencies) return null;
  const manager = facts.packageManager ?? 'npm';
  if (manager === 'npm') return facts.lockfile ? 'npm ci' : 'npm install';
  return `${manager} install${facts.lockfile ? ' --frozen-lockfile' : ''}`;
}

// npm init's default test script, which always fails.
const NO_TEST = /no test specified/;

/**
 * The repository's tests, offered (commented out) as `evaluate.check`: its package.json `test` script or Make
 * target, else the usual test command of its language; null when there is nothing to suggest.
 */
export function defaultCheck(facts: RepoFacts): string | null {
  const test = facts.scripts.test;
  if (test && !NO_TEST.test(test)) return runScript(facts.packageManager ?? 'npm', 'test');
  if (facts.makeTargets.test) return 'make test';
  if (facts.languages.includes('python')) return 'python3 -m pytest -q';
  if (facts.languages.includes('rust')) return 'cargo test';
  if (facts.languages.includes('go')) return 'go test ./...';
  return null;
}
