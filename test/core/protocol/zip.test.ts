import { describe, expect, it } from 'vitest';
import { readZip } from '../../../src/core/protocol/zip.js';
import { zipOf } from '../../fixtures/api/zip.js';

describe('readZip', () => {
  it('reads stored and deflated entries', async () => {
    const entries = readZip(await zipOf({ 'autoloop-result.json': '{"kind":"autoloop-result"}', 'nested/log.txt': 'x'.repeat(10_000) }, { stored: ['autoloop-result.json'] }));
    expect([...entries.keys()]).toEqual(['autoloop-result.json', 'nested/log.txt']);
    expect(entries.get('autoloop-result.json')!.toString()).toBe('{"kind":"autoloop-result"}');
    expect(entries.get('nested/log.txt')!.toString()).toBe('x'.repeat(10_000));
  });

  it('refuses an entry that would inflate past the limit, and data that is not a zip', async () => {
    const bomb = await zipOf({ a: 'small', b: '0'.repeat(1_000_000) }, { stored: ['a'] });
    expect(() => readZip(bomb, 100_000)).toThrow('b: 1000000 bytes, more than the 100000 allowed');
    expect(() => readZip(Buffer.from('not a zip'))).toThrow('not a zip');
  });
});

describe('readZip of hostile archives', () => {
  it('inflates only the entry asked for, within the total allowed for the archive', async () => {
    const zip = await zipOf({ 'autoloop-result.json': '{}', 'big.log': '0'.repeat(1_000_000) });
    const entries = readZip(zip, { maxTotalBytes: 100_000 });
    expect(entries.get('autoloop-result.json')!.toString()).toBe('{}');
    expect(entries.get('missing')).toBeUndefined();
    expect(() => entries.get('big.log')).toThrow('big.log: reading it would inflate more than the 100000 bytes allowed for one archive');
  });

  it('refuses entries that share data, names that repeat and offsets outside the archive', async () => {
    const zip = await zipOf({ a: 'x'.repeat(1_000), b: 'y' });
    const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const directory = zip.readUInt32LE(eocd + 16);
    const second = directory + 46 + 1 + zip.readUInt16LE(directory + 30) + zip.readUInt16LE(directory + 32);
    const shared = Buffer.from(zip);
    shared.writeUInt32LE(0, second + 42);
    expect(() => readZip(shared)).toThrow(/overlaps|bad local header/);
    const outside = Buffer.from(zip);
    outside.writeUInt32LE(zip.length + 10, second + 42);
    expect(() => readZip(outside)).toThrow('bad local header for b');
  });

  it('stops inflating an entry that inflates past its declared size', async () => {
    const zip = await zipOf({ a: '0'.repeat(1_000_000) });
    const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const directory = zip.readUInt32LE(eocd + 16);
    const lying = Buffer.from(zip);
    lying.writeUInt32LE(10, directory + 24);
    expect(() => readZip(lying).get('a')).toThrow(/a: does not inflate to its declared 10 bytes/);
  });
});
