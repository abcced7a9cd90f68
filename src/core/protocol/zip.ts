import { crc32, inflateRawSync } from 'node:zlib';

/** Largest artifact the App downloads, in bytes (`size_in_bytes` of the artifact listing): a result artifact is a few KiB. */
export const MAX_ARTIFACT_BYTES = 16 * 1024 * 1024;
/** Most bytes one entry may inflate to. */
export const MAX_ENTRY_BYTES = 32 * 1024 * 1024;
/** Most bytes all the entries read from one archive may inflate to, together. */
export const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** How much {@link readZip} inflates at most. */
export interface ZipLimits {
  /** Most bytes one entry may inflate to (MAX_ENTRY_BYTES by default). */
  maxEntryBytes?: number;
  /** Most bytes the entries read may inflate to, together (MAX_TOTAL_BYTES by default). */
  maxTotalBytes?: number;
}

interface Entry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** Where the entry's local header starts and where its data ends. */
  start: number;
  dataStart: number;
  end: number;
}

/**
 * The entries of a zip archive, read from its central directory; an entry's content is inflated only when it is
 * asked for ({@link ZipEntries.get}), and only up to its declared size, so reading the one file a caller wants
 * costs that file, whatever else the archive claims to hold.
 */
export class ZipEntries {
  private inflated = 0;

  constructor(
    private readonly zip: Buffer,
    private readonly entries: ReadonlyMap<string, Entry>,
    private readonly maxTotalBytes: number,
  ) {}

  /** The entries' names, in the central directory's order. */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The content of entry `name`, or undefined when there is none. Throws when it inflates to other than its
   * declared size, fails its CRC-32, or would take the archive's inflated total past its limit.
   */
  get(name: string): Buffer | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    if (this.inflated + entry.size > this.maxTotalBytes) {
      throw new Error(`${name}: reading it would inflate more than the ${this.maxTotalBytes} bytes allowed for one archive`);
    }
    const data = this.zip.subarray(entry.dataStart, entry.end);
    let content: Buffer;
    try {
      // Stops once the declared size is exceeded: an entry that lies about its size costs no more than it declared.
      content = entry.method === 8 ? inflateRawSync(data, { maxOutputLength: Math.max(1, entry.size) }) : Buffer.from(data);
    } catch (error) {
      throw new Error(`${name}: does not inflate to its declared ${entry.size} bytes (${(error as Error).message})`, { cause: error });
    }
    this.inflated += content.length;
    if (content.length !== entry.size) throw new Error(`${name}: ${content.length} bytes, central directory says ${entry.size}`);
    if (crc32(content) !== entry.crc) throw new Error(`${name}: CRC-32 mismatch`);
    return content;
  }
}

/**
 * Reads a zip archive's central directory. Enough for the archives `@actions/artifact` writes (stored or
 * deflated, no zip64, no encryption); throws on anything else. Artifacts come from CI runs of pull requests, so
 * nothing in them is trusted: every offset must lie inside the archive, no two entries may share bytes (a zip
 * whose entries all point at one compressed blob inflates it once per entry), no entry may declare more than
 * `maxEntryBytes`, and entries are inflated only when read ({@link ZipEntries.get}), within `maxTotalBytes`.
 * `limits` may be a number, the most bytes of one entry.
 */
export function readZip(zip: Buffer, limits: ZipLimits | number = {}): ZipEntries {
  const { maxEntryBytes = MAX_ENTRY_BYTES, maxTotalBytes = MAX_TOTAL_BYTES } = typeof limits === 'number' ? { maxEntryBytes: limits } : limits;
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0 || eocd + 22 > zip.length) throw new Error('not a zip: no end of central directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const inside = (offset: number, length: number) => offset >= 0 && length >= 0 && offset + length <= zip.length;
  const entries = new Map<string, Entry>();
  for (let i = 0; i < count; i++) {
    if (!inside(at, 46) || zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry at ${at}`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    if (!inside(at + 46, nameLength)) throw new Error(`bad central directory entry at ${at}`);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;

    if (!inside(localHeader, 30) || zip.readUInt32LE(localHeader) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    if (!inside(dataStart, compressedSize)) throw new Error(`${name}: its data lies outside the archive`);
    if (method !== 0 && method !== 8) throw new Error(`${name}: unsupported compression method ${method}`);
    if (size > maxEntryBytes) throw new Error(`${name}: ${size} bytes, more than the ${maxEntryBytes} allowed`);
    if (method === 0 && size !== compressedSize) throw new Error(`${name}: stored with ${compressedSize} bytes, central directory says ${size}`);
    if (entries.has(name)) throw new Error(`${name}: more than one entry of that name`);
    entries.set(name, { name, method, crc, compressedSize, size, start: localHeader, dataStart, end: dataStart + compressedSize });
  }
  // No two entries may share bytes: sorted by where they start, each must end before the next begins.
  const sorted = [...entries.values()].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.start < sorted[i - 1]!.end) throw new Error(`${sorted[i]!.name}: overlaps ${sorted[i - 1]!.name} (entries sharing data)`);
  }
  return new ZipEntries(zip, entries, maxTotalBytes);
}
