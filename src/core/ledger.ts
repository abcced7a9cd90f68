import type { ExperimentRecord, LedgerRecord, RunRecord, StopRecord } from './records.js';

/** A run as read back from its ledger. */
export interface LedgerContents {
  run: RunRecord;
  /** Baseline (experiment 0) first, in order. */
  experiments: ExperimentRecord[];
  /** The last stop record, if the run ended rather than being interrupted. */
  stop: StopRecord | null;
  /** A last line cut short by a crash mid-write: ignored, and said. */
  truncatedTail: boolean;
}

/** The ledger is unreadable (not a partial last line, which is tolerated). */
export class LedgerError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    message: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${message}`);
    this.name = 'LedgerError';
  }
}

/** One JSON line. */
export function serializeRecord(record: LedgerRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/**
 * Parses `ledger.jsonl`. A final line without its newline is what a crash mid-append leaves: it is
 * dropped (and reported) so that `--resume` redoes that experiment instead of refusing the run.
 */
export function parseLedger(text: string, file: string): LedgerContents {
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  let truncatedTail = false;
  if (tail.trim() !== '') {
    try {
      JSON.parse(tail);
      lines.push(tail);
    } catch {
      truncatedTail = true;
    }
  }
  let run: RunRecord | null = null;
  const experiments: ExperimentRecord[] = [];
  let stop: StopRecord | null = null;
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: LedgerRecord;
    try {
      record = JSON.parse(line) as LedgerRecord;
    } catch {
      throw new LedgerError(file, index + 1, 'not valid JSON; the ledger was edited or corrupted');
    }
    if (record.type === 'run') {
      if (run) throw new LedgerError(file, index + 1, 'a second run record; one ledger holds one run');
      run = record;
    } else if (record.type === 'experiment') {
      if (!run) throw new LedgerError(file, index + 1, 'an experiment before the run record');
      const expected = experiments.length;
      if (record.experiment !== expected) {
        throw new LedgerError(file, index + 1, `experiment ${record.experiment} where ${expected} was expected`);
      }
      experiments.push(record);
      stop = null;
    } else if (record.type === 'stop') {
      stop = record;
    } else {
      throw new LedgerError(file, index + 1, `unknown record type ${JSON.stringify((record as { type?: unknown }).type)}`);
    }
  });
  if (!run) throw new LedgerError(file, null, 'no run record: not an autoloop ledger');
  return { run, experiments, stop, truncatedTail };
}
