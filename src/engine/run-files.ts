import { open, readFile, rename, writeFile, mkdir, readdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseLedger, serializeRecord, type LedgerContents } from '../core/ledger.js';
import type { LedgerRecord } from '../core/records.js';

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

/** Appends one record and flushes it to disk before returning, so a crash right after loses nothing. */
export async function appendRecord(file: string, record: LedgerRecord): Promise<void> {
  const handle = await open(file, 'a');
  try {
    await handle.write(serializeRecord(record));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function readLedger(file: string): Promise<LedgerContents> {
  return parseLedger(await readFile(file, 'utf8'), file);
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

/** Adds a line to `.git/info/exclude` once, so run files never show in `git status`. */
export async function excludeFromGit(gitCommonDir: string, pattern: string): Promise<void> {
  const file = join(gitCommonDir, 'info', 'exclude');
  await mkdir(join(gitCommonDir, 'info'), { recursive: true });
  const current = existsSync(file) ? await readFile(file, 'utf8') : '';
  if (current.split('\n').includes(pattern)) return;
  await writeFile(file, `${current}${current === '' || current.endsWith('\n') ? '' : '\n'}${pattern}\n`);
}
