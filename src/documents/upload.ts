// An uploaded file, as the HTTP layer hands it over while it arrives: its type detected from its
// own bytes, its SHA-256 computed as it passes, the bytes sent to storage under a generated key
// in parts (stageUpload). Also the pieces a direct upload's check reuses on bytes already in
// storage (storageSource, checkType, sha256Hasher).
import type { Config } from "../config";
import { Failure } from "../lib/failure";
import type { ObjectStorage } from "../storage/object-storage";
import type { NewFile } from "./documents.store";
import { cleanFileName } from "./file-names";
import {
  type ByteSource,
  DEFAULT_ALLOWED_TYPES,
  detectType,
  isMacroType,
  nameForType,
  needsWholeFile,
  servedContentType,
} from "./file-types";

/** The allow-list, lower-cased: media types compare case-insensitively (RFC 9110 §8.3.1). */
export function allowedTypes(config: Config): readonly string[] {
  return (config.ALLOWED_CONTENT_TYPES.length > 0 ? config.ALLOWED_CONTENT_TYPES : DEFAULT_ALLOWED_TYPES).map((type) =>
    type.toLowerCase(),
  );
}

/** Bytes of a stored object through ranged GETs; `head`, when already read, serves its own range. */
export function storageSource(
  storage: ObjectStorage,
  key: string,
  size: number,
  head: Uint8Array = new Uint8Array(),
): ByteSource {
  return {
    size,
    async read(start, end) {
      end = Math.min(end, size);
      if (end <= start) return new Uint8Array();
      if (end <= head.byteLength) return head.subarray(start, end);
      const res = await storage.get(key, { start, end: end - 1 });
      if (!res) throw new Failure("upload_changed", "The uploaded object is no longer there.");
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/**
 * The type to store for a file and the name to store it under, or 415. The name keeps its
 * extension when that is one of the detected type's, and gets the type's extension appended
 * otherwise, so a download is never saved under an extension detection did not confirm.
 */
export async function checkType(
  config: Config,
  source: ByteSource,
  fileName: string,
  declaredType: string | undefined,
): Promise<{ contentType: string; fileName: string }> {
  const detection = await detectType(source, { fileName, declaredType });
  if ("rejected" in detection) {
    throw new Failure("file_type_not_allowed", `This file type is not allowed (${detection.rejected}).`);
  }
  const allowed = allowedTypes(config);
  const isAllowed = (type: string) => allowed.includes(type.toLowerCase());
  // A .docm and a .doc holding a VBA project are both refused for their macros, in those words.
  const macroType = detection.macroType ?? (isMacroType(detection.type) ? detection.type : undefined);
  if (macroType && !isAllowed(macroType)) {
    throw new Failure(
      "file_type_not_allowed",
      `This document contains macros; files of type ${macroType} are not allowed.`,
    );
  }
  if (!isAllowed(detection.type)) {
    throw new Failure("file_type_not_allowed", `Files of type ${detection.type} are not allowed.`);
  }
  return { contentType: servedContentType(detection.type), fileName: nameForType(fileName, detection.type) };
}

const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * SHA-256 of bytes handed over a block at a time (DigestStream): a block is hashed once `update`
 * resolves, so its buffer may then be reused.
 */
export function sha256Hasher(): { update(block: Uint8Array): Promise<void>; hex(): Promise<string> } {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  return {
    update: (block) => writer.write(block),
    async hex() {
      await writer.close();
      return hex(await digest.digest);
    },
  };
}

/** A checked file in storage, ready to become a version row. */
export type StoredFile = NewFile;

export const storageKeyFor = (documentId: string, versionId: string) => `documents/${documentId}/${versionId}`;

/**
 * The size of a streamed upload's parts: S3's minimum for every part but the last, and the same
 * for all of them, as R2 requires. An upload in flight holds two such buffers: one being sent,
 * one being filled, reused alternately for the whole file.
 */
export const PART_BYTES = 5 * 1024 * 1024;
/**
 * The first bytes are read into a buffer of this size; a file that fits it costs no more. They are
 * also kept for the checks made once a large container is stored.
 */
const HEAD_BYTES = 64 * 1024;

/**
 * A file as it arrives: its name and declared type, and its bytes as a stream read once.
 * `sizeAtMost`, when known (from the request's length), bounds the first part's buffer.
 */
export type IncomingFile = { name: string; type: string; stream: ReadableStream<Uint8Array>; sizeAtMost?: number };

/**
 * An uploaded file, read to its end and checked as far as its bytes allow, held in storage's
 * hands but not yet an object under its key: `commit` makes it one (and runs the checks that
 * need the whole stored file), `abort` leaves nothing behind. Exactly one of them is called.
 */
export type StagedUpload = {
  readonly sizeBytes: number;
  commit(): Promise<StoredFile>;
  abort(): Promise<void>;
};

export type StageOptions = {
  /** Refuses the file as soon as it passes `bytes`, with the error `exceeded` makes (e.g. a quota's room). */
  limit?: { bytes: number; exceeded: (received: number) => Error };
};

/**
 * The bytes of a stream copied into buffers of the caller's, each filled to its end but the last,
 * and hashed (SHA-256) a filled buffer at a time: one DigestStream write per part, not one per
 * chunk. No chunk is held once copied but the one that overflows a buffer, so the HTTP layer may
 * reuse the memory behind them.
 */
class PartReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #hasher = sha256Hasher();
  readonly #limit: StageOptions["limit"];
  /** A chunk read but not yet copied, from `#pendingAt` on. */
  #pending: Uint8Array | null = null;
  #pendingAt = 0;
  #ended = false;
  received = 0;

  constructor(stream: ReadableStream<Uint8Array>, limit: StageOptions["limit"]) {
    this.#reader = stream.getReader();
    this.#limit = limit;
  }

  async #next(): Promise<void> {
    const { done, value } = await this.#reader.read();
    if (done) {
      this.#ended = true;
      return;
    }
    this.received += value.byteLength;
    if (this.#limit && this.received > this.#limit.bytes) throw this.#limit.exceeded(this.received);
    this.#pending = value;
    this.#pendingAt = 0;
  }

  /**
   * Fills `buffer` from `from` on as far as the stream goes, and hashes what it added; `ended`
   * once no byte follows (a full buffer reads one chunk ahead to know).
   */
  async fill(buffer: Uint8Array, from = 0): Promise<{ length: number; ended: boolean }> {
    let length = from;
    while (length < buffer.byteLength) {
      if (!this.#pending) await this.#next();
      const chunk = this.#pending;
      if (!chunk) break;
      const available = chunk.byteLength - this.#pendingAt;
      const take = Math.min(available, buffer.byteLength - length);
      buffer.set(take === chunk.byteLength ? chunk : chunk.subarray(this.#pendingAt, this.#pendingAt + take), length);
      length += take;
      this.#pendingAt += take;
      if (this.#pendingAt === chunk.byteLength) this.#pending = null;
    }
    if (!this.#pending && !this.#ended) await this.#next();
    if (length > from) await this.#hasher.update(buffer.subarray(from, length));
    return { length, ended: this.#ended };
  }

  sha256(): Promise<string> {
    return this.#hasher.hex();
  }

  /** Stops reading (the rest of the stream is not wanted). */
  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/** Bytes known to be a prefix of a longer file; detection of a non-container type reads no further. */
function prefixSource(prefix: Uint8Array): ByteSource {
  return {
    size: Number.MAX_SAFE_INTEGER,
    async read(start, end) {
      if (end > prefix.byteLength) throw new Error("type detection read past the bytes received so far");
      return prefix.subarray(start, end);
    },
  };
}

function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: async (start, end) => bytes.subarray(start, Math.min(end, bytes.byteLength)) };
}

/**
 * Reads an uploaded file as it arrives and stages it under documents/{documentId}/{new version
 * id}, never holding more than about two parts of it.
 *
 * - A file that fits one part stays in memory, is checked whole (type, SHA-256) and is PUT, with
 *   its length, by `commit`. Nothing is stored before that.
 * - A larger one: its type is sniffed from its first part before anything is stored (a refused
 *   type is a 415 with nothing stored), then it is sent as an S3 multipart upload, part by part
 *   while the next is read, and hashed as it passes; `commit` completes it. A ZIP or OLE2
 *   container (Office files) is only known by directories that may sit anywhere up to its last
 *   byte: it is checked after completion against the stored object (ranged GETs), deleted and
 *   refused if it fails, and its stored Content-Type set to what the check found.
 *
 * Any failure (the stream failing, a cap passed, storage refusing, a type refused) aborts the
 * multipart upload before it is reported, so no part stays.
 */
export async function stageUpload(
  config: Config,
  storage: ObjectStorage,
  documentId: string,
  file: IncomingFile,
  options: StageOptions = {},
): Promise<StagedUpload> {
  const fileName = cleanFileName(file.name);
  const declaredType = file.type || undefined;
  const versionId = crypto.randomUUID();
  const storageKey = storageKeyFor(documentId, versionId);
  const parts = new PartReader(file.stream, options.limit);
  // The first part: a small buffer first, then one buffer of a part's size (or of the file's
  // bound, when the request says it fits one part), allocated once, never grown piecemeal.
  const head = new Uint8Array(HEAD_BYTES);
  let first = head;
  let filled: { length: number; ended: boolean };
  try {
    filled = await parts.fill(head);
    if (!filled.ended) {
      first = new Uint8Array(Math.min(PART_BYTES, Math.max(file.sizeAtMost ?? PART_BYTES, HEAD_BYTES + 1)));
      first.set(head);
      filled = await parts.fill(first, HEAD_BYTES);
    }
    if (!filled.ended && first.byteLength < PART_BYTES) {
      // The bound was wrong (a request's length cannot be, but the domain does not rely on it).
      const part = new Uint8Array(PART_BYTES);
      part.set(first);
      first = part;
      filled = await parts.fill(first, filled.length);
    }
  } catch (error) {
    parts.cancel();
    throw error;
  }

  if (filled.ended) {
    const bytes = first.subarray(0, filled.length);
    const checked = await checkType(config, memorySource(bytes), fileName, declaredType);
    const sha256 = await parts.sha256();
    const stored: StoredFile = { versionId, storageKey, ...checked, sizeBytes: bytes.byteLength, sha256 };
    return {
      sizeBytes: bytes.byteLength,
      async commit() {
        await storage.put(storageKey, bytes, {
          contentType: checked.contentType,
          contentLength: bytes.byteLength,
          sha256,
        });
        return stored;
      },
      abort: async () => {},
    };
  }

  // Exactly two part buffers for the whole file, used alternately: one sent while the other fills.
  const buffers = [first];
  // A container is checked once stored; anything else now, from its head, before any byte is sent.
  const deferred = needsWholeFile(head);
  let checked: { contentType: string; fileName: string };
  try {
    checked = deferred
      ? { contentType: "application/octet-stream", fileName }
      : await checkType(config, prefixSource(first), fileName, declaredType);
  } catch (error) {
    parts.cancel();
    throw error;
  }

  const uploadId = await storage.createMultipart(storageKey, { contentType: checked.contentType }).catch((error) => {
    parts.cancel();
    throw error;
  });
  const abort = () => storage.abortMultipart(storageKey, uploadId);
  const etags: { partNumber: number; etag: string }[] = [];
  let sending: Promise<string> | null = null;
  try {
    for (let partNumber = 1; ; partNumber++) {
      const buffer = buffers[(partNumber - 1) % 2] as Uint8Array;
      sending = storage.uploadPart(storageKey, uploadId, partNumber, buffer.subarray(0, filled.length));
      if (filled.ended) {
        etags.push({ partNumber, etag: await sending });
        break;
      }
      // The next part is read while this one is sent, into the other buffer.
      if (buffers.length < 2) buffers.push(new Uint8Array(PART_BYTES));
      filled = await parts.fill(buffers[partNumber % 2] as Uint8Array);
      etags.push({ partNumber, etag: await sending });
    }
  } catch (error) {
    parts.cancel();
    // A part still being sent could outlive the abort and leave a part behind (S3 says so).
    await sending?.catch(() => {});
    await abort().catch(() => {});
    throw error;
  }
  const sizeBytes = parts.received;
  const sha256 = await parts.sha256();
  buffers.length = 0;

  return {
    sizeBytes,
    async commit() {
      try {
        await storage.completeMultipart(storageKey, uploadId, etags);
      } catch (error) {
        await abort().catch(() => {});
        throw error;
      }
      if (deferred) {
        try {
          checked = await checkType(
            config,
            storageSource(storage, storageKey, sizeBytes, head),
            fileName,
            declaredType,
          );
          if (checked.contentType !== "application/octet-stream") {
            const copied = await storage.copy(storageKey, storageKey, { contentType: checked.contentType });
            if (!copied) throw new Failure("upload_changed", "The uploaded object is no longer there.");
          }
        } catch (error) {
          await storage.delete(storageKey).catch(() => {});
          throw error;
        }
      }
      return { versionId, storageKey, ...checked, sizeBytes, sha256 };
    },
    abort,
  };
}
