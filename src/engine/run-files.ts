import { open, readFile, rename, writeFile, mkdir, readdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { GENESIS, hashLine, LedgerError, linkRecord, parseLedger, type LedgerContents, type ParseLedgerOptions } from '../core/ledger/ledger.js';
import type { UnchainedRecord } from '../core/ledger/records.js';
import { gitCommonDir } from './git.js';

/** Where a run's files live below the repository root; excluded from git through `.git/info/exclude`. */
export const RUNS_DIR = '.autoloop';

/** The files of one run: ledger, table, chart, report and traces. */
export interface RunPaths {
  dir: string;
  ledger: string;
  results: string;
  chart: string;
  report: string;
  traces: string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    ledger: join(dir, 'ledger.jsonl'),
    results: join(dir, 'results.tsv'),
    chart: join(dir, 'progress.svg'),
    report: join(dir, 'report.md'),
    traces: join(dir, 'traces'),
  };
}

/** Trace folder of one experiment, e.g. `traces/exp-0007`. */
export function traceDir(paths: RunPaths, experiment: number): string {
  return join(paths.traces, `exp-${String(experiment).padStart(4, '0')}`);
}

/** The experiment whose trace folder ({@link traceDir}) `dir` is or is inside (`exp-0007/rebased`); null for any other (the confirmation's). */
export function experimentOfTrace(paths: RunPaths, dir: string): number | null {
  const [first] = relative(paths.traces, dir).split(sep);
  const match = /^exp-(\d+)$/.exec(first ?? '');
  return match ? Number(match[1]) : null;
}

/**
 * The file beside a run's worktree folder (`.git/autoloop/<tag>.pid`, by `.git/autoloop/<tag>/`) that names the
 * process running the run, so that `autoloop clean` leaves a live run's worktrees alone. The run never removes it:
 * a dead process's is stale, and means nothing.
 */
export function pidFile(worktrees: string): string {
  return `${worktrees}.pid`;
}

/** Says, beside the run's worktree folder `worktrees`, that this process runs the run ({@link pidFile}). */
export async function claimWorktrees(worktrees: string): Promise<void> {
  await mkdir(dirname(worktrees), { recursive: true });
  await writeFile(pidFile(worktrees), `${process.pid}\n`);
}

/** True when process `pid` is alive (one of another user counts: it cannot be signalled, but it exists). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The live process that claimed the run worktrees `worktrees` ({@link claimWorktrees}), or null: none did, it has
 * ended, or it is this process (which is not running that run while it asks).
 */
export async function worktreesOwner(worktrees: string): Promise<number | null> {
  const text = await readFile(pidFile(worktrees), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  return processAlive(pid) ? pid : null;
}

/**
 * Appends records to a ledger, each linked to the line before it by that line's SHA-256 (`prev`), and
 * flushed to disk before `append` returns, so a crash right after loses nothing. One writer per ledger:
 * it remembers the last line's hash instead of re-reading the file.
 */
export class LedgerWriter {
  private constructor(
    readonly file: string,
    /** Hash of the last line, or null while the ledger is empty. */
    private last: string | null,
    /** True when `open` cut off a last line left half-written by a crash. */
    readonly repairedTail: boolean,
  ) {}

  /** Serialises appends, so that concurrent calls still chain one after the other. */
  private queue: Promise<unknown> = Promise.resolve();
  /** A failed append may have left part of a line: the next one re-reads (and repairs) the file first. */
  private stale = false;

  /**
   * Opens `file` (which need not exist) to continue its chain from the last complete line. A last line
   * without its newline is what a crash mid-append leaves: if it is not JSON it is cut off (the file is
   * replaced atomically without it) so the chain continues from the last complete record; if it is, only
   * its newline was lost and it is completed. `open` does not verify the chain: `readLedger` does.
   */
  static async open(file: string): Promise<LedgerWriter> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new LedgerWriter(file, null, false);
      throw error;
    }
    const cut = text.lastIndexOf('\n') + 1;
    const tail = text.slice(cut);
    let repairedTail = false;
    if (tail.trim() !== '') {
      if (isJson(tail)) {
        await appendDurably(file, '\n');
        text += '\n';
      } else {
        text = text.slice(0, cut);
        await replaceDurably(file, text);
        repairedTail = true;
      }
    }
    // Blank lines carry nothing: the chain links non-blank lines, as verifyLedger reads them.
    const lastLine = text.split('\n').findLast((line) => line.trim() !== '');
    return new LedgerWriter(file, lastLine === undefined ? null : hashLine(lastLine), repairedTail);
  }

  /** Hash of the last line written: the next record's `prev` (`GENESIS` while the ledger is empty). */
  get head(): string {
    return this.last ?? GENESIS;
  }

  /**
   * Links `record` to the last line, appends it and fsyncs before resolving. Resolves to the new head:
   * the hash of the line just written. `record` itself is not changed.
   */
  append(record: UnchainedRecord): Promise<string> {
    const result = this.queue.then(() => this.write(record));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async write(record: UnchainedRecord): Promise<string> {
    if (this.stale) {
      this.last = (await LedgerWriter.open(this.file)).last;
      this.stale = false;
    }
    if (this.last === null && record.type !== 'run') throw new LedgerError(this.file, null, `cannot append the ${record.type} record to an empty ledger: the run record comes first`);
    if (this.last !== null && record.type === 'run') throw new LedgerError(this.file, null, 'cannot append a second run record: one ledger holds one run');
    const linked = linkRecord(record, this.head);
    const created = this.last === null;
    try {
      await appendDurably(this.file, `${linked.line}\n`);
    } catch (error) {
      this.stale = true;
      throw error;
    }
    // A new file's directory entry must reach the disk too, or a crash could lose the whole ledger.
    if (created) await syncDirectory(dirname(this.file));
    this.last = hashLine(linked.line);
    return this.last;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

async function appendDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, 'a');
  try {
    await handle.write(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces a file by a flushed copy renamed over it, then flushes the directory: a crash leaves the old file or the new one. */
async function replaceDurably(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.write(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDirectory(dirname(file));
}

async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms (Windows) cannot open or flush a directory; the file itself is flushed.
  } finally {
    await handle?.close();
  }
}

/**
 * Reads a ledger. By default its hash chain is verified first and `LedgerTamperedError` names the first
 * altered line; pass `{ verify: false }` to read an altered ledger anyway.
 */
export async function readLedger(file: string, options: ParseLedgerOptions = {}): Promise<LedgerContents> {
  return parseLedger(await readFile(file, 'utf8'), file, options);
}

/**
 * Ends a run the loop left without a stop record (it stopped as interrupted): appends one with `reason`, as the
 * loop's own would be. For a front end that stopped the run for a reason of its own (the reader of its output left).
 */
export async function appendStopRecord(file: string, reason: string, at: Date = new Date()): Promise<void> {
  const writer = await LedgerWriter.open(file);
  await writer.append({ type: 'stop', reason, at: at.toISOString() });
}

/** Replaces a file atomically (write then rename), so a reader never sees half a table. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, content);
  await rename(temp, file);
}

/** The run directory most recently written to, for `--resume` without `--tag`. */
export async function latestRunDir(runsDir: string): Promise<string | null> {
  if (!existsSync(runsDir)) return null;
  let latest: { dir: string; mtime: number } | null = null;
  for (const entry of await readdir(runsDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const ledger = join(runsDir, entry.name, 'ledger.jsonl');
    if (!existsSync(ledger)) continue;
    const mtime = (await stat(ledger)).mtimeMs;
    if (!latest || mtime > latest.mtime) latest = { dir: join(runsDir, entry.name), mtime };
  }
  return latest?.dir ?? null;
}

/**
 * Where autoloop keeps its files in a repository: run files in `.autoloop/` (excluded from git, so
 * `git status` stays clean) and worktrees in `.git/autoloop/` (shared by all worktrees of the repository).
 */
export async function autoloopDirectories(repo: string): Promise<{ runs: string; worktrees: string }> {
  const commonDir = await gitCommonDir(repo);
  await excludeFromGit(commonDir, `/${RUNS_DIR}/`);
  return { runs: join(repo, RUNS_DIR), worktrees: join(commonDir, 'autoloop') };
}

/** Adds a line to `.git/info/exclude` once, so run files never show in `git status`. */
async function excludeFromGit(gitCommonDir: string, pattern: string): Promise<void> {
  const file = join(gitCommonDir, 'info', 'exclude');
  await mkdir(join(gitCommonDir, 'info'), { recursive: true });
  const current = existsSync(file) ? await readFile(file, 'utf8') : '';
  if (current.split('\n').includes(pattern)) return;
  await writeFile(file, `${current}${current === '' || current.endsWith('\n') ? '' : '\n'}${pattern}\n`);
}
