/**
 * How fast the action starts: `node <bundle>/index.js` in a fresh process, as a runner starts `runs.main`, with the
 * environment a runner gives a step (GITHUB_*, RUNNER_*, a temp GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, every input's
 * default from action.yml as INPUT_*), timed side by side, round by round in rotating order, for:
 *
 *   before   the bundle committed at a git revision (default HEAD: dist/ as it is in git)
 *   after    the bundle of the sources as they are, built now into a temp folder with scripts/build-action.ts
 *   minimal  test/fixtures/action/minimal-action.ts (reads `mode` with @actions/core, fails on a bad one), bundled
 *            with the same esbuild options: the floor of a Node action's start on this machine
 *
 * in three cases: a bad input (`mode: bogus`, the failure a typo in a workflow gets); `evaluate` with valid inputs on
 * a push event, which fails on its first line (so the time is what it takes to reach the mode and load it); and
 * `propose` with valid inputs outside a git repository, which fails on its first git command. Prints the medians,
 * each against the minimal action's, and the size of what each bundle parses.
 *
 *   npx tsx bench/action-start.ts [runs] [--before <rev>] [--after <dir>]   (--after dist: time the dist/ as it is)
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildAction } from '../scripts/build-action.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGET_MS = 1000;
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1] : undefined;
};
const beforeRev = option('--before') ?? 'HEAD';
const afterDir = option('--after');
const runs = Number(args[0] ?? 21);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const scratch = mkdtempSync(join(tmpdir(), 'autoloop-bench-start-'));

/** `dist/` as committed at `rev`, written to a folder of its own. */
function bundleAt(rev: string): string {
  const out = join(scratch, 'before');
  const files = execFileSync('git', ['ls-tree', '-r', '--name-only', rev, '--', 'dist/'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const file of files) {
    const target = join(out, file.slice('dist/'.length));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, execFileSync('git', ['show', `${rev}:${file}`], { cwd: ROOT, maxBuffer: 1 << 30 }));
  }
  return out;
}

/** Bytes of the JavaScript files below `dir`. */
function jsBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.js')) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Bytes of `index.js` and every chunk it imports statically: what Node parses before the action's code runs. */
function startupBytes(dir: string): number {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // Static imports of chunks (minified: `import{a as b}from"./chunks/x.js"`, `import"./x.js"`), not `import("...")`.
    for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*["'](\.{1,2}\/[^"']+)["']/g)) visit(resolve(dirname(file), m[1]!));
  };
  visit(join(dir, 'index.js'));
  return [...seen].reduce((sum, file) => sum + statSync(file).size, 0);
}

const before = bundleAt(beforeRev);
const after = afterDir ? resolve(afterDir) : join(scratch, 'after');
if (!afterDir) await buildAction({ outDir: after });
const minimal = join(scratch, 'minimal');
await buildAction({ entry: 'test/fixtures/action/minimal-action.ts', outDir: minimal });

// The step's environment, as a runner sets it: every input of action.yml at its default, then the case's own.
const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
const defaults: Record<string, string> = {};
for (const [name, input] of Object.entries(action.inputs)) {
  defaults[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = name === 'token' ? 'ghs_bench' : (input.default ?? '');
}
const workspace = join(scratch, 'workspace');
const runner = join(scratch, 'runner');
mkdirSync(workspace);
mkdirSync(runner);
const event = join(runner, 'event.json');
writeFileSync(event, '{}');
const files = ['output', 'summary', 'env', 'path', 'state'].map((name) => join(runner, name));
const base: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? scratch,
  CI: 'true',
  GITHUB_ACTIONS: 'true',
  GITHUB_WORKSPACE: workspace,
  GITHUB_EVENT_PATH: event,
  GITHUB_REPOSITORY: 'octo-org/optimised',
  GITHUB_REPOSITORY_OWNER: 'octo-org',
  GITHUB_RUN_ID: '777',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_API_URL: 'https://api.github.com',
  GITHUB_GRAPHQL_URL: 'https://api.github.com/graphql',
  GITHUB_REF: 'refs/heads/main',
  GITHUB_REF_NAME: 'main',
  GITHUB_SHA: '0'.repeat(40),
  GITHUB_ACTOR: 'octocat',
  GITHUB_JOB: 'bench',
  GITHUB_ACTION: '__self',
  GITHUB_OUTPUT: files[0]!,
  GITHUB_STEP_SUMMARY: files[1]!,
  GITHUB_ENV: files[2]!,
  GITHUB_PATH: files[3]!,
  GITHUB_STATE: files[4]!,
  RUNNER_OS: 'Linux',
  RUNNER_ARCH: 'X64',
  RUNNER_TEMP: runner,
  RUNNER_TOOL_CACHE: join(runner, 'tool-cache'),
};

interface Case {
  name: string;
  env: Record<string, string>;
  /** What the step must print, so that every bundle is timed doing the same thing. */
  expect: RegExp;
  bundles: Array<[string, string]>;
}
const cases: Case[] = [
  {
    name: 'bad input (mode: bogus)',
    env: { GITHUB_EVENT_NAME: 'push', INPUT_MODE: 'bogus' },
    expect: /^::error::input mode: expected one of evaluate, propose, loop, got "bogus"$/m,
    bundles: [['before', before], ['after', after], ['minimal', minimal]],
  },
  {
    name: 'evaluate, to its first line',
    env: { GITHUB_EVENT_NAME: 'push', INPUT_MODE: 'evaluate' },
    expect: /^::error::mode: evaluate runs on pull_request events/m,
    bundles: [['before', before], ['after', after]],
  },
  {
    name: 'propose, to its first git command',
    env: { GITHUB_EVENT_NAME: 'workflow_dispatch', INPUT_MODE: 'propose', INPUT_RUN: '42', INPUT_EXPERIMENT: '1', 'INPUT_PARENT-SHA': 'a'.repeat(40) },
    expect: /^::error::.*not a git repository/im,
    bundles: [['before', before], ['after', after]],
  },
];

/** Milliseconds from spawning `node <dir>/index.js` to its exit; throws unless it failed with the expected message. */
function time(dir: string, c: Case): Promise<number> {
  for (const file of files) writeFileSync(file, '');
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(dir, 'index.js')], { cwd: workspace, env: { ...base, ...defaults, ...c.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 1 || !c.expect.test(stdout)) reject(new Error(`${dir} (${c.name}): exit ${code}, expected ${c.expect}:\n${stdout}`));
      else resolvePromise(ms);
    });
  });
}

const times = new Map<string, number[]>();
for (let round = -2; round < runs; round++) {
  for (const c of cases) {
    // Rotating the order each round spreads the machine's drift over every bundle alike.
    const order = c.bundles.map((_, i) => c.bundles[(i + Math.max(round, 0)) % c.bundles.length]!);
    for (const [label, dir] of order) {
      const ms = await time(dir, c);
      if (round < 0) continue; // warm-up: the file cache
      const key = `${c.name}\0${label}`;
      times.set(key, [...(times.get(key) ?? []), ms]);
    }
  }
}
const floor = median(times.get(`${cases[0]!.name}\0minimal`)!);
const rows: string[][] = [];
for (const c of cases) {
  for (const [label] of c.bundles) {
    const m = median(times.get(`${c.name}\0${label}`)!);
    rows.push([c.name, label, `${m.toFixed(0)} ms`, `${(m / floor).toFixed(2)}×`]);
  }
}
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
const badAfter = median(times.get(`${cases[0]!.name}\0after`)!);

console.log(`action start: ${runs} runs per bundle and case, alternated; node ${process.version}; before = dist/ at ${beforeRev}, after = ${afterDir ?? 'the sources, built now'}\n`);
console.log(['case', 'bundle', 'median', 'vs minimal (bad input)'].join(' | '));
console.log(['---', '---', '---', '---'].join(' | '));
for (const row of rows) console.log(row.join(' | '));
console.log('');
console.log(['bundle', 'JavaScript in all', 'parsed at start (index.js and its static imports)'].join(' | '));
console.log(['---', '---', '---'].join(' | '));
for (const [label, dir] of [['before', before], ['after', after], ['minimal', minimal]] as const) {
  console.log([label, kib(jsBytes(dir)), kib(startupBytes(dir))].join(' | '));
}
console.log(`\ntarget: a bad input fails in ≤ ${TARGET_MS} ms: ${badAfter <= TARGET_MS ? 'met' : 'NOT met'} (${badAfter.toFixed(0)} ms; the minimal action ${floor.toFixed(0)} ms)`);
rmSync(scratch, { recursive: true, force: true });
