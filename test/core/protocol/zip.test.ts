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
