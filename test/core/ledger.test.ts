import { describe, expect, it } from 'vitest';
import { LedgerError, parseLedger, serializeRecord } from '../../src/core/ledger.js';
import type { RunRecord } from '../../src/core/records.js';
import { makeExperiment, makeRun } from '../fixtures/ledger.js';

const run: RunRecord = makeRun();

describe('parseLedger', () => {
  it('reads back what was written', () => {
    const text = [run, makeExperiment({ experiment: 0 }), makeExperiment({ experiment: 1 })].map(serializeRecord).join('');
    const ledger = parseLedger(text, 'ledger.jsonl');
    expect(ledger.run).toEqual(run);
    expect(ledger.experiments.map((e) => e.experiment)).toEqual([0, 1]);
    expect(ledger.truncatedTail).toBe(false);
    expect(ledger.stop).toBeNull();
  });

  it('drops a last line cut short by a crash, and says so', () => {
    const text = [run, makeExperiment({ experiment: 0 })].map(serializeRecord).join('') + '{"type":"experiment","experi';
    const ledger = parseLedger(text, 'ledger.jsonl');
    expect(ledger.experiments).toHaveLength(1);
    expect(ledger.truncatedTail).toBe(true);
  });

  it('refuses a corrupted line in the middle, naming the line', () => {
    const text = serializeRecord(run) + 'garbage\n' + serializeRecord(makeExperiment({ experiment: 0 }));
    expect(() => parseLedger(text, 'l.jsonl')).toThrow(new LedgerError('l.jsonl', 2, 'not valid JSON; the ledger was edited or corrupted'));
  });

  it('refuses experiments out of order', () => {
    const text = [run, makeExperiment({ experiment: 0 }), makeExperiment({ experiment: 2 })].map(serializeRecord).join('');
    expect(() => parseLedger(text, 'l.jsonl')).toThrow(/l.jsonl:3: experiment 2 where 1 was expected/);
  });

  it('refuses a file without a run record', () => {
    expect(() => parseLedger('', 'l.jsonl')).toThrow(/no run record/);
  });

  it('keeps the stop record only when nothing came after it', () => {
    const stopped = [run, makeExperiment({ experiment: 0 }), { type: 'stop' as const, reason: 'budget', at: 'x' }];
    expect(parseLedger(stopped.map(serializeRecord).join(''), 'l').stop?.reason).toBe('budget');
    const resumed = [...stopped, makeExperiment({ experiment: 1 })];
    expect(parseLedger(resumed.map(serializeRecord).join(''), 'l').stop).toBeNull();
  });
});
