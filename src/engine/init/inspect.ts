/**
 * `autoloop init`'s look at a repository, read-only: package.json and its scripts, the language markers, a
 * Makefile's targets, scripts named like an evaluator, files of numbers a search could tune, and what autoloop
 * files already exist. What it means is decided in ../../core/init/defaults.ts.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CONFIG_PATH, DEFAULT_INSTRUCTIONS_PATH } from '../../core/config/config-schema.js';
import { WORKFLOW_PATH } from '../../core/protocol/protocol.js';
import type { Language, NumericLeaf, PackageManager, ParamFile, RepoFacts } from '../../core/init/defaults.js';
import { git } from '../git.js';

/** Files larger than this are not read: a parameter file or an evaluator script is small. */
const MAX_READ_BYTES = 256 * 1024;

/** The repository's facts, and which of the files init writes already exist. */
export interface Inspection extends RepoFacts {
  root: string;
  existing: { config: boolean; instructions: boolean; workflow: boolean };
  /** Workflows under .github/workflows other than autoloop's that already use an autoloop action. */
  autoloopWorkflows: string[];
  /** What could not be read, for people (a package.json that is not JSON). */
  problems: string[];
}

/** The git facts a measurement needs: a repository with a commit, and which files that commit holds. */
export interface GitState {
  repo: boolean;
  head: string | null;
  /** Paths in HEAD; empty without a commit. */
  tracked: Set<string>;
}

const LANGUAGE_MARKERS: Array<[Language, string[]]> = [
  ['node', ['package.json']],
  ['python', ['pyproject.toml', 'requirements.txt', 'setup.py', 'setup.cfg', 'Pipfile']],
  ['rust', ['Cargo.toml']],
  ['go', ['go.mod']],
  ['make', ['Makefile', 'makefile', 'GNUmakefile']],
];

const EVALUATOR_DIRS = ['', 'bench', 'benchmark', 'benchmarks', 'eval', 'scripts'];
const EVALUATOR_NAME = /^(?:eval|evaluate|bench|benchmark)\.(?:py|[cm]?js|sh)$/;

const PARAM_DIRS = ['', 'config', 'configs', 'conf', 'params'];
// A name that says "parameters": params.json, hyperparams.yaml, train_config.yml, settings.json, …
const PARAM_NAME = /(?:^|[-_.])(?:h?params|hyperparam(?:eter)?s?|config|conf|settings|tuning)(?:[-_.]|$)/i;
// YAML files of tools, CI and deployments: never the parameters to tune, whatever numbers they hold.
const TOOL_YAML = /^(?:docker-compose|compose|mkdocs|codecov|pnpm-lock|pnpm-workspace|environment|netlify|vercel|render|fly|serverless|cloudbuild|azure-pipelines|lerna|turbo|renovate|dependabot|action|app|chart|values|kustomization|buf|sonar|crowdin|citation)\b/i;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

async function readSmall(path: string): Promise<string | null> {
  try {
    if (statSync(path).size > MAX_READ_BYTES) return null;
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

async function list(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** The numbers of a parsed document by dotted key (arrays and keys holding a dot are skipped), up to 4 levels deep. */
export function numericLeaves(value: unknown, prefix = '', depth = 4): NumericLeaf[] {
  if (typeof value === 'number' && prefix) return Number.isFinite(value) ? [{ key: prefix, value }] : [];
  if (depth === 0 || typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => (key.includes('.') || key === '' ? [] : numericLeaves(child, prefix ? `${prefix}.${key}` : key, depth - 1)));
}

async function paramFile(root: string, path: string): Promise<ParamFile | null> {
  const text = await readSmall(join(root, path));
  if (text === null) return null;
  try {
    const data: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    const numbers = numericLeaves(data);
    return numbers.length > 0 ? { path, numbers } : null;
  } catch {
    return null;
  }
}

/** A Makefile's targets and their recipe lines (tab-indented lines after `target:`). */
export function makeTargets(text: string): Record<string, string[]> {
  const targets: Record<string, string[]> = {};
  let current: string[] | null = null;
  for (const line of text.split('\n')) {
    const target = /^([A-Za-z0-9_.-]+)\s*:(?!=)/.exec(line);
    if (target) {
      current = targets[target[1]!] = [];
      continue;
    }
    if (line.startsWith('\t') && current) current.push(line.slice(1).replace(/^[@-]+/, '').trim());
    else if (line.trim() !== '' && !line.startsWith('#')) current = null;
  }
  return targets;
}

/** Looks at the repository at `root`, changing nothing. */
export async function inspectRepository(root: string): Promise<Inspection> {
  const problems: string[] = [];
  const present = (path: string) => isFile(join(root, path));
  const languages = LANGUAGE_MARKERS.filter(([, markers]) => markers.some(present)).map(([language]) => language);

  let scripts: Record<string, string> = {};
  let dependencies = false;
  if (present('package.json')) {
    try {
      const pkg = JSON.parse((await readSmall(join(root, 'package.json'))) ?? '{}') as { scripts?: unknown; dependencies?: object; devDependencies?: object };
      if (pkg.scripts && typeof pkg.scripts === 'object') {
        scripts = Object.fromEntries(Object.entries(pkg.scripts).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
      }
      dependencies = Object.keys(pkg.dependencies ?? {}).length + Object.keys(pkg.devDependencies ?? {}).length > 0;
    } catch (error) {
      problems.push(`package.json could not be read as JSON (${(error as Error).message}): its scripts were not looked at`);
    }
  }
  const packageManager: PackageManager | null = !languages.includes('node')
    ? null
    : present('pnpm-lock.yaml')
      ? 'pnpm'
      : present('yarn.lock')
        ? 'yarn'
        : 'npm';
  const lockfile = ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock'].some(present);

  const makefile = ['Makefile', 'makefile', 'GNUmakefile'].find(present);
  const targets = makefile ? makeTargets((await readSmall(join(root, makefile))) ?? '') : {};

  const evaluatorFiles: string[] = [];
  for (const dir of EVALUATOR_DIRS) {
    for (const name of (await list(join(root, dir))).sort()) {
      const path = dir ? `${dir}/${name}` : name;
      if (EVALUATOR_NAME.test(name) && present(path)) evaluatorFiles.push(path);
    }
  }

  const paramFiles: ParamFile[] = [];
  for (const dir of PARAM_DIRS) {
    for (const name of (await list(join(root, dir))).sort()) {
      const path = dir ? `${dir}/${name}` : name;
      if (name.startsWith('.') || !present(path)) continue;
      const json = name.endsWith('.json') && PARAM_NAME.test(name.slice(0, -5)) && !/^(?:ts|js)config\b/.test(name);
      const yaml = /\.ya?ml$/.test(name) && (PARAM_NAME.test(name.replace(/\.ya?ml$/, '')) || (!TOOL_YAML.test(name) && !dir.startsWith('.')));
      if (!json && !yaml) continue;
      const file = await paramFile(root, path);
      if (file) paramFiles.push(file);
    }
  }

  const workflows = join(root, '.github/workflows');
  const autoloopWorkflows: string[] = [];
  for (const name of (await list(workflows)).sort()) {
    const path = `.github/workflows/${name}`;
    if (path === WORKFLOW_PATH || !/\.ya?ml$/.test(name)) continue;
    const text = await readSmall(join(root, path));
    if (text && /uses:\s*\S*autoloop\S*@/.test(text)) autoloopWorkflows.push(path);
  }

  return {
    root,
    languages,
    packageManager,
    scripts,
    dependencies,
    lockfile,
    makeTargets: targets,
    evaluatorFiles,
    paramFiles,
    sourceDirs: existsSync(join(root, 'src')) && statSync(join(root, 'src')).isDirectory() ? ['src'] : [],
    existing: { config: existsSync(join(root, CONFIG_PATH)), instructions: existsSync(join(root, DEFAULT_INSTRUCTIONS_PATH)), workflow: existsSync(join(root, WORKFLOW_PATH)) },
    autoloopWorkflows,
    problems,
  };
}

/** The texts of those of `paths` (relative to `root`, inside it) that are small files, in order. */
export async function readScripts(root: string, paths: readonly string[]): Promise<Array<{ path: string; text: string }>> {
  const found: Array<{ path: string; text: string }> = [];
  for (const path of paths) {
    if (path.startsWith('/') || path.split('/').includes('..')) continue;
    const text = isFile(join(root, path)) ? await readSmall(join(root, path)) : null;
    if (text !== null) found.push({ path, text });
  }
  return found;
}

/** Whether `root` is a git repository with a commit, and what that commit holds. */
export async function gitState(root: string): Promise<GitState> {
  const inside = await git(root, ['rev-parse', '--is-inside-work-tree']).then((out) => out.trim() === 'true', () => false);
  if (!inside) return { repo: false, head: null, tracked: new Set() };
  const head = await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']).then((out) => out.trim() || null, () => null);
  const listing = head ? await git(root, ['ls-tree', '-r', '--name-only', '-z', head]).catch(() => '') : '';
  return { repo: true, head, tracked: new Set(listing.split('\0').filter(Boolean)) };
}
