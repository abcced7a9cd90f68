/**
 * The user's `.git` is shared with the proposer's worktree (and, without a sandbox, with every command
 * autoloop runs). What in it changes how git checks out, diffs or runs (its config, `info/` with the
 * attributes and excludes, hooks, the worktrees' configs and links, alternates) and its refs are read
 * before the proposer runs, and whatever changed there since is put back: after the proposer (the
 * experiment is then rejected) and before each measured run (the measurement is then invalid). So a
 * smudge filter, an fsmonitor hook, a replace ref or a moved run branch neither fools the measurement nor
 * stays behind in the user's repository.
 */
import { mkdir, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, type BigIntStats, type Dirent } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { boundWorktreeList, git, gitCommonDir } from './git.js';

/** The line autoloop itself adds to `.git/info/exclude` (run-files.ts): not a change by anyone else. */
const AUTOLOOP_EXCLUDE_LINE = '/.autoloop/';

/** One file of the git directory as it was: its bytes and mode, or a symlink's target. */
type Kept = { kind: 'file'; bytes: Buffer; mode: number } | { kind: 'link'; target: string } | { kind: 'dir' };

interface Snapshot {
  /** Absolute path → content, for every watched file that exists. */
  files: Map<string, Kept>;
  /** The worktree ids in `.git/worktrees/` then: a worktree added later (by autoloop) is not a change. */
  worktreeIds: Set<string>;
  /** The refs, or null when they were not read. */
  refs: Refs | null;
}

/**
 * Refs as the files backend keeps them (loose files below `refs/` and `packed-refs`, by path relative to
 * the git directory: read and put back without running git), or as `git for-each-ref` lists them for
 * another backend (reftable).
 */
type Refs = { kind: 'files'; files: Map<string, Buffer> } | { kind: 'listing'; refs: Map<string, string> };

/** Ref name → object id, or `-> <target>` for a symbolic ref, from the files backend's files. */
function refsOfFiles(files: ReadonlyMap<string, Buffer>): Map<string, string> {
  const refs = new Map<string, string>();
  const packed = files.get('packed-refs');
  if (packed) {
    for (const line of packed.toString('latin1').split('\n')) {
      if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
      const space = line.indexOf(' ');
      if (space > 0) refs.set(line.slice(space + 1), line.slice(0, space));
    }
  }
  for (const [path, bytes] of files) {
    if (path === 'packed-refs' || path.endsWith('.lock')) continue;
    const text = bytes.toString('latin1').trim();
    refs.set(path, text.startsWith('ref: ') ? `-> ${text.slice('ref: '.length)}` : text);
  }
  return refs;
}

function refMap(refs: Refs): Map<string, string> {
  return refs.kind === 'files' ? refsOfFiles(refs.files) : refs.refs;
}

/**
 * What was last read of each watched file, by its stat: a file whose inode, size, times and mode are
 * unchanged was not written since (a write moves its ctime), so it is not read again. Only files last
 * changed more than a second before are remembered, so that two writes within one clock tick cannot hide.
 */
const readCache = new Map<string, { stat: string; kept: Kept }>();
const SETTLED_NS = 1_000_000_000n;

/** A watched file as it is now, or null when it does not exist. Synchronous: a few small files, read between commands. */
function keep(path: string): Kept | null {
  let stats: BigIntStats | undefined;
  try {
    // Most watched files do not exist (alternates, worktree configs): no exception built for each.
    stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (!stats) return null;
  const stat = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.mode}`;
  const cached = readCache.get(path);
  if (cached?.stat === stat) return cached.kept;
  let kept: Kept;
  try {
    if (stats.isSymbolicLink()) kept = { kind: 'link', target: readlinkSync(path) };
    else if (stats.isDirectory()) kept = { kind: 'dir' };
    else if (!stats.isFile()) kept = { kind: 'file', bytes: Buffer.alloc(0), mode: Number(stats.mode) };
    else kept = { kind: 'file', bytes: readFileSync(path), mode: Number(stats.mode & 0o7777n) };
  } catch {
    return null;
  }
  if (BigInt(Date.now()) * 1_000_000n - stats.ctimeNs > SETTLED_NS) readCache.set(path, { stat, kept });
  else readCache.delete(path);
  return kept;
}

/** Files below `dir`, recursively (symlinks not followed); empty when it does not exist. */
function filesBelow(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...filesBelow(path));
    else files.push(path);
  }
  return files;
}

function sameKept(a: Kept, b: Kept, path: string): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'link' && b.kind === 'link') return a.target === b.target;
  if (a.kind === 'file' && b.kind === 'file') {
    if (path.endsWith(`${sep}info${sep}exclude`)) return (a.mode === b.mode && a.bytes.equals(b.bytes)) || withoutAutoloopLine(a.bytes) === withoutAutoloopLine(b.bytes);
    return a.mode === b.mode && a.bytes.equals(b.bytes);
  }
  return true;
}

function withoutAutoloopLine(bytes: Buffer): string {
  return bytes
    .toString('latin1')
    .split('\n')
    .filter((line) => line !== AUTOLOOP_EXCLUDE_LINE)
    .join('\n');
}

function parseRefs(out: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const [name, object, symref] = line.split('\0');
    refs.set(name!, symref ? `-> ${symref}` : (object ?? ''));
  }
  return refs;
}

/**
 * What autoloop keeps of one repository's git directory, shared by every caller in this process (the
 * loop's proposer step, the evaluator's runs): the state last trusted, and how to put it back.
 */
export class RepoGuard {
  private static readonly guards = new Map<string, RepoGuard>();
  private trusted: Snapshot | null = null;
  /** Every change {@link restore} put back since the last {@link trust}. */
  private undone: string[] = [];

  private constructor(
    /** The repository's git directory (`.git`), shared by all its worktrees. */
    readonly commonDir: string,
  ) {}

  /** The guard of the repository that `path` (its checkout or one of autoloop's worktrees) belongs to. */
  static async of(path: string): Promise<RepoGuard> {
    const commonDir = await gitCommonDir(path);
    let guard = RepoGuard.guards.get(commonDir);
    if (!guard) RepoGuard.guards.set(commonDir, (guard = new RepoGuard(commonDir)));
    return guard;
  }

  /** Whether a state was trusted yet: until then {@link restore} has nothing to compare with. */
  get armed(): boolean {
    return this.trusted !== null;
  }

  /** The watched files of the git directory that exist now. */
  private watchedFiles(): { files: string[]; worktreeIds: Set<string> } {
    const dir = this.commonDir;
    const files = [join(dir, 'config'), join(dir, 'commondir'), join(dir, 'objects', 'info', 'alternates'), join(dir, 'objects', 'info', 'http-alternates')];
    files.push(...filesBelow(join(dir, 'info')), ...filesBelow(join(dir, 'hooks')));
    let ids: string[];
    try {
      ids = readdirSync(join(dir, 'worktrees'));
    } catch {
      ids = [];
    }
    for (const id of ids) for (const name of ['config', 'config.worktree', 'commondir', 'gitdir']) files.push(join(dir, 'worktrees', id, name));
    // The `.git` files of autoloop's worktrees: rewritten, they would point git (and the evaluator) at another repository.
    for (const { worktree, gitDir } of boundWorktreeList()) if (gitDir.startsWith(`${dir}${sep}worktrees${sep}`)) files.push(join(worktree, '.git'));
    return { files, worktreeIds: new Set(ids) };
  }

  private async read(refs: boolean): Promise<Snapshot> {
    const { files, worktreeIds } = this.watchedFiles();
    const kept = new Map<string, Kept>();
    for (const file of files) {
      const content = keep(file);
      if (content) kept.set(file, content);
    }
    return { files: kept, worktreeIds, refs: refs ? await this.readRefs() : null };
  }

  private async readRefs(): Promise<Refs> {
    const dir = this.commonDir;
    if (existsSync(join(dir, 'reftable'))) {
      return { kind: 'listing', refs: parseRefs(await git(dir, ['for-each-ref', '--format=%(refname)%00%(objectname)%00%(symref)'])) };
    }
    const files = new Map<string, Buffer>();
    for (const file of [join(dir, 'packed-refs'), ...filesBelow(join(dir, 'refs'))]) {
      const content = keep(file);
      if (content?.kind === 'file') files.set(relative(dir, file).split(sep).join('/'), content.bytes);
    }
    return { kind: 'files', files };
  }

  /** Takes what the git directory holds now (and, with `refs`, its refs) as the state to keep. */
  async trust(options: { refs?: boolean } = {}): Promise<void> {
    this.trusted = await this.read(options.refs ?? false);
    this.undone = [];
  }

  /**
   * Every change put back since the state was trusted, whoever called {@link restore}: a proposer that
   * runs git in its worktree after its agent (the `command` proposer) may restore first, and the
   * experiment is still rejected for it.
   */
  changesSinceTrust(): string[] {
    return [...this.undone];
  }

  /**
   * Compares the git directory with the trusted state and puts back whatever changed: files rewritten,
   * planted or deleted, and (when refs were trusted and `refs` is asked for) refs created, moved or
   * deleted. Returns one line per change, empty when nothing changed.
   */
  async restore(options: { refs?: boolean } = {}): Promise<string[]> {
    const trusted = this.trusted;
    if (!trusted) return [];
    const now = await this.read(false);
    const changes: string[] = [];
    const name = (file: string) => {
      const inside = relative(dirname(this.commonDir), file);
      return inside.startsWith('..') ? file : inside;
    };
    for (const [file, before] of trusted.files) {
      const after = now.files.get(file);
      if (after && sameKept(before, after, file)) continue;
      changes.push(`${name(file)} ${after ? 'changed' : 'deleted'}`);
      await this.put(file, before, after);
    }
    for (const file of now.files.keys()) {
      if (trusted.files.has(file)) continue;
      const inWorktrees = relative(join(this.commonDir, 'worktrees'), file).split(sep);
      if (!inWorktrees[0]!.startsWith('..') && inWorktrees.length > 1 && !trusted.worktreeIds.has(inWorktrees[0]!)) continue;
      // A worktree autoloop created meanwhile is not a change either.
      if (!file.startsWith(`${this.commonDir}${sep}`) || file.endsWith(`${sep}.git`)) continue;
      changes.push(`${name(file)} added`);
      await rm(file, { recursive: true, force: true });
    }
    if (options.refs && trusted.refs) changes.push(...(await this.restoreRefs(trusted.refs)));
    this.undone.push(...changes);
    return changes;
  }

  private async put(file: string, before: Kept, after: Kept | undefined): Promise<void> {
    if (before.kind === 'dir') return;
    if (after) await rm(file, { recursive: true, force: true });
    await mkdir(dirname(file), { recursive: true });
    if (before.kind === 'link') {
      await symlink(before.target, file);
      return;
    }
    let bytes = before.bytes;
    // autoloop's own exclude line, added meanwhile, stays.
    if (after?.kind === 'file' && file.endsWith(`${sep}info${sep}exclude`) && after.bytes.toString('latin1').split('\n').includes(AUTOLOOP_EXCLUDE_LINE) && !before.bytes.toString('latin1').split('\n').includes(AUTOLOOP_EXCLUDE_LINE)) {
      const text = before.bytes.toString('latin1');
      bytes = Buffer.from(`${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${AUTOLOOP_EXCLUDE_LINE}\n`, 'latin1');
    }
    await writeFile(file, bytes);
    await chmod(file, before.mode);
  }

  private async restoreRefs(trusted: Refs): Promise<string[]> {
    const current = await this.readRefs();
    const [before, now] = [refMap(trusted), refMap(current)];
    const changes: string[] = [];
    const short = (value: string) => (value.startsWith('-> ') ? value : value.slice(0, 12));
    for (const [ref, value] of before) {
      const after = now.get(ref);
      if (after === value) continue;
      changes.push(after === undefined ? `${ref} deleted (was ${short(value)}): restored` : `${ref} moved from ${short(value)} to ${short(after)}: put back`);
    }
    for (const [ref, after] of now) if (!before.has(ref)) changes.push(`${ref} created (${short(after)}): deleted`);
    if (changes.length === 0) return [];
    if (trusted.kind === 'files' && current.kind === 'files') {
      // The files as they were, byte for byte: loose refs, packed-refs, and nothing planted beside them.
      for (const [path, bytes] of trusted.files) {
        if (current.files.get(path)?.equals(bytes)) continue;
        const file = join(this.commonDir, path);
        await rm(file, { recursive: true, force: true });
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, bytes);
      }
      for (const path of current.files.keys()) if (!trusted.files.has(path)) await rm(join(this.commonDir, path), { force: true });
      return changes;
    }
    const commands: string[] = [];
    const symbolic: Array<[string, string]> = [];
    for (const [ref, value] of before) {
      if (now.get(ref) === value) continue;
      if (value.startsWith('-> ')) symbolic.push([ref, value.slice('-> '.length)]);
      else commands.push(now.has(ref) ? `update ${ref} ${value}` : `create ${ref} ${value}`);
    }
    for (const ref of now.keys()) if (!before.has(ref)) commands.push(`delete ${ref}`);
    if (commands.length > 0) await git(this.commonDir, ['update-ref', '--no-deref', '--stdin'], { input: commands.join('\n') });
    for (const [ref, target] of symbolic) await git(this.commonDir, ['symbolic-ref', ref, target]);
    return changes;
  }
}

/**
 * Every file below a worktree (its `.git` aside) with its stat, to tell later which ones were written since.
 * Synchronous, as the stats of the checkout are: one awaited trip through the thread pool per file costs more.
 */
export async function worktreeFiles(worktree: string): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  const walk = (dir: string, prefix: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (prefix === '' && entry.name === '.git') continue;
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) {
        walk(join(dir, entry.name), path);
        continue;
      }
      let stats: BigIntStats | undefined;
      try {
        stats = lstatSync(join(dir, entry.name), { bigint: true, throwIfNoEntry: false });
      } catch {
        stats = undefined;
      }
      if (stats) states.set(path, `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.mode}`);
    }
  };
  walk(worktree, '');
  return states;
}

/**
 * Removes the files of a worktree that are not in its commit (`tracked`) and were created or written since
 * `before`: ignored files the proposer made, which would be measured although no commit holds them (a
 * helper module in an ignored folder, a patched dependency). Returns their paths.
 */
export async function removeStrayFiles(worktree: string, before: ReadonlyMap<string, string>, tracked: ReadonlySet<string>): Promise<string[]> {
  const now = await worktreeFiles(worktree);
  const stray: string[] = [];
  for (const [path, state] of now) {
    if (tracked.has(path) || before.get(path) === state) continue;
    stray.push(path);
    await rm(join(worktree, path), { force: true });
  }
  return stray;
}
