/**
 * `autoloop clean`: what autoloop leaves behind, removed. Its worktrees below the git directory (`.git/autoloop/`),
 * which a run makes again when it resumes; the demo's temp repositories; and, asked to (`runs`), the traces and
 * derived files of runs. Never a ledger (the audit trail, which `verify` checks the kept commits against), a
 * branch, or anything of the user's working tree.
 */
import { existsSync, realpathSync } from 'node:fs';
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { plural } from '../core/render/markdown.js';
import { DEMO_COMMIT_MESSAGE, DEMO_MARKER, DEMO_PREFIX } from './demo.js';
import { git, gitCommonDir, repoRoot } from './git.js';
import { pidFile, processAlive, runPaths, RUNS_DIR, worktreesOwner } from './run-files.js';
import { removeWorktree } from './worktrees.js';

export interface CleanOptions {
  /** Any directory: inside a repository its worktrees (and with `runs` its run files) are cleaned too. */
  cwd: string;
  /** Also the run files in `.autoloop/`: each run's traces, table, chart and report, and `autoloop eval`'s traces. Ledgers stay. */
  runs?: boolean;
  /** Only say what would be removed. */
  dryRun?: boolean;
  /** Where the demo's repositories are looked for; default the system's temp dir. */
  tempDir?: string;
}

/** What a path is: a run's (or an `autoloop eval`'s) worktrees, a demo repository, a run's files, or eval traces. */
export type CleanKind = 'worktrees' | 'demo' | 'run-files' | 'eval-traces';

export interface CleanEntry {
  kind: CleanKind;
  /** Absolute. */
  path: string;
  /** What it is, or why it stays. */
  detail: string;
}

export interface CleanResult {
  /** The repository cleaned, or null outside one (then only the demos are). */
  repo: string | null;
  dryRun: boolean;
  /** What was removed (with `dryRun`, what would be), in the order it is. */
  removed: CleanEntry[];
  /** What looked like autoloop's but stays, with the reason: a run still running, the directory the user is in. */
  kept: CleanEntry[];
}

/** `path` with its symlinks resolved, as git lists worktrees; as it is when it cannot be resolved. */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** True when `path` is `dir` or inside it. */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}

/** The directories in `dir` (not symlinks), by name; none when it does not exist. */
async function directories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
}

/** Every worktree git knows of in the repository, by its real path. */
async function registeredWorktrees(repo: string): Promise<string[]> {
  const out = await git(repo, ['worktree', 'list', '--porcelain', '-z']);
  return out.split('\0').filter((field) => field.startsWith('worktree ')).map((field) => real(field.slice('worktree '.length)));
}

/** The pid in the name of an `autoloop eval`'s worktree folder (`eval-<pid>`), or null for a run's. */
function evalPid(name: string): number | null {
  const match = /^eval-(\d+)$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** True when an `autoloop eval` other than this process is running in the repository (its worktree folder's pid is alive). */
async function evalRunning(worktreesRoot: string): Promise<number | null> {
  for (const name of await directories(worktreesRoot)) {
    const pid = evalPid(name);
    if (pid !== null && pid !== process.pid && processAlive(pid)) return pid;
  }
  return null;
}

/** A demo repository autoloop made: its marker, or (made before the marker) the demo's one commit message. */
async function isDemo(dir: string): Promise<boolean> {
  if (existsSync(join(dir, '.git', DEMO_MARKER))) return true;
  const message = await readFile(join(dir, '.git', 'COMMIT_EDITMSG'), 'utf8').catch(() => '');
  return message.trim() === DEMO_COMMIT_MESSAGE;
}

/**
 * Removes (or with `dryRun` lists) what autoloop left behind: see the module's comment. A run whose process is
 * still alive keeps its worktrees and files, and so does the directory the user is in.
 */
export async function clean(options: CleanOptions): Promise<CleanResult> {
  const repo = await repoRoot(options.cwd).catch(() => null);
  const here = real(options.cwd);
  const result: CleanResult = { repo, dryRun: Boolean(options.dryRun), removed: [], kept: [] };
  const remove = async (entry: CleanEntry, action: () => Promise<void>) => {
    result.removed.push(entry);
    if (!options.dryRun) await action();
  };

  if (repo) {
    const worktreesRoot = join(await gitCommonDir(repo), 'autoloop');
    const root = real(worktreesRoot);
    const registered = existsSync(worktreesRoot) ? await registeredWorktrees(repo) : [];
    let removedWorktrees = false;
    for (const name of await directories(worktreesRoot)) {
      const dir = join(worktreesRoot, name);
      const pid = evalPid(name);
      const what = pid === null ? `run ${name}` : `autoloop eval (pid ${pid})`;
      const owner = pid === null ? await worktreesOwner(dir) : pid !== process.pid && processAlive(pid) ? pid : null;
      if (!within(real(dir), root)) continue;
      if (within(here, real(dir)) || within(real(repo), real(dir))) {
        result.kept.push({ kind: 'worktrees', path: dir, detail: `${what}: you are in it` });
        continue;
      }
      if (owner !== null) {
        const hint = pid === null ? `; if it is not, delete ${pidFile(dir)}` : '';
        result.kept.push({ kind: 'worktrees', path: dir, detail: `${what} is running (pid ${owner})${hint}` });
        continue;
      }
      const inside = registered.filter((path) => within(path, real(dir)));
      await remove({ kind: 'worktrees', path: dir, detail: `${plural(inside.length, 'worktree')} of ${what}` }, async () => {
        for (const worktree of inside) await removeWorktree(repo, worktree);
        await rm(dir, { recursive: true, force: true });
        await rm(pidFile(dir), { force: true });
      });
      removedWorktrees = true;
    }
    // What `worktree remove` could not (an entry whose folder was already gone) is forgotten here.
    if (removedWorktrees && !options.dryRun) await git(repo, ['worktree', 'prune']);

    if (options.runs) {
      const runsDir = join(repo, RUNS_DIR);
      for (const name of await directories(runsDir)) {
        const dir = join(runsDir, name);
        const paths = runPaths(dir);
        if (!existsSync(paths.ledger)) {
          // `autoloop eval` keeps its traces in `.autoloop/eval/`, beside the runs.
          if (name !== 'eval') continue;
          const running = await evalRunning(worktreesRoot);
          if (running !== null) result.kept.push({ kind: 'eval-traces', path: dir, detail: `autoloop eval is running (pid ${running})` });
          else await remove({ kind: 'eval-traces', path: dir, detail: "autoloop eval's traces" }, () => rm(dir, { recursive: true, force: true }));
          continue;
        }
        const owner = await worktreesOwner(join(worktreesRoot, name));
        if (owner !== null) {
          result.kept.push({ kind: 'run-files', path: dir, detail: `run ${name} is running (pid ${owner})` });
          continue;
        }
        for (const path of [paths.traces, paths.results, paths.chart, paths.report]) {
          if (!existsSync(path)) continue;
          await remove({ kind: 'run-files', path, detail: `of run ${name}, whose ledger stays (autoloop report renders the run from it)` }, () => rm(path, { recursive: true, force: true }));
        }
      }
    }
  }

  const temp = resolve(options.tempDir ?? tmpdir());
  for (const name of await directories(temp)) {
    if (!name.startsWith(DEMO_PREFIX)) continue;
    const dir = join(temp, name);
    if ((await lstat(dir)).isSymbolicLink() || !(await isDemo(dir))) continue;
    if (within(here, real(dir))) {
      result.kept.push({ kind: 'demo', path: dir, detail: 'a demo repository: you are in it' });
      continue;
    }
    const owner = await worktreesOwner(join(dir, '.git', 'autoloop', 'demo'));
    if (owner !== null) {
      result.kept.push({ kind: 'demo', path: dir, detail: `a demo repository whose demo is running (pid ${owner})` });
      continue;
    }
    await remove({ kind: 'demo', path: dir, detail: 'a demo repository autoloop demo made' }, () => rm(dir, { recursive: true, force: true }));
  }
  return result;
}
