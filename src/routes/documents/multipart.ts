// Reading an upload's request body: multipart/form-data parsed as a stream with caps on the bytes
// actually received (whatever Content-Length claims), on the number of parts and on each field.
// HTTP only; what becomes of the file is the domain's (src/documents/upload.ts).
import { Buffer } from "node:buffer";
import type { Readable } from "node:stream";
import busboy from "busboy";
import { ApiError } from "../../lib/problem";
import { validationError } from "../../lib/validation";

/** Room for the multipart framing and the text fields around the file. */
const MULTIPART_OVERHEAD_BYTES = 256 * 1024;
/** A file and the few documented fields need far fewer parts; each part costs parsing work. */
const MAX_PARTS = 100;
/** Largest field other than the file: the longest documented one (description, 10,000 characters)
 * fits several times over. */
const MAX_FIELD_BYTES = 64 * 1024;
/**
 * The parser is fed up to this much at a time (one read of the body: see READ_BYTES), so a cap is
 * noticed at most this many bytes late. The work and garbage per chunk (busboy's stream
 * machinery, the file's queue, the readers' promises) do not depend on its size: whole reads
 * rather than 16 KiB slices cut them by about four.
 */
const SLICE_BYTES = 256 * 1024;
/** A part's headers as busboy accepts them (16 KiB, Node's header limit) and its boundary line. */
const PART_HEADER_BYTES = 16 * 1024 + 1024;

function tooLarge(maxBytes: number): ApiError {
  return new ApiError("file_too_large", `The file exceeds the upload limit of ${maxBytes} bytes.`);
}
const tooManyParts = () => new ApiError("too_many_parts", `The multipart body has more than ${MAX_PARTS} parts.`);
const fieldTooLarge = () =>
  new ApiError("field_too_large", `A multipart field other than the file exceeds ${MAX_FIELD_BYTES} bytes (64 KiB).`);
const secondFile = () =>
  validationError([{ path: "body.file", message: "Only one file per upload: the body has a second `file` part" }]);
const unparseable = () => new ApiError("malformed_body", "The multipart body could not be parsed.");

/**
 * The `file` part as it arrives: its stream ends with the part, or fails with the body.
 * `sizeAtMost` bounds its size from the request's Content-Length, when the request has one.
 */
export type FilePart = { name: string; type: string; stream: ReadableStream<Uint8Array>; sizeAtMost?: number };

export type ParsedMultipart<T> = { file: T | null; fields: Map<string, string[]> };

export type MultipartOptions<T> = {
  maxFileBytes: number;
  /** The text fields the endpoint documents; any other field is read past and dropped. */
  fields: readonly string[];
  /**
   * Takes the first `file` part while it arrives, with the documented fields read before it.
   * It must read the stream to its end or cancel it; the body is read no faster than it reads.
   * If it fails, reading stops and its error is the request's.
   */
  onFile: (file: FilePart, fieldsBefore: ReadonlyMap<string, string[]>) => Promise<T>;
  /** Undoes what `onFile` resolved with when the body fails after the file (a field too large, a cut). */
  discard: (result: T) => Promise<void>;
};

/**
 * A read of whatever has arrived takes up to this much: workerd delivers a body in pieces of at
 * most 64 KiB (a chunked body one chunk at a time).
 */
const EAGER_READ_BYTES = 64 * 1024;
/**
 * A read that waits for a file's bytes takes at least this much (less only at the body's end).
 * Each read leaves ~3 KB of workerd's own memory behind until the next full garbage collection,
 * which V8 does not count towards starting one: 64 KiB reads grew workerd by ~4 MiB over a
 * 90 MiB file, these by ~1.4 (reads alone, measured with the bench's upload-memory harness).
 */
const READ_BYTES = 256 * 1024;
/** A read buffer is reused once this many newer bytes have been read (see bodyReader). */
const RECYCLE_AFTER_BYTES = 2 * 1024 * 1024;
/** Bytes of read buffers kept for reuse per request at most. */
const MAX_READ_BUFFER_BYTES = 4 * 1024 * 1024;
/** How many bytes of a file part may wait for its reader before the parser waits too. */
const FILE_QUEUE_BYTES = 64 * 1024;

/**
 * A busboy file stream as a web stream, read at its reader's pace: busboy waits for the reader
 * (it holds the parser's write callback until the file stream is read), so at most
 * FILE_QUEUE_BYTES plus busboy's own buffer wait in memory. Cancelling reads past the rest.
 */
function webStream(stream: Readable): { readable: ReadableStream<Uint8Array>; fail(error: unknown): void } {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let settled = false;
  const readable = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        stream.on("data", (chunk: Buffer) => {
          if (settled) return;
          c.enqueue(chunk); // a Uint8Array: no second view per chunk
          if ((c.desiredSize ?? 0) <= 0) stream.pause();
        });
        stream.once("end", () => {
          if (settled) return;
          settled = true;
          c.close();
        });
      },
      pull() {
        stream.resume();
      },
      cancel() {
        settled = true;
        stream.resume();
      },
    },
    { highWaterMark: FILE_QUEUE_BYTES, size: (chunk) => chunk.byteLength },
  );
  return {
    readable,
    fail(error) {
      if (settled) return;
      settled = true;
      controller?.error(error);
    },
  };
}

/**
 * Reads a body chunk by chunk. A request's own body (a byte stream) is read with a BYOB reader
 * into buffers this code owns and reuses: workerd's own chunks would be garbage the collector
 * does not notice (measured: a 180 MiB upload grew workerd by ~150 MiB that way).
 *
 * `next(atLeast)` answers whatever has arrived when `atLeast` is 1, and otherwise waits for
 * `atLeast` bytes (fewer only at the body's end): the caller asks for that only where the bytes
 * are sure to come (inside a file, within the request's Content-Length), so a stalled body's
 * bytes are still parsed, and its caps noticed, at once everywhere else.
 *
 * A buffer is reused only once RECYCLE_AFTER_BYTES newer bytes have been read: every reference
 * into the body's bytes is gone by then. References only live in the parser's current field (at
 * most MAX_FIELD_BYTES, or the body fails), the file part's queues (busboy's and
 * FILE_QUEUE_BYTES plus the chunk that passed it: the parser is not fed past them), the file
 * reader's chunk being copied and the slice being parsed: under 1.3 MiB with SLICE_BYTES of
 * 256 KiB. The file's reader copies what it reads. A body that is not a byte stream (one built in
 * JavaScript) is read as it comes.
 */
function bodyReader(body: ReadableStream<Uint8Array>): {
  next(atLeast: number): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(): void;
} {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // not a byte stream
  }
  if (!byob) {
    const reader = body.getReader();
    return { next: () => reader.read(), cancel: () => void reader.cancel().catch(() => {}) };
  }
  const reader = byob;
  // Spare buffers by size: eager reads use small ones, waiting reads large ones.
  const spare = new Map<number, ArrayBuffer[]>();
  const inUse: { buffer: ArrayBuffer; readUpTo: number }[] = [];
  let kept = 0;
  let read = 0;
  return {
    async next(atLeast) {
      while (inUse.length > 0 && read - (inUse[0] as { readUpTo: number }).readUpTo >= RECYCLE_AFTER_BYTES) {
        const { buffer } = inUse.shift() as { buffer: ArrayBuffer };
        const list = spare.get(buffer.byteLength);
        if (list) list.push(buffer);
        else spare.set(buffer.byteLength, [buffer]);
      }
      const size = atLeast > 1 ? READ_BYTES : EAGER_READ_BYTES;
      const reused = spare.get(size)?.pop();
      // Past MAX_READ_BUFFER_BYTES (a body trickling in small reads), a buffer is not kept for
      // reuse: it is garbage V8 counts and collects.
      const tracked = reused !== undefined || kept + size <= MAX_READ_BUFFER_BYTES;
      if (!reused && tracked) kept += size;
      const view = new Uint8Array(reused ?? new ArrayBuffer(size));
      const result = atLeast > 1 ? await reader.readAtLeast(Math.min(atLeast, size), view) : await reader.read(view);
      if (result.value) {
        read += result.value.byteLength;
        if (tracked) inUse.push({ buffer: result.value.buffer as ArrayBuffer, readUpTo: read });
      }
      return result as ReadableStreamReadResult<Uint8Array>;
    },
    cancel: () => void reader.cancel().catch(() => {}),
  };
}

/** Hands a chunk to the parser and waits until it has been parsed (the parser's backpressure). */
const feed = (parser: busboy.Busboy, chunk: Buffer) =>
  new Promise<void>((resolve, reject) => parser.write(chunk, (error) => (error ? reject(error) : resolve())));

/**
 * Reads a multipart/form-data body as it arrives (busboy). The `file` part is streamed to
 * `options.onFile` while the rest of the body is parsed, and the fields named in
 * `options.fields` are kept, before or after the file; a second `file` part is a 422. More than MAX_PARTS parts, a field over
 * MAX_FIELD_BYTES, a file over `maxFileBytes` or a body over its total allowance is a 413 as soon
 * as it is seen: reading stops there, nothing after it is parsed. On any failure the file's
 * stream fails too, and what `onFile` made is undone (its own cleanup, or `discard`) before the
 * failure is thrown.
 */
export async function readMultipart<T>(request: Request, options: MultipartOptions<T>): Promise<ParsedMultipart<T>> {
  const { maxFileBytes } = options;
  const contentType = request.headers.get("content-type") ?? "";
  // Without parameters it is still multipart, only broken (no boundary): busboy's 400 below.
  if (!/^multipart\/form-data\s*(;|$)/i.test(contentType)) {
    throw new ApiError("multipart_required", "Send the file as multipart/form-data.");
  }
  const limit = maxFileBytes + MULTIPART_OVERHEAD_BYTES;
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw tooLarge(maxFileBytes);
  if (!request.body) throw new ApiError("malformed_body", "The multipart body is empty.");

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": contentType },
      // File names arrive as UTF-8 from every browser; busboy's default would read them as Latin-1.
      defParamCharset: "utf8",
      // One past each cap, since busboy reports reaching a limit, not passing it.
      limits: { parts: MAX_PARTS + 1, fieldSize: MAX_FIELD_BYTES + 1, fileSize: maxFileBytes + 1 },
    });
  } catch {
    throw unparseable(); // no boundary parameter
  }

  const wanted = new Set(options.fields);
  const fields = new Map<string, string[]>();
  let consumer: Promise<T> | null = null;
  let fileStream: ReturnType<typeof webStream> | null = null;
  let failure: { error: unknown } | null = null;
  // The wait in progress (a read of the body, a chunk being parsed) ends early when the request
  // fails. Not Promise.race with one promise pending until the request fails: each race would
  // add a reaction to it, one per chunk, all kept alive until the request ends.
  let interrupt: (() => void) | null = null;
  const untilFailure = <V>(promise: Promise<V>, onFailure: V) =>
    new Promise<V>((resolve, reject) => {
      if (failure) return resolve(onFailure);
      interrupt = () => resolve(onFailure);
      promise.then(resolve, reject);
    }).finally(() => {
      interrupt = null;
    });
  const fail = (error: unknown) => {
    if (failure) return;
    failure = { error };
    fileStream?.fail(error);
    interrupt?.();
  };
  let parts = 0;
  let inFile = false;
  let partBoundary = false;
  const countPart = () => {
    partBoundary = true;
    if (++parts > MAX_PARTS) fail(tooManyParts());
  };

  // A field is reported when it ends, a file when its headers end.
  parser.on("field", (name, value, info) => {
    countPart();
    if (info.valueTruncated) fail(fieldTooLarge());
    else if (wanted.has(name)) {
      const values = fields.get(name);
      if (values) values.push(value);
      else fields.set(name, [value]);
    }
  });
  parser.on("file", (name, stream, info) => {
    countPart();
    inFile = true;
    stream.once("limit", () => fail(tooLarge(maxFileBytes)));
    // Destroying the parser ends an open part with an error; the request's failure is reported instead.
    stream.on("error", () => {});
    // The part ends where the parser reads its closing boundary (busboy pushes the stream's end),
    // not at 'end', which waits for the file's reader to read that far: the parser may be well
    // into the next field by then, and that field's bytes must count as outside a file.
    const push = stream.push.bind(stream);
    stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk === null) {
        inFile = false;
        partBoundary = true;
      }
      return push(chunk, encoding);
    };
    if (name === "file" && consumer) {
      // Which of two files was meant cannot be known: neither is stored (the first is undone).
      stream.resume();
      fail(secondFile());
    } else if (name === "file" && !failure) {
      fileStream = webStream(stream);
      const started = options.onFile(
        {
          name: info.filename ?? "",
          type: info.mimeType,
          stream: fileStream.readable,
          ...(Number.isSafeInteger(declared) && declared >= 0 ? { sizeAtMost: Math.min(declared, maxFileBytes) } : {}),
        },
        new Map(fields),
      );
      consumer = started;
      started.catch(fail);
    } else {
      stream.resume(); // an undocumented part: read past, kept nowhere
    }
  });
  parser.on("partsLimit", () => fail(tooManyParts()));
  parser.on("error", () => fail(unparseable()));
  const closed = new Promise<void>((resolve) => parser.once("close", resolve));

  const read = bodyReader(request.body);
  const stopped = { done: true as const, value: undefined };
  let received = 0;
  // Bytes since the last part ended that were not a file's: a field (or headers, or junk between
  // parts). busboy reports a field's size only at its end; this notices an oversized one as it
  // arrives.
  let outsideFiles = 0;
  let file: T | null = null;
  try {
    while (!failure) {
      // Inside a file, with bytes still declared to come, a read waits for a large block.
      const declaredLeft = Number.isSafeInteger(declared) ? declared - received : 0;
      const atLeast = inFile && declaredLeft > 1 ? declaredLeft : 1;
      const { done, value } = await untilFailure(read.next(atLeast), stopped);
      if (done) break;
      received += value.byteLength;
      if (received > limit) fail(tooLarge(maxFileBytes));
      for (let at = 0; at < value.byteLength && !failure; at += SLICE_BYTES) {
        const slice = Buffer.from(value.buffer, value.byteOffset + at, Math.min(SLICE_BYTES, value.byteLength - at));
        partBoundary = false;
        // The file's reader may stop reading (it failed): its failure ends the wait.
        await untilFailure(feed(parser, slice), undefined);
        outsideFiles = partBoundary || inFile ? 0 : outsideFiles + slice.byteLength;
        if (outsideFiles > MAX_FIELD_BYTES + PART_HEADER_BYTES) fail(fieldTooLarge());
      }
    }
    if (!failure) {
      parser.end();
      await untilFailure(closed, undefined);
    }
    if (!failure && consumer) file = await (consumer as Promise<T>);
  } catch (error) {
    // workerd's body stream fails when the client goes away; the parser when the body is
    // malformed; the file's reader with its own error (already recorded).
    fail(error instanceof ApiError ? error : unparseable());
  }
  const failedWith = failure as { error: unknown } | null;
  if (!failedWith) return { file, fields };
  // Stop reading: the rest of the body is never parsed nor waited for.
  read.cancel();
  parser.destroy();
  // What the file's reader made is gone before the failure is answered: it cleans up after its
  // own failure; what it finished is discarded.
  if (consumer) {
    await (consumer as Promise<T>).then(
      (result) => options.discard(result).catch(() => {}),
      () => {},
    );
  }
  throw failedWith.error;
}
