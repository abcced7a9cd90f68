import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readZip } from '../../../src/core/protocol/zip.js';

/** A zip made by Python's zipfile: stored and deflated entries, as real tools write them. */
function zipOf(files: Record<string, string>): Buffer {
  const script = `
import io, json, sys, zipfile
files = json.loads(sys.stdin.read())
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, 'w') as archive:
    for i, (name, text) in enumerate(files.items()):
        archive.writestr(name, text, compress_type=zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
sys.stdout.buffer.write(buffer.getvalue())
`;
  return execFileSync('python3', ['-c', script], { input: JSON.stringify(files) });
}

describe('readZip', () => {
  it('reads stored and deflated entries', () => {
    const entries = readZip(zipOf({ 'autoloop-result.json': '{"kind":"autoloop-result"}', 'nested/log.txt': 'x'.repeat(10_000) }));
    expect([...entries.keys()]).toEqual(['autoloop-result.json', 'nested/log.txt']);
    expect(entries.get('autoloop-result.json')!.toString()).toBe('{"kind":"autoloop-result"}');
    expect(entries.get('nested/log.txt')!.toString()).toBe('x'.repeat(10_000));
  });

  it('refuses an entry that would inflate past the limit, and data that is not a zip', () => {
    const bomb = zipOf({ a: 'small', b: '0'.repeat(1_000_000) });
    expect(() => readZip(bomb, 100_000)).toThrow('b: 1000000 bytes, more than the 100000 allowed');
    expect(() => readZip(Buffer.from('not a zip'))).toThrow('not a zip');
  });
});
