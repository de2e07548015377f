// The directories of the two container formats Office files use, read far enough to tell which
// application a file belongs to and whether it carries macros. A ZIP names its entries in the
// central directory at its end, an OLE2 compound file in a directory reached through its header:
// neither is within the first bytes that magic numbers look at. Both are read through a
// ByteSource with a fixed budget of reads, so the same code inspects an upload held in memory and
// an object in storage (one ranged GET per read), and a hostile file cannot make it read more.

/** Random access to a file's bytes, wherever they are. */
export interface ByteSource {
  readonly size: number;
  /** The bytes in [start, end), `end` clamped to `size`. */
  read(start: number, end: number): Promise<Uint8Array>;
}

export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    read: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()),
  };
}

/** The container is damaged, or too large or scattered to inspect within the budget. */
export class Uninspectable extends Error {}

const u16 = (bytes: Uint8Array, at: number) => (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
const u32 = (bytes: Uint8Array, at: number) => (u16(bytes, at) + u16(bytes, at + 2) * 0x10000) >>> 0;
const u64 = (bytes: Uint8Array, at: number) => u32(bytes, at) + u32(bytes, at + 4) * 0x1_0000_0000;
const hasSignature = (bytes: Uint8Array, at: number, signature: number) =>
  at >= 0 && at + 4 <= bytes.length && u32(bytes, at) === signature;

async function readExactly(source: ByteSource, start: number, length: number): Promise<Uint8Array> {
  if (start < 0 || length < 0 || start + length > source.size) throw new Uninspectable("points outside the file");
  const bytes = await source.read(start, start + length);
  if (bytes.length !== length) throw new Uninspectable("short read");
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// ZIP (APPNOTE.TXT 6.3): end of central directory record, optional ZIP64 records, central
// directory. OOXML packages are ZIPs whose parts are named there.

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
/** A docx names tens to hundreds of parts (~100 bytes each); a directory this big is not Office's. */
const MAX_CENTRAL_DIRECTORY_BYTES = 4 * 1024 * 1024;
const MAX_CONTENT_TYPES_BYTES = 1024 * 1024;

export type ZipEntry = {
  name: string;
  method: number;
  compressedSize: number;
  localHeaderOffset: number;
  /** As declared by the directory (a zip bomb may lie: readers must count what they inflate). */
  uncompressedSize: number;
  /** General purpose flags; bit 0: encrypted. */
  flags: number;
};

export async function zipEntries(source: ByteSource): Promise<ZipEntry[]> {
  const tailStart = Math.max(0, source.size - (22 + 0xffff + 20));
  const tail = await readExactly(source, tailStart, source.size - tailStart);
  // Searched from the end, as most readers do: the record is followed only by its comment.
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (hasSignature(tail, i, EOCD) && i + 22 + u16(tail, i + 20) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new Uninspectable("no end of central directory");
  let count = u16(tail, at + 10);
  let directorySize = u32(tail, at + 12);
  let directoryOffset = u32(tail, at + 16);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    if (!hasSignature(tail, at - 20, ZIP64_LOCATOR)) throw new Uninspectable("ZIP64 locator missing");
    const record = await readExactly(source, u64(tail, at - 20 + 8), 56);
    if (!hasSignature(record, 0, ZIP64_EOCD)) throw new Uninspectable("ZIP64 record missing");
    count = u64(record, 32);
    directorySize = u64(record, 40);
    directoryOffset = u64(record, 48);
  }
  if (directorySize > MAX_CENTRAL_DIRECTORY_BYTES) throw new Uninspectable("central directory too large");
  const directory = await readExactly(source, directoryOffset, directorySize);
  const names = new TextDecoder();
  const entries: ZipEntry[] = [];
  let offset = 0;
  while (entries.length < count) {
    if (!hasSignature(directory, offset, CENTRAL_ENTRY) || offset + 46 > directory.length) {
      throw new Uninspectable("damaged central directory");
    }
    const nameLength = u16(directory, offset + 28);
    const extraLength = u16(directory, offset + 30);
    const end = offset + 46 + nameLength + extraLength + u16(directory, offset + 32);
    if (end > directory.length) throw new Uninspectable("damaged central directory");
    let compressedSize = u32(directory, offset + 20);
    let uncompressedSize = u32(directory, offset + 24);
    let localHeaderOffset = u32(directory, offset + 42);
    // ZIP64 extra field: the 64-bit values, in this order, of the fields that hold 0xFFFFFFFF.
    for (let extra = offset + 46 + nameLength; extra + 4 <= offset + 46 + nameLength + extraLength; ) {
      const id = u16(directory, extra);
      const size = u16(directory, extra + 2);
      if (id === 0x0001) {
        let field = extra + 4;
        if (uncompressedSize === 0xffffffff) {
          uncompressedSize = u64(directory, field);
          field += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = u64(directory, field);
          field += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(directory, field);
      }
      extra += 4 + size;
    }
    entries.push({
      name: names.decode(directory.subarray(offset + 46, offset + 46 + nameLength)),
      method: u16(directory, offset + 10),
      compressedSize,
      localHeaderOffset,
      uncompressedSize,
      flags: u16(directory, offset + 8),
    });
    offset = end;
  }
  return entries;
}

/** The uncompressed bytes of one (small) entry. */
export async function zipEntryBytes(source: ByteSource, entry: ZipEntry): Promise<Uint8Array> {
  if (entry.compressedSize > MAX_CONTENT_TYPES_BYTES) throw new Uninspectable("entry too large");
  const header = await readExactly(source, entry.localHeaderOffset, 30);
  if (!hasSignature(header, 0, LOCAL_HEADER)) throw new Uninspectable("damaged local header");
  const dataStart = entry.localHeaderOffset + 30 + u16(header, 26) + u16(header, 28);
  const data = await readExactly(source, dataStart, entry.compressedSize);
  if (entry.method === 0) return data;
  if (entry.method !== 8) throw new Uninspectable("unsupported compression");
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream("deflate-raw"))
    .getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      // A few hundred compressed bytes can inflate to gigabytes.
      if (total > MAX_CONTENT_TYPES_BYTES) throw new Uninspectable("entry inflates too far");
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error instanceof Uninspectable ? error : new Uninspectable("damaged deflate data");
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// OLE2 / Compound File Binary ([MS-CFB]): header → DIFAT → FAT → directory sector chain. The legacy
// .doc/.xls/.ppt formats are such files; a VBA project is a storage in their directory.

const END_OF_CHAIN = 0xfffffffe;
const MAX_REGULAR_SECTOR = 0xfffffffa;
const NO_STREAM = 0xffffffff;
const HEADER_DIFAT_ENTRIES = 109;
/** Directory sectors followed at most: 4 (or 32) entries each, far more than any Office file has. */
const MAX_DIRECTORY_SECTORS = 1024;

/** Reads in aligned blocks and keeps them: a directory's sectors and the FAT sectors that chain them
 * usually sit together, so a few reads cover them. */
class BlockReader {
  readonly #blocks = new Map<number, Uint8Array>();
  #reads = 0;

  constructor(
    readonly source: ByteSource,
    readonly blockSize = 64 * 1024,
    readonly maxReads = 32,
  ) {}

  async bytes(start: number, length: number): Promise<Uint8Array> {
    if (start < 0 || start + length > this.source.size) throw new Uninspectable("points outside the file");
    const out = new Uint8Array(length);
    for (let position = start; position < start + length; ) {
      const index = Math.floor(position / this.blockSize);
      const block = await this.#block(index);
      const from = position - index * this.blockSize;
      const count = Math.min(block.length - from, start + length - position);
      out.set(block.subarray(from, from + count), position - start);
      position += count;
    }
    return out;
  }

  async #block(index: number): Promise<Uint8Array> {
    const cached = this.#blocks.get(index);
    if (cached) return cached;
    if (++this.#reads > this.maxReads) throw new Uninspectable("too scattered to inspect");
    const start = index * this.blockSize;
    const block = await readExactly(this.source, start, Math.min(this.blockSize, this.source.size - start));
    this.#blocks.set(index, block);
    return block;
  }
}

export type Ole2Directory = {
  /** Names of the root storage's children (the streams that say which application wrote the file). */
  rootNames: string[];
  /** Every name in the directory, embedded storages included. */
  allNames: string[];
};

export async function ole2Directory(source: ByteSource): Promise<Ole2Directory> {
  const reader = new BlockReader(source);
  const header = await reader.bytes(0, 512);
  if (u16(header, 28) !== 0xfffe) throw new Uninspectable("not little-endian CFB");
  const shift = u16(header, 30);
  if (shift !== 9 && shift !== 12) throw new Uninspectable("unsupported sector size");
  const sectorSize = 1 << shift;
  const perSector = sectorSize / 4;
  const sectorBytes = (sector: number) => {
    if (sector >= MAX_REGULAR_SECTOR) throw new Uninspectable("chain points nowhere");
    return reader.bytes((sector + 1) * sectorSize, sectorSize);
  };

  // Sectors that hold the DIFAT beyond the header's 109 entries, found as they are needed.
  const difatSectors: number[] = [];
  let nextDifat = u32(header, 68);
  const fatSectorAt = async (index: number): Promise<number> => {
    if (index < HEADER_DIFAT_ENTRIES) return u32(header, 76 + index * 4);
    const rest = index - HEADER_DIFAT_ENTRIES;
    const which = Math.floor(rest / (perSector - 1));
    while (difatSectors.length <= which) {
      if (nextDifat >= MAX_REGULAR_SECTOR || difatSectors.length >= perSector) {
        throw new Uninspectable("DIFAT chain");
      }
      difatSectors.push(nextDifat);
      nextDifat = u32(await sectorBytes(nextDifat), sectorSize - 4);
    }
    return u32(await sectorBytes(difatSectors[which] as number), (rest % (perSector - 1)) * 4);
  };
  const nextSector = async (sector: number) => {
    const fatSector = await fatSectorAt(Math.floor(sector / perSector));
    return u32(await sectorBytes(fatSector), (sector % perSector) * 4);
  };

  type Entry = { name: string; type: number; left: number; right: number; child: number };
  const entries: Entry[] = [];
  const seen = new Set<number>();
  const utf16 = new TextDecoder("utf-16le");
  for (let sector = u32(header, 48); sector !== END_OF_CHAIN; sector = await nextSector(sector)) {
    if (seen.has(sector) || seen.size >= MAX_DIRECTORY_SECTORS) throw new Uninspectable("directory chain loops");
    seen.add(sector);
    const bytes = await sectorBytes(sector);
    for (let at = 0; at < sectorSize; at += 128) {
      const nameLength = Math.min(u16(bytes, at + 64), 64);
      entries.push({
        name: utf16.decode(bytes.subarray(at, at + Math.max(0, nameLength - 2))),
        type: bytes[at + 66] ?? 0,
        left: u32(bytes, at + 68),
        right: u32(bytes, at + 72),
        child: u32(bytes, at + 76),
      });
    }
  }
  const root = entries[0];
  if (root?.type !== 5) throw new Uninspectable("no root entry");

  // The root's children form a red-black tree through the left/right sibling links.
  const rootNames: string[] = [];
  const pending = [root.child];
  const visited = new Set<number>();
  while (pending.length > 0) {
    const id = pending.pop() as number;
    if (id === NO_STREAM || visited.has(id)) continue;
    visited.add(id);
    const entry = entries[id];
    if (!entry) throw new Uninspectable("directory link points nowhere");
    rootNames.push(entry.name);
    pending.push(entry.left, entry.right);
  }
  return { rootNames, allNames: entries.filter((e) => e.type === 1 || e.type === 2).map((e) => e.name) };
}
