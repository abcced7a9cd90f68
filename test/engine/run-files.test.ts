import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GENESIS, hashLine, LedgerError, LedgerTamperedError, serializeLedger, verifyLedger } from '../../src/core/ledger/ledger.js';
import { LedgerWriter, readLedger } from '../../src/engine/run-files.js';
import { makeExperiment, makeRun, makeStop } from '../fixtures/records/ledger.js';

function tempLedger(): string {
  return join(mkdtempSync(join(tmpdir(), 'autoloop-ledger-')), 'ledger.jsonl');
}

const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('LedgerWriter', () => {
  it('chains every record to the line before it, across re-opening', async () => {
    const file = tempLedger();
    const writer = await LedgerWriter.open(file);
    expect(writer.head).toBe(GENESIS);
    const run = makeRun();
    const head = await writer.append(run);
    expect(run).toEqual(makeRun()); // not changed
    expect(head).toBe(writer.head);
    await writer.append(makeExperiment({ experiment: 0 }));

    const reopened = await LedgerWriter.open(file);
    expect(reopened.head).toBe(writer.head);
    expect(reopened.repairedTail).toBe(false);
    await reopened.append(makeExperiment({ experiment: 1 }));
    await reopened.append(makeStop());

    const written = lines(file);
    expect(written).toHaveLength(4);
    written.forEach((line, i) => expect(JSON.parse(line).prev).toBe(i === 0 ? GENESIS : hashLine(written[i - 1]!)));
    expect(reopened.head).toBe(hashLine(written[3]!));
    // Byte for byte what the pure serializer produces from the same records.
    expect(readFileSync(file, 'utf8')).toBe(serializeLedger([makeRun(), makeExperiment({ experiment: 0 }), makeExperiment({ experiment: 1 }), makeStop()]));
    expect(verifyLedger(readFileSync(file, 'utf8'), file)).toMatchObject({ ok: true, records: 4 });
  });

  it('cuts off a last line left half-written by a crash, atomically, and continues the chain from the last complete record', async () => {
    const file = tempLedger();
    const intact = serializeLedger([makeRun(), makeExperiment({ experiment: 0 })]);
    await writeFile(file, `${intact}{"prev":"abc","type":"experi`);
    const writer = await LedgerWriter.open(file);
    expect(writer.repairedTail).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(intact);
    expect(readdirSync(join(file, '..'))).toEqual(['ledger.jsonl']); // no temp file left behind
    await writer.append(makeExperiment({ experiment: 1 }));
    const ledger = await readLedger(file);
    expect(ledger.truncatedTail).toBe(false);
    expect(ledger.experiments.map((e) => e.experiment)).toEqual([0, 1]);
  });

  it('completes a last line that lost only its newline, instead of cutting it', async () => {
    const file = tempLedger();
    const intact = serializeLedger([makeRun(), makeExperiment({ experiment: 0 })]);
    await writeFile(file, intact.slice(0, -1));
    const writer = await LedgerWriter.open(file);
    expect(writer.repairedTail).toBe(false);
    await writer.append(makeExperiment({ experiment: 1 }));
    expect((await readLedger(file)).experiments).toHaveLength(2);
  });

  it('flushes each record to disk (fsync) before append resolves', async () => {
    const file = tempLedger();
    // FileHandle is not exported; its prototype is reachable from any open handle.
    const probe = await open(file, 'w');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const sync = vi.spyOn(proto, 'sync');
    const writer = await LedgerWriter.open(file);
    await writer.append(makeRun());
    // The file's data and, since the file was new to the ledger, its directory.
    expect(sync).toHaveBeenCalledTimes(2);
    expect(await readFile(file, 'utf8')).toContain('"type":"run"');
    await writer.append(makeExperiment({ experiment: 0 }));
    expect(sync).toHaveBeenCalledTimes(3);
  });

  it('after a failed append, re-reads and repairs the file so the chain goes on', async () => {
    const file = tempLedger();
    const writer = await LedgerWriter.open(file);
    await writer.append(makeRun());
    const probe = await open(file, 'r');
    const proto = Object.getPrototypeOf(probe) as { write: (data: string) => Promise<unknown> };
    await probe.close();
    const write = proto.write;
    // A disk that fills up halfway through the line.
    vi.spyOn(proto, 'write').mockImplementationOnce(async function (this: unknown, data: string) {
      await write.call(this, data.slice(0, 20));
      throw new Error('ENOSPC: no space left on device');
    });
    await expect(writer.append(makeExperiment({ experiment: 0 }))).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(false);
    await writer.append(makeExperiment({ experiment: 0 }));
    expect(verifyLedger(readFileSync(file, 'utf8'), file)).toMatchObject({ ok: true, records: 2, truncatedTail: false });
  });

  it('keeps the chain when appends are not awaited one by one', async () => {
    const file = tempLedger();
    const writer = await LedgerWriter.open(file);
    await Promise.all([writer.append(makeRun()), ...[0, 1, 2].map((experiment) => writer.append(makeExperiment({ experiment })))]);
    expect((await readLedger(file)).experiments.map((e) => e.experiment)).toEqual([0, 1, 2]);
  });

  it('refuses a ledger that does not start with its run record, or a second run record', async () => {
    const file = tempLedger();
    const writer = await LedgerWriter.open(file);
    await expect(writer.append(makeExperiment({ experiment: 0 }))).rejects.toThrow(new LedgerError(file, null, 'cannot append the experiment record to an empty ledger: the run record comes first'));
    await writer.append(makeRun());
    await expect(writer.append(makeRun())).rejects.toThrow(/second run record/);
    await writer.append(makeExperiment({ experiment: 0 }));
    expect(lines(file)).toHaveLength(2);
  });
});

describe('readLedger', () => {
  it('refuses an altered ledger unless asked to read it anyway', async () => {
    const file = tempLedger();
    await writeFile(file, serializeLedger([makeRun(), makeExperiment({ experiment: 0, metric: 0.5 }), makeExperiment({ experiment: 1 })]).replace('"metric":0.5', '"metric":0.1'));
    await expect(readLedger(file)).rejects.toThrow(LedgerTamperedError);
    await expect(readLedger(file)).rejects.toThrow(`${file}:2: line 2 (experiment 0) was changed after it was written`);
    expect((await readLedger(file, { verify: false })).experiments[0]!.metric).toBe(0.1);
  });
});
