import { crc32, inflateRawSync } from 'node:zlib';

/**
 * Reads a zip archive's entries (name -> content) from its central directory. Enough for the archives
 * `@actions/artifact` writes (stored or deflated, no zip64, no encryption); throws on anything else.
 * Artifacts come from CI runs of pull requests, so sizes are bounded: no entry may inflate past
 * `maxEntryBytes` (a zip bomb fails instead of filling memory).
 */
export function readZip(zip: Buffer, maxEntryBytes = 32 * 1024 * 1024): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip: no end of central directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry at ${at}`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;

    if (zip.readUInt32LE(localHeader) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (method !== 0 && method !== 8) throw new Error(`${name}: unsupported compression method ${method}`);
    if (size > maxEntryBytes) throw new Error(`${name}: ${size} bytes, more than the ${maxEntryBytes} allowed`);
    const content = method === 8 ? inflateRawSync(data, { maxOutputLength: maxEntryBytes }) : Buffer.from(data);
    if (content.length !== size) throw new Error(`${name}: ${content.length} bytes, central directory says ${size}`);
    if (crc32(content) !== crc) throw new Error(`${name}: CRC-32 mismatch`);
    entries.set(name, content);
  }
  return entries;
}
