import { describe, expect, it } from 'vitest';
import { GENESIS, hashLine } from '../../../src/core/ledger/ledger.js';
import {
  chainRecords,
  currentReference,
  environmentChanges,
  fingerprintOf,
  historySegments,
  parseHistory,
  planReference,
  SENTINEL_HISTORY,
  SentinelHistoryError,
  SentinelHistoryTamperedError,
  type SentinelRecord,
} from '../../../src/core/sentinel/history.js';
import { ENVIRONMENT, finding, measurement, REFERENCE } from './records.js';

const AT = new Date('2025-03-01T02:00:00Z');

function text(records: SentinelRecord[]): string {
  return chainRecords(records).lines.map((line) => `${line}\n`).join('');
}

describe('the sentinel history: hash-chained JSON lines', () => {
  const records: SentinelRecord[] = [planReference([], ENVIRONMENT, REFERENCE, AT)!, measurement(1, 0.01), measurement(2, -0.02), finding(2)];

  it('links each line to the one before, as the ledger does, and reads back what was written', () => {
    const { lines, head } = chainRecords(records);
    expect(JSON.parse(lines[0]!).prev).toBe(GENESIS);
    expect(JSON.parse(lines[1]!).prev).toBe(hashLine(lines[0]!));
    expect(Object.keys(JSON.parse(lines[2]!))[0]).toBe('prev');
    expect(head).toBe(hashLine(lines[3]!));
    const history = parseHistory(text(records));
    expect(history.records).toEqual(records);
    expect(history.head).toBe(head);
    expect(parseHistory('')).toEqual({ records: [], head: GENESIS });
  });

  it('continues a chain from its head', () => {
    const first = chainRecords(records.slice(0, 2));
    const rest = chainRecords(records.slice(2), first.head);
    expect(parseHistory([...first.lines, ...rest.lines].map((l) => `${l}\n`).join('')).records).toEqual(records);
  });

  it('refuses an altered history, naming the line', () => {
    const lines = text(records).split('\n');
    lines[2] = lines[2]!.replace('"deltaRelative":-0.02', '"deltaRelative":0.02');
    const error = (() => {
      try {
        parseHistory(lines.join('\n'), SENTINEL_HISTORY, '/repo');
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(SentinelHistoryTamperedError);
    expect((error as SentinelHistoryTamperedError).exitCode).toBe(5);
    expect((error as SentinelHistoryTamperedError).subject).toEqual({ file: SENTINEL_HISTORY, line: 3, dir: '/repo' });
    expect((error as Error).message).toMatch(/^autoloop\/sentinel:history\.jsonl:3: line 3 .* was changed after it was written/);
    const deleted = text(records).split('\n');
    deleted.splice(1, 1);
    expect(() => parseHistory(deleted.join('\n'))).toThrow(SentinelHistoryTamperedError);
  });

  it('refuses to write an invalid record, and reads a well-chained but invalid one as an error naming its line', () => {
    expect(() => chainRecords([measurement(1, 0, { deltaRelative: Number.POSITIVE_INFINITY })])).toThrow(/refusing to write a measurement record: deltaRelative/);
    const line = JSON.stringify({ prev: GENESIS, type: 'measurement', commit: 'abc' });
    expect(() => parseHistory(`${line}\n`)).toThrow(SentinelHistoryError);
    expect(() => parseHistory(`${line}\n`)).toThrow(/history\.jsonl:1: measurement record: commit/);
  });
});

describe('environment fingerprints and references', () => {
  it('fingerprints an environment by its fields, whatever their order, and names the fields that changed', () => {
    const reordered = Object.fromEntries(Object.entries(ENVIRONMENT).reverse()) as typeof ENVIRONMENT;
    expect(fingerprintOf(reordered)).toBe(fingerprintOf(ENVIRONMENT));
    expect(fingerprintOf({ ...ENVIRONMENT, node: 'v22.1.0' })).not.toBe(fingerprintOf(ENVIRONMENT));
    expect(environmentChanges(ENVIRONMENT, { ...ENVIRONMENT, node: 'v22.1.0', cpuModel: 'Intel Xeon' })).toEqual(['cpuModel', 'node']);
  });

  it('starts at the head, goes on while nothing changes, and starts a new segment on the same reference when the environment changes', () => {
    const first = planReference([], ENVIRONMENT, 'a'.repeat(40), AT)!;
    expect(first).toMatchObject({ type: 'reference', reference: 'a'.repeat(40), reason: 'first', changed: [], at: AT.toISOString() });
    const history: SentinelRecord[] = [first, measurement(1, 0)];
    expect(planReference(history, ENVIRONMENT, 'b'.repeat(40), AT)).toBeNull();
    const moved = planReference(history, { ...ENVIRONMENT, release: '6.8.0' }, 'b'.repeat(40), AT)!;
    expect(moved).toMatchObject({ reason: 'environment', reference: 'a'.repeat(40), changed: ['release'] });
    expect(planReference(history, ENVIRONMENT, 'b'.repeat(40), AT, 'c'.repeat(40))).toMatchObject({ reason: 'requested', reference: 'c'.repeat(40) });
    expect(currentReference([...history, moved])).toBe(moved);
    expect(currentReference([])).toBeNull();
  });

  it('cuts the measurements into segments wherever the reference or the fingerprint changes', () => {
    const other = { ...ENVIRONMENT, cpuModel: 'Intel Xeon 8370C' };
    const segments = historySegments([
      measurement(1, 0),
      measurement(2, 0),
      measurement(3, 0, { environment: other, fingerprint: fingerprintOf(other) }),
      measurement(4, 0, { environment: other, fingerprint: fingerprintOf(other) }),
      measurement(5, 0, { environment: other, fingerprint: fingerprintOf(other), reference: 'e'.repeat(40) }),
    ]);
    expect(segments.map(({ start, end, reason, changed }) => ({ start, end, reason, changed }))).toEqual([
      { start: 0, end: 2, reason: 'first', changed: [] },
      { start: 2, end: 4, reason: 'environment', changed: ['cpuModel'] },
      { start: 4, end: 5, reason: 'reference', changed: [] },
    ]);
  });
});
