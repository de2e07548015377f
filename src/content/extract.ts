// What text a stored version holds, by its detected type, within the bounds of the work:
// CONTENT_MAX_CHARS characters, PDF_MAX_BYTES and PDF_MAX_PAGES, the ZIP limits of office.ts.
// A file that cannot or may not be read throws ExtractionRefused (`failed`, with its reason);
// a dependency that fails (storage) throws its own error, and the message is retried.
import type { ByteSource } from "../documents/containers";
import type { ObjectStorage } from "../storage/object-storage";
import { ExtractionRefused, TextCollector } from "./collector";
import { extractHtml } from "./html";
import { extractOffice, isOfficeType } from "./office";
import { extractPdf, PDF_MAX_BYTES } from "./pdf";
import { extractPlain } from "./plain";

export type StoredVersion = { storageKey: string; contentType: string; sizeBytes: number };

export type Extraction =
  /** `truncated`: the text went on past CONTENT_MAX_CHARS and was cut there. */
  | { status: "indexed"; text: string; truncated: boolean }
  | { status: "unsupported" }
  | { status: "failed"; error: string };

const PLAIN_TYPES = new Set(["text/plain", "text/markdown", "text/csv", "application/json"]);

/** The media type without parameters ("text/plain; charset=utf-8" is text/plain). */
const mediaType = (contentType: string) => (contentType.split(";", 1)[0] ?? "").trim().toLowerCase();

/** Types whose text is extracted; every other stored type is `unsupported`. */
export function isExtractable(contentType: string): boolean {
  const type = mediaType(contentType);
  return PLAIN_TYPES.has(type) || type === "text/html" || type === "application/pdf" || isOfficeType(type);
}

/**
 * A stored version's bytes, whole, for a parser that needs them all (pdf.js): read in blocks
 * straight into one array of the version's size (ObjectStorage.readBlocks), so the file is held
 * once. Read as one body instead (a TransformStream, then arrayBuffer()), workerd kept its chunks
 * as well until a full garbage collection: a 25 MiB body grew workerd by 91 MiB that way, by 26
 * in blocks (measured in a Worker that only reads).
 */
async function wholeObject(storage: ObjectStorage, version: StoredVersion): Promise<Uint8Array> {
  const bytes = new Uint8Array(version.sizeBytes);
  let at = 0;
  const outcome = await storage.readBlocks(version.storageKey, (block) => {
    if (at + block.byteLength > bytes.byteLength) {
      throw new ExtractionRefused("The stored object is larger than its version says.");
    }
    bytes.set(block, at);
    at += block.byteLength;
  });
  if (outcome === "missing") throw new Error("the version's object is missing");
  // workerd inflates an encoded body: the stored bytes are never served with an encoding.
  if (outcome === "encoded") throw new ExtractionRefused("The stored object carries a Content-Encoding.");
  if (at !== bytes.byteLength) throw new ExtractionRefused("The stored object is smaller than its version says.");
  return bytes;
}

export async function extractText(
  storage: ObjectStorage,
  version: StoredVersion,
  maxChars: number,
): Promise<Extraction> {
  const type = mediaType(version.contentType);
  if (!isExtractable(type)) return { status: "unsupported" };
  const out = new TextCollector(maxChars);
  const body = async (range?: { start: number; end: number }) => {
    const res = await storage.get(version.storageKey, range);
    if (!res?.body) throw new Error("the version's object is missing");
    // workerd inflates an encoded body: the stored bytes are never served with an encoding.
    if (res.headers.get("content-encoding")) {
      await res.body.cancel();
      throw new ExtractionRefused("The stored object carries a Content-Encoding.");
    }
    return res.body;
  };
  try {
    if (PLAIN_TYPES.has(type)) await extractPlain(await body(), out);
    else if (type === "text/html") await extractHtml(await body(), out);
    else if (type === "application/pdf") {
      if (version.sizeBytes > PDF_MAX_BYTES) {
        throw new ExtractionRefused(`The PDF is larger than ${PDF_MAX_BYTES} bytes, the most that is extracted.`);
      }
      await extractPdf(await wholeObject(storage, version), out);
    } else {
      const source: ByteSource = {
        size: version.sizeBytes,
        read: async (start, end) =>
          new Uint8Array(
            await new Response(await body({ start, end: Math.min(end, version.sizeBytes) - 1 })).arrayBuffer(),
          ),
      };
      await extractOffice(type, source, (start, end) => body({ start, end: end - 1 }), out);
    }
  } catch (error) {
    if (error instanceof ExtractionRefused) return { status: "failed", error: error.message };
    throw error;
  }
  return { status: "indexed", text: out.text().trim(), truncated: out.full };
}
