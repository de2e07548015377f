// DOCX, XLSX, PPTX and the OpenDocument formats: ZIP packages of XML parts. The directory is read
// with ranged GETs (src/documents/containers.ts); each part holding text is then fetched alone
// (one ranged GET of its compressed bytes, streamed), inflated by fflate in small pieces and
// reduced to text as it inflates. So neither the package nor a whole part is ever held, and a zip
// bomb is refused by its declared sizes and ratio before any inflating, and by what it really
// inflates to while doing so.
import { Inflate } from "fflate";
import { type ByteSource, Uninspectable, type ZipEntry, zipEntries } from "../documents/containers";
import { ExtractionRefused, type TextCollector } from "./collector";
import { XmlTextExtractor, type XmlTextRules } from "./xml-text";

/** Entries a package may name; Office files name tens to a few hundred. */
export const ZIP_MAX_ENTRIES = 10_000;
/** Declared uncompressed bytes of one part, and of all the parts read, at most. */
export const ZIP_MAX_PART_BYTES = 100 * 1024 * 1024;
export const ZIP_MAX_TOTAL_BYTES = 200 * 1024 * 1024;
/** A part inflating more than this many times its compressed size (and past 1 MiB) is a bomb. */
export const ZIP_MAX_RATIO = 100;
/** Parts read at most (slides, sheets): one ranged GET each. */
export const ZIP_MAX_PARTS = 200;
/** Compressed bytes handed to the inflater at once: one push inflates to at most ~1,000 times this. */
const INFLATE_PIECE = 4096;

const set = (...names: string[]) => new Set(names);
const byNumber = (pattern: RegExp) => (entries: ZipEntry[]) =>
  entries
    .map((entry) => ({ entry, n: Number(pattern.exec(entry.name)?.[1] ?? Number.NaN) }))
    .filter(({ n }) => Number.isFinite(n))
    .sort((a, b) => a.n - b.n)
    .map(({ entry }) => entry);
const named =
  (...names: string[]) =>
  (entries: ZipEntry[]) =>
    names.flatMap((name) => entries.filter((entry) => entry.name === name));

const OPEN_DOCUMENT: XmlTextRules = {
  text: null,
  lines: set("text:p", "text:h", "text:line-break", "table:table-row", "draw:page"),
  spaces: set("text:s", "text:tab", "table:table-cell"),
};

type Package = { parts: (entries: ZipEntry[]) => ZipEntry[]; rules: XmlTextRules };

const PACKAGES: Record<string, Package> = {
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {
    parts: named("word/document.xml", "word/footnotes.xml", "word/endnotes.xml"),
    rules: { text: set("w:t"), lines: set("w:p", "w:br", "w:cr"), spaces: set("w:tab") },
  },
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
    // Text cells are shared strings; inline strings (<is><t>) live in the sheets, and so do the
    // values of the other cells (<v>: numbers, dates as serials, a formula's result), except a
    // shared string's index (t="s"), a boolean (t="b") and an error (t="e").
    parts: (entries) => [
      ...named("xl/sharedStrings.xml")(entries),
      ...byNumber(/^xl\/worksheets\/sheet(\d+)\.xml$/)(entries),
    ],
    rules: {
      text: set("t", "v"),
      lines: set("si", "row"),
      spaces: set("c"),
      skip: { element: "c", attributes: /\st\s*=\s*["'][sbe]["']/ },
    },
  },
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": {
    parts: byNumber(/^ppt\/slides\/slide(\d+)\.xml$/),
    rules: { text: set("a:t"), lines: set("a:p", "a:br"), spaces: set() },
  },
  "application/vnd.oasis.opendocument.text": { parts: named("content.xml"), rules: OPEN_DOCUMENT },
  "application/vnd.oasis.opendocument.spreadsheet": { parts: named("content.xml"), rules: OPEN_DOCUMENT },
  "application/vnd.oasis.opendocument.presentation": { parts: named("content.xml"), rules: OPEN_DOCUMENT },
};

export const isOfficeType = (type: string) => type in PACKAGES;

/** Reads one part's compressed bytes, as a stream, from the start of its local header. */
export type PartReader = (start: number, end: number) => Promise<ReadableStream<Uint8Array>>;

export async function extractOffice(
  type: string,
  source: ByteSource,
  readStream: PartReader,
  out: TextCollector,
): Promise<void> {
  const pkg = PACKAGES[type];
  if (!pkg) throw new Error(`not an office type: ${type}`);
  let entries: ZipEntry[];
  try {
    entries = await zipEntries(source);
  } catch (error) {
    if (error instanceof Uninspectable)
      throw new ExtractionRefused(`The package could not be read (${error.message}).`);
    throw error;
  }
  if (entries.length > ZIP_MAX_ENTRIES)
    throw new ExtractionRefused(`The package names more than ${ZIP_MAX_ENTRIES} entries.`);
  const parts = pkg.parts(entries).slice(0, ZIP_MAX_PARTS);
  // Every part is checked before any is read.
  let declared = 0;
  for (const part of parts) {
    if (part.flags & 1) throw new ExtractionRefused("The package is encrypted.");
    if (part.method !== 0 && part.method !== 8)
      throw new ExtractionRefused("The package uses an unsupported compression.");
    if (part.uncompressedSize > ZIP_MAX_PART_BYTES) {
      throw new ExtractionRefused(`A part declares more than ${ZIP_MAX_PART_BYTES} bytes uncompressed.`);
    }
    if (
      part.uncompressedSize > 1024 * 1024 &&
      part.uncompressedSize > ZIP_MAX_RATIO * Math.max(1, part.compressedSize)
    ) {
      throw new ExtractionRefused(`A part inflates more than ${ZIP_MAX_RATIO} times its size (a zip bomb).`);
    }
    declared += part.uncompressedSize;
  }
  if (declared > ZIP_MAX_TOTAL_BYTES)
    throw new ExtractionRefused(`The parts declare more than ${ZIP_MAX_TOTAL_BYTES} bytes.`);
  for (const part of parts) {
    if (out.full) break;
    await extractPart(part, source.size, readStream, new XmlTextExtractor(pkg.rules, out));
    out.add("\n");
  }
}

async function extractPart(entry: ZipEntry, fileSize: number, readStream: PartReader, xml: XmlTextExtractor) {
  // The local header's name and extra field may differ from the directory's: read its 30 bytes,
  // then skip what they say, in the same stream (at most 128 KiB more than the data).
  const end = Math.min(fileSize, entry.localHeaderOffset + 30 + 0xffff * 2 + entry.compressedSize);
  const stream = await readStream(entry.localHeaderOffset, end);
  const reader = stream.getReader();
  let inflated = 0;
  let done = false;
  const onData = (chunk: Uint8Array, final: boolean) => {
    inflated += chunk.length;
    // The declared size is a promise the data must keep: more is a bomb that lied.
    if (inflated > entry.uncompressedSize)
      throw new ExtractionRefused("A part inflates past its declared size (a zip bomb).");
    xml.push(chunk, final);
    if (final) done = true;
  };
  const inflater = entry.method === 8 ? new Inflate() : null;
  if (inflater) inflater.ondata = onData;
  let header: Uint8Array | null = new Uint8Array(0);
  let skip = 0;
  let remaining = entry.compressedSize;
  try {
    while (remaining > 0 && !xml.out.full) {
      const read = await reader.read();
      if (read.done) throw new ExtractionRefused("A part ends before its declared size.");
      let bytes: Uint8Array = read.value;
      if (header) {
        const joined: Uint8Array = new Uint8Array(header.length + bytes.length);
        joined.set(header);
        joined.set(bytes, header.length);
        if (joined.length < 30) {
          header = joined;
          continue;
        }
        const view = new DataView(joined.buffer, joined.byteOffset, joined.byteLength);
        if (view.getUint32(0, true) !== 0x04034b50) {
          throw new ExtractionRefused("The package is damaged (local header).");
        }
        skip = 30 + view.getUint16(26, true) + view.getUint16(28, true);
        header = null;
        bytes = joined;
      }
      if (skip > 0) {
        const skipped = Math.min(skip, bytes.length);
        skip -= skipped;
        bytes = bytes.subarray(skipped);
      }
      bytes = bytes.subarray(0, remaining);
      remaining -= bytes.length;
      for (let at = 0; at < bytes.length && !xml.out.full; at += INFLATE_PIECE) {
        const piece = bytes.subarray(at, at + INFLATE_PIECE);
        const last = remaining === 0 && at + INFLATE_PIECE >= bytes.length;
        if (inflater) inflater.push(piece, last);
        else onData(piece, last);
      }
    }
    if (entry.compressedSize === 0) onData(new Uint8Array(0), true);
    if (!done && !xml.out.full) throw new ExtractionRefused("A part's compressed data is damaged.");
  } catch (error) {
    if (error instanceof ExtractionRefused) throw error;
    // fflate's errors (invalid block type, unexpected end) are damage in the file.
    if (error instanceof Error && "code" in error) throw new ExtractionRefused("A part's compressed data is damaged.");
    throw error;
  } finally {
    await reader.cancel().catch(() => {});
  }
}
