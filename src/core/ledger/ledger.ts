import { createHash } from 'node:crypto';
import { AutoloopError, EXIT, type ExitCode } from '../errors.js';
import { RECORD_SCHEMAS, type ChainLink, type ConfirmationRecord, type ExperimentRecord, type LedgerRecord, type RunRecord, type StopRecord, type UnchainedRecord } from './records.js';

/** A run as read back from its ledger: the records as the loop built them, their `prev` links checked and dropped. */
export interface LedgerContents {
  run: RunRecord;
  /** Baseline (experiment 0) first, in order. */
  experiments: ExperimentRecord[];
  /** The last stop record, if the run ended rather than being interrupted. */
  stop: StopRecord | null;
  /** The confirmation of the run's head against its base, when the run ended after its last experiment with one. */
  confirmation: ConfirmationRecord | null;
  /** A last line cut short by a crash mid-write: ignored, and said. */
  truncatedTail: boolean;
}

/** The ledger is unreadable (not a partial last line, which is tolerated). */
export class LedgerError extends AutoloopError {
  override readonly exitCode: ExitCode = EXIT.usage;

  constructor(
    readonly file: string,
    readonly line: number | null,
    message: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${message}`, { subject: { file, line } });
    this.name = 'LedgerError';
  }
}

/** `prev` of the first line (the run record): there is no line before it. */
export const GENESIS = '0'.repeat(64);

/** Hex SHA-256 of one ledger line's UTF-8 bytes, without its newline: the next line's `prev`. */
export function hashLine(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

/**
 * How a ledger was altered, as far as the hash chain can tell; `rechained`: the chain holds, but it was
 * rebuilt after an alteration, as the kept commits on the run branch show (see `kept-commit.ts`).
 */
export type TamperKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'unchained' | 'rechained';

/** The hash chain holds: every line links to the one before it. */
export interface LedgerIntact {
  ok: true;
  file: string;
  /** Complete records checked. */
  records: number;
  /**
   * Hash of the last line. The chain only links backwards, so the last line can be changed or cut
   * without a trace; noting this value (or keeping a copy of the ledger) pins it.
   */
  head: string;
  /** A last line cut short by a crash mid-write: not tampering, and not counted. */
  truncatedTail: boolean;
}

/** The first place the hash chain breaks, blamed on the line that was most likely altered. */
export interface LedgerBreak {
  ok: false;
  file: string;
  /** 1-based line number in the file. */
  line: number;
  /** The experiment of that line (for `deleted`: the first missing one), null for the run or a stop record. */
  experiment: number | null;
  kind: TamperKind;
  /** A sentence for people, naming the lines involved. */
  problem: string;
}

export type LedgerVerification = LedgerIntact | LedgerBreak;

/** The hash chain of a ledger is broken: it was altered after it was written. */
export class LedgerTamperedError extends LedgerError {
  override readonly exitCode = EXIT.tampered;

  constructor(readonly verification: LedgerBreak) {
    super(verification.file, verification.line, `${verification.problem}. The ledger was altered after it was written; autoloop will not build on it (autoloop verify shows the details)`);
    this.name = 'LedgerTamperedError';
  }
}

/** One JSON line, with its newline. */
export function serializeRecord(record: LedgerRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/**
 * Links `record` to the line before it (whose hash is `prev`) and returns the stored record and its line
 * (without newline). `prev` comes first, so the chain reads down the left edge of the file.
 */
export function linkRecord(record: UnchainedRecord, prev: string): { record: LedgerRecord; line: string } {
  // A record read back from a ledger already has a `prev`; the new link replaces it.
  const { prev: _old, ...fields } = record as UnchainedRecord & Partial<ChainLink>;
  const linked = { prev, ...fields } as LedgerRecord;
  return { record: linked, line: JSON.stringify(linked) };
}

/** The text of a ledger holding `records` in order, chained from `GENESIS`: what the ledger writer produces. */
export function serializeLedger(records: readonly UnchainedRecord[]): string {
  let prev = GENESIS;
  let text = '';
  for (const record of records) {
    const { line } = linkRecord(record, prev);
    text += `${line}\n`;
    prev = hashLine(line);
  }
  return text;
}

interface Line {
  /** 1-based, as an editor shows it. */
  number: number;
  text: string;
}

/**
 * Splits a ledger into its complete, non-blank lines. A final line without its newline that is not
 * JSON is what a crash mid-append leaves (a prefix of a JSON object never parses): it is left out
 * and reported. Blank lines carry nothing and are skipped, here and by the writer.
 */
function splitLines(text: string): { lines: Line[]; truncatedTail: boolean } {
  const raw = text.split('\n');
  const tail = raw.pop() ?? '';
  let truncatedTail = false;
  if (tail.trim() !== '') {
    try {
      JSON.parse(tail);
      raw.push(tail);
    } catch {
      truncatedTail = true;
    }
  }
  const lines: Line[] = [];
  raw.forEach((line, index) => {
    if (line.trim() !== '') lines.push({ number: index + 1, text: line });
  });
  return { lines, truncatedTail };
}

interface Entry {
  line: number;
  text: string;
  hash: string;
  /** The line's `prev`, null when it has none or is not JSON. */
  prev: string | null;
  record: Partial<UnchainedRecord> | null;
}

function entryOf(line: Line): Entry {
  let record: Partial<UnchainedRecord> | null = null;
  try {
    const value: unknown = JSON.parse(line.text);
    if (value && typeof value === 'object' && !Array.isArray(value)) record = value as Partial<UnchainedRecord>;
  } catch {
    // Not JSON: no prev; the chain analysis blames it.
  }
  const prev = (record as Partial<ChainLink> | null)?.prev;
  return { line: line.number, text: line.text, hash: hashLine(line.text), prev: typeof prev === 'string' ? prev : null, record };
}

/** The complete, non-blank lines of a ledger: their 1-based numbers, `prev` (null when missing) and fields (null when not a JSON object). */
export function ledgerEntries(text: string): { line: number; prev: string | null; record: Partial<UnchainedRecord> | null }[] {
  return splitLines(text).lines.map(entryOf).map(({ line, prev, record }) => ({ line, prev, record }));
}

function experimentOf(entry: Entry): number | null {
  const record = entry.record;
  return record?.type === 'experiment' && typeof record.experiment === 'number' ? record.experiment : null;
}

function label(entry: Entry): string {
  const experiment = experimentOf(entry);
  if (experiment !== null) return `experiment ${experiment}`;
  switch (entry.record?.type) {
    case 'run':
      return 'the run record';
    case 'stop':
      return 'a stop record';
    case 'confirmation':
      return 'the confirmation';
    case undefined:
      return entry.record ? 'a record without a type' : 'not valid JSON';
    default:
      return 'a record of unknown type';
  }
}

const at = (entry: Entry) => `line ${entry.line} (${label(entry)})`;

type Finding = Omit<LedgerBreak, 'ok' | 'file'>;

/**
 * Blames the first broken link (line `k`'s prev is not the hash of the line before it) on a line and
 * says what most likely happened. The hashes tell which lines belong together; where they cannot
 * tell an edit from a deletion, the experiment numbers do (a gap means a deletion).
 */
function diagnose(entries: Entry[], k: number): Finding {
  const entry = entries[k]!;
  const hashAt = (i: number) => (i < 0 ? GENESIS : entries[i]!.hash);
  /** Index of the line hashing to `hash` (-1 for GENESIS, the start), null when no line does. */
  const indexOfHash = (hash: string | null): number | null => {
    if (hash === null) return null;
    if (hash === GENESIS) return -1;
    const index = entries.findIndex((e) => e.hash === hash);
    return index === -1 ? null : index;
  };
  const after = (i: number) => (i < 0 ? 'the start of the ledger' : `line ${entries[i]!.line}`);
  const edited = (i: number, why: string): Finding => ({ line: entries[i]!.line, experiment: experimentOf(entries[i]!), kind: 'edited', problem: `${at(entries[i]!)} was changed after it was written: ${why}` });
  /** A line that belongs to the original chain: another line links to it, or it links to a line written before it that now stands after it. */
  const genuine = (i: number, inBlock: (j: number) => boolean) => {
    if (entries.some((e, j) => !inBlock(j) && e.prev === entries[i]!.hash)) return true;
    const target = indexOfHash(entries[i]!.prev);
    return target !== null && target > i;
  };
  const reordered = (i: number, why: string): Finding => {
    const target = indexOfHash(entries[i]!.prev);
    const written = target !== null && target >= 0 ? `it was written right after ${at(entries[target]!)}` : why;
    return { line: entries[i]!.line, experiment: experimentOf(entries[i]!), kind: 'reordered', problem: `${at(entries[i]!)} is out of order: ${written}` };
  };
  /** Lines `first`.. that do not belong where they stand: moved (reordered) or new (inserted). */
  const misplaced = (first: number, last: number, why: string): Finding => {
    const inBlock = (j: number) => j >= first && j <= last;
    if (genuine(first, inBlock)) return reordered(first, why);
    let end = first;
    while (end < last && !genuine(end + 1, inBlock)) end++;
    const lines = end === first ? `${at(entries[first]!)} was` : `lines ${entries[first]!.line}–${entries[end]!.line} were`;
    return { line: entries[first]!.line, experiment: experimentOf(entries[first]!), kind: 'inserted', problem: `${lines} inserted: no record links to ${end === first ? 'it' : 'them'}, ${why}` };
  };

  if (k === 0 && entries.every((e) => e.prev === null) && entry.record) {
    return { line: entry.line, experiment: null, kind: 'unchained', problem: `${at(entry)} has no prev: this ledger has no hash chain (written by an autoloop without one, or by hand)` };
  }
  const copy = entries.findIndex((e, j) => j < k && e.text === entry.text);
  if (copy !== -1) {
    return { line: entry.line, experiment: experimentOf(entry), kind: 'inserted', problem: `${at(entry)} was inserted: it is a copy of line ${entries[copy]!.line}` };
  }
  const expected = hashAt(k - 1);
  // Does a later line continue the chain from the line before k? Then lines k.. up to it are out of place.
  const resume = entries.findIndex((e, j) => j > k && e.prev === expected);
  if (resume !== -1) return misplaced(k, resume - 1, `and line ${entries[resume]!.line} follows ${after(k - 1)} in the chain`);
  const target = indexOfHash(entry.prev);
  // Line k links to a line further up: the lines between were put there.
  if (target !== null && target < k - 1) return misplaced(target + 1, k - 1, `and ${at(entry)} follows ${after(target)} in the chain`);
  if (target !== null && target > k) return reordered(k, `it links to line ${entries[target]!.line}, further down`);

  if (entry.prev === null) return edited(k, entry.record ? 'it has no prev' : 'it is not valid JSON');
  if (k === 0) {
    if (entry.record?.type !== 'run') {
      return { line: entry.line, experiment: 0, kind: 'deleted', problem: `the run record was deleted: line ${entry.line} is ${label(entry)}, and links to a line that is gone` };
    }
    return edited(0, 'its prev is not the genesis value');
  }
  // A gap in the experiment numbers says the missing link was a deleted line, not an edit.
  const current = experimentOf(entry);
  const before = entries.slice(0, k).reverse().find((e) => experimentOf(e) !== null);
  const last = before ? experimentOf(before)! : -1;
  if (current !== null && current > last + 1) {
    const missing = current === last + 2 ? `experiment ${last + 1} was` : `experiments ${last + 1}–${current - 1} were`;
    return { line: entry.line, experiment: last + 1, kind: 'deleted', problem: `${missing} deleted: line ${entry.line} (${label(entry)}) links to a line that is gone, right after line ${entries[k - 1]!.line} (${label(entries[k - 1]!)})` };
  }
  const next = entries[k + 1];
  if (next && next.prev !== entry.hash) return edited(k, `it links neither to line ${entries[k - 1]!.line} nor to line ${next.line}`);
  // Before a stop record no numbering shows a deleted experiment, so say that it could be one.
  const or = entry.record?.type === 'stop' ? ` (or a record between them was deleted)` : '';
  return edited(k - 1, `its hash no longer matches the prev that line ${entry.line} recorded${or}`);
}

/**
 * Checks the hash chain of a ledger's text (pure): each complete line's `prev` must be the SHA-256 of the
 * line before it (`GENESIS` for the first). Returns the count and head hash when intact, or the first
 * break, blamed on the line most likely altered: edited, deleted, inserted, reordered, or a ledger with no
 * chain at all. A last line cut short by a crash is reported as `truncatedTail`, not as tampering.
 * The chain cannot show a change to the last line, or lines cut from the end: compare `head`.
 */
export function verifyLedger(text: string, file: string): LedgerVerification {
  const { lines, truncatedTail } = splitLines(text);
  const entries = lines.map(entryOf);
  const broken = entries.findIndex((entry, i) => entry.prev !== (i === 0 ? GENESIS : entries[i - 1]!.hash));
  if (broken === -1) return { ok: true, file, records: entries.length, head: entries.at(-1)?.hash ?? GENESIS, truncatedTail };
  return { ok: false, file, ...diagnose(entries, broken) };
}

/** One ledger line's fields (without `prev`) read through the schema of its record type. */
function readRecord(fields: Record<string, unknown>, file: string, line: number): UnchainedRecord {
  const type = fields.type;
  const schema = typeof type === 'string' && Object.hasOwn(RECORD_SCHEMAS, type) ? RECORD_SCHEMAS[type as keyof typeof RECORD_SCHEMAS] : null;
  if (!schema) throw new LedgerError(file, line, `unknown record type ${JSON.stringify(type)}`);
  const parsed = schema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LedgerError(file, line, `${type} record: ${issue.path.join('.') || 'the record'}: ${issue.message}`);
  }
  return parsed.data;
}

/** How strictly `parseLedger` reads. */
export interface ParseLedgerOptions {
  /** Check the hash chain first and throw `LedgerTamperedError` when it is broken (default true). */
  verify?: boolean;
}

/**
 * Parses `ledger.jsonl`. A final line without its newline is what a crash mid-append leaves: it is
 * dropped (and reported) so that `--resume` redoes that experiment instead of refusing the run.
 * By default the hash chain is verified first, so nothing is built on an altered ledger; pass
 * `verify: false` to read one anyway (a report of what it says now). The records come back without
 * their `prev`, equal to what the loop appended.
 */
export function parseLedger(text: string, file: string, options: ParseLedgerOptions = {}): LedgerContents {
  if (options.verify !== false) {
    const verification = verifyLedger(text, file);
    if (!verification.ok) throw new LedgerTamperedError(verification);
  }
  const { lines, truncatedTail } = splitLines(text);
  let run: RunRecord | null = null;
  const experiments: ExperimentRecord[] = [];
  let stop: StopRecord | null = null;
  let confirmation: ConfirmationRecord | null = null;
  for (const { number, text: line } of lines) {
    let fields: Record<string, unknown>;
    try {
      // The link is the ledger's business: readers get the record as it was built.
      const { prev: _prev, ...rest } = JSON.parse(line) as Record<string, unknown>;
      fields = rest;
    } catch {
      throw new LedgerError(file, number, 'not valid JSON; the ledger was edited or corrupted');
    }
    const record = readRecord(fields, file, number);
    if (record.type === 'run') {
      if (run) throw new LedgerError(file, number, 'a second run record; one ledger holds one run');
      run = record;
    } else if (record.type === 'experiment') {
      if (!run) throw new LedgerError(file, number, 'an experiment before the run record');
      const expected = experiments.length;
      if (record.experiment !== expected) {
        throw new LedgerError(file, number, `experiment ${record.experiment} where ${expected} was expected`);
      }
      experiments.push(record);
      // A resumed run measures further: what was confirmed before is no longer its head.
      stop = null;
      confirmation = null;
    } else if (record.type === 'confirmation') {
      if (!run) throw new LedgerError(file, number, 'a confirmation before the run record');
      confirmation = record;
    } else {
      stop = record;
    }
  }
  if (!run) throw new LedgerError(file, null, 'no run record: not an autoloop ledger');
  return { run, experiments, stop, confirmation, truncatedTail };
}
