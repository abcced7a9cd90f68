import { describe, expect, it } from 'vitest';
import {
  GENESIS,
  hashLine,
  LedgerError,
  LedgerTamperedError,
  linkRecord,
  parseLedger,
  serializeLedger,
  serializeRecord,
  verifyLedger,
  type LedgerBreak,
} from '../../../src/core/ledger/ledger.js';
import type { RunRecord } from '../../../src/core/ledger/records.js';
import { makeExperiment, makeLedgerText, makeRun, makeStop } from '../../fixtures/records/ledger.js';

const run: RunRecord = makeRun();

/** The lines of `makeLedgerText()`: run record, experiments 0–6 (line n + 2), stop record (line 9). */
function ledgerLines(): string[] {
  return makeLedgerText().trimEnd().split('\n');
}

const join = (lines: string[]) => `${lines.map((l) => `${l}\n`).join('')}`;

function broken(text: string): LedgerBreak {
  const result = verifyLedger(text, 'ledger.jsonl');
  if (result.ok) throw new Error('expected the chain to be broken');
  return result;
}

describe('hashLine and linkRecord', () => {
  it('hashes the exact line bytes, and links each record to the line before it', () => {
    expect(hashLine('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hashLine('é')).not.toBe(hashLine('e'));
    const first = linkRecord(run, GENESIS);
    expect(first.line.startsWith(`{"prev":"${GENESIS}","type":"run"`)).toBe(true);
    expect(first.record.prev).toBe(GENESIS);
    const second = linkRecord(makeExperiment({ experiment: 0 }), hashLine(first.line));
    expect(JSON.parse(second.line).prev).toBe(hashLine(first.line));
    // Re-linking a stored record replaces its old link rather than keeping it.
    expect(linkRecord(second.record, 'f'.repeat(64)).record.prev).toBe('f'.repeat(64));
  });
});

describe('verifyLedger', () => {
  it('accepts an intact chain and returns the hash of the last line as head', () => {
    const lines = ledgerLines();
    const result = verifyLedger(makeLedgerText(), 'ledger.jsonl');
    expect(result).toEqual({ ok: true, file: 'ledger.jsonl', records: 9, head: hashLine(lines[8]!), truncatedTail: false });
  });

  it('finds an edited metric value in a middle line, at its line', () => {
    const lines = ledgerLines();
    expect(lines[2]).toContain('"metric":0.45');
    lines[2] = lines[2]!.replace('"metric":0.45', '"metric":0.35');
    const result = broken(join(lines));
    expect(result).toMatchObject({ line: 3, experiment: 1, kind: 'edited' });
    expect(result.problem).toBe('line 3 (experiment 1) was changed after it was written: its hash no longer matches the prev that line 4 recorded');
  });

  it('finds an edited run record', () => {
    const lines = ledgerLines();
    lines[0] = lines[0]!.replace('"goal":"minimize"', '"goal":"maximize"');
    expect(broken(join(lines))).toMatchObject({ line: 1, experiment: null, kind: 'edited' });
  });

  it('finds a line whose own prev was rewritten', () => {
    const lines = ledgerLines();
    lines[4] = lines[4]!.replace(/"prev":"[0-9a-f]{64}"/, `"prev":"${'1'.repeat(64)}"`);
    expect(broken(join(lines))).toMatchObject({ line: 5, experiment: 3, kind: 'edited' });
  });

  it('finds a deleted line, naming the missing experiment', () => {
    const lines = ledgerLines();
    lines.splice(3, 1); // experiment 2
    const result = broken(join(lines));
    expect(result).toMatchObject({ line: 4, experiment: 2, kind: 'deleted' });
    expect(result.problem).toContain('experiment 2 was deleted');
    const two = ledgerLines();
    two.splice(3, 2); // experiments 2 and 3
    expect(broken(join(two)).problem).toContain('experiments 2–3 were deleted');
  });

  it('finds a deleted run record', () => {
    expect(broken(join(ledgerLines().slice(1)))).toMatchObject({ line: 1, kind: 'deleted' });
  });

  it('finds an inserted line, whether or not its prev was forged', () => {
    const lines = ledgerLines();
    const forged = linkRecord(makeExperiment({ experiment: 2, metric: 0.3 }), hashLine(lines[2]!)).line;
    const withForged = [...lines.slice(0, 3), forged, ...lines.slice(3)];
    const result = broken(join(withForged));
    expect(result).toMatchObject({ line: 4, experiment: 2, kind: 'inserted' });
    expect(result.problem).toBe('line 4 (experiment 2) was inserted: no record links to it, and line 5 (experiment 2) follows line 3 in the chain');

    const unlinked = linkRecord(makeExperiment({ experiment: 2, metric: 0.3 }), 'e'.repeat(64)).line;
    expect(broken(join([...lines.slice(0, 3), unlinked, ...lines.slice(3)]))).toMatchObject({ line: 4, kind: 'inserted' });
    expect(broken(join([...lines.slice(0, 3), 'not json', ...lines.slice(3)]))).toMatchObject({ line: 4, kind: 'inserted' });
    // Two lines inserted together.
    const second = linkRecord(makeExperiment({ experiment: 3, metric: 0.2 }), hashLine(forged)).line;
    expect(broken(join([...lines.slice(0, 3), forged, second, ...lines.slice(3)])).problem).toMatch(/^lines 4–5 were inserted/);
  });

  it('finds a duplicated line', () => {
    const lines = ledgerLines();
    expect(broken(join([...lines.slice(0, 4), lines[3]!, ...lines.slice(4)]))).toMatchObject({ line: 5, kind: 'inserted', problem: 'line 5 (experiment 2) was inserted: it is a copy of line 4' });
  });

  it('finds swapped lines', () => {
    const lines = ledgerLines();
    [lines[3], lines[4]] = [lines[4]!, lines[3]!];
    const result = broken(join(lines));
    expect(result).toMatchObject({ line: 4, experiment: 3, kind: 'reordered' });
    expect(result.problem).toBe('line 4 (experiment 3) is out of order: it was written right after line 5 (experiment 2)');

    const last = ledgerLines();
    [last[7], last[8]] = [last[8]!, last[7]!];
    expect(broken(join(last))).toMatchObject({ line: 8, kind: 'reordered' });
    const moved = ledgerLines();
    moved.splice(2, 0, ...moved.splice(5, 1)); // experiment 4 moved up before experiment 1
    expect(broken(join(moved))).toMatchObject({ line: 3, experiment: 4, kind: 'reordered' });
  });

  it('reports a line cut short by a crash as a truncated tail, not as tampering', () => {
    const text = makeLedgerText();
    const result = verifyLedger(`${text}{"prev":"${hashLine(ledgerLines()[8]!)}","type":"experi`, 'ledger.jsonl');
    expect(result).toMatchObject({ ok: true, records: 9, truncatedTail: true });
  });

  it('says when a ledger has no hash chain at all', () => {
    const old = [run, makeExperiment({ experiment: 0 })].map((r) => `${JSON.stringify(r)}\n`).join('');
    expect(broken(old)).toMatchObject({ line: 1, kind: 'unchained' });
  });

  it('cannot see a change to the last line, but its head hash can', () => {
    const lines = ledgerLines();
    const intact = verifyLedger(join(lines), 'l');
    lines[8] = lines[8]!.replace('budget', 'wall time');
    const edited = verifyLedger(join(lines), 'l');
    expect(edited.ok).toBe(true);
    expect(edited.ok && intact.ok && edited.head !== intact.head).toBe(true);
  });
});

describe('parseLedger', () => {
  it('reads back what was written', () => {
    const text = serializeLedger([run, makeExperiment({ experiment: 0 }), makeExperiment({ experiment: 1 })]);
    const ledger = parseLedger(text, 'ledger.jsonl');
    expect(ledger.run).toEqual(run); // without its prev: as the loop built it
    expect(ledger.experiments.map((e) => e.experiment)).toEqual([0, 1]);
    expect(ledger.truncatedTail).toBe(false);
    expect(ledger.stop).toBeNull();
  });

  it('drops a last line cut short by a crash, and says so', () => {
    const text = serializeLedger([run, makeExperiment({ experiment: 0 })]) + '{"type":"experiment","experi';
    const ledger = parseLedger(text, 'ledger.jsonl');
    expect(ledger.experiments).toHaveLength(1);
    expect(ledger.truncatedTail).toBe(true);
  });

  it('refuses an altered ledger with a LedgerTamperedError naming the line', () => {
    const lines = ledgerLines();
    lines[2] = lines[2]!.replace('"metric":0.45', '"metric":0.35');
    const parse = () => parseLedger(join(lines), 'l.jsonl');
    expect(parse).toThrow(LedgerTamperedError);
    expect(parse).toThrow(/^l\.jsonl:3: line 3 \(experiment 1\) was changed after it was written/);
    try {
      parse();
    } catch (error) {
      expect(error).toBeInstanceOf(LedgerError);
      expect((error as LedgerTamperedError).verification).toMatchObject({ line: 3, experiment: 1, kind: 'edited' });
    }
    // Read anyway when asked: a report of what the ledger says now.
    expect(parseLedger(join(lines), 'l.jsonl', { verify: false }).experiments[1]!.metric).toBe(0.35);
  });

  it('refuses a corrupted line in the middle, naming the line', () => {
    const text = serializeRecord(linkRecord(run, GENESIS).record) + 'garbage\n' + serializeLedger([run, makeExperiment({ experiment: 0 })]).split('\n')[1] + '\n';
    expect(() => parseLedger(text, 'l.jsonl')).toThrow(/^l\.jsonl:2: line 2 \(not valid JSON\) was inserted/);
    expect(() => parseLedger(text, 'l.jsonl', { verify: false })).toThrow(new LedgerError('l.jsonl', 2, 'not valid JSON; the ledger was edited or corrupted'));
  });

  it('refuses experiments out of order', () => {
    const text = serializeLedger([run, makeExperiment({ experiment: 0 }), makeExperiment({ experiment: 2 })]);
    expect(() => parseLedger(text, 'l.jsonl')).toThrow(/l.jsonl:3: experiment 2 where 1 was expected/);
  });

  it('refuses a file without a run record', () => {
    expect(() => parseLedger('', 'l.jsonl')).toThrow(/no run record/);
  });

  it('keeps the stop record only when nothing came after it', () => {
    const stopped = [run, makeExperiment({ experiment: 0 }), makeStop({ reason: 'budget' })];
    expect(parseLedger(serializeLedger(stopped), 'l').stop?.reason).toBe('budget');
    const resumed = [...stopped, makeExperiment({ experiment: 1 })];
    expect(parseLedger(serializeLedger(resumed), 'l').stop).toBeNull();
  });
});
