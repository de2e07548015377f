// Reading an upload's request body: multipart/form-data parsed as a stream with caps on the bytes
// actually received (whatever Content-Length claims), on the number of parts and on each field.
// HTTP only; what becomes of the file is the domain's (src/documents/upload.ts).
import { Buffer } from "node:buffer";
import type { Readable } from "node:stream";
import busboy from "busboy";
import { ApiError } from "../../lib/problem";

/** Room for the multipart framing and the text fields around the file. */
const MULTIPART_OVERHEAD_BYTES = 256 * 1024;
/** A file and the few documented fields need far fewer parts; each part costs parsing work. */
const MAX_PARTS = 100;
/** Largest field other than the file: the longest documented one (description, 10,000 characters)
 * fits several times over. */
const MAX_FIELD_BYTES = 64 * 1024;
/** The parser is fed this much at a time, so a cap is noticed at most this many bytes late. */
const SLICE_BYTES = 16 * 1024;
/** A part's headers as busboy accepts them (16 KiB, Node's header limit) and its boundary line. */
const PART_HEADER_BYTES = 16 * 1024 + 1024;

function tooLarge(maxBytes: number): ApiError {
  return new ApiError("file_too_large", `The file exceeds the upload limit of ${maxBytes} bytes.`);
}
const tooManyParts = () => new ApiError("too_many_parts", `The multipart body has more than ${MAX_PARTS} parts.`);
const fieldTooLarge = () =>
  new ApiError("field_too_large", `A multipart field other than the file exceeds ${MAX_FIELD_BYTES} bytes (64 KiB).`);
const unparseable = () => new ApiError("malformed_body", "The multipart body could not be parsed.");

export type ParsedMultipart = { file: File | null; fields: Map<string, string[]> };

export type MultipartOptions = {
  maxFileBytes: number;
  /** The text fields the endpoint documents; any other field is read past and dropped. */
  fields: readonly string[];
};

/**
 * Collects the `file` part in memory as a File. The one place that holds the file's bytes: a
 * streaming store can take the part's stream here instead (issue #14).
 */
function collectFile(stream: Readable, fileName: string, type: string): Promise<File> {
  const chunks: Uint8Array[] = [];
  return new Promise((resolve, reject) => {
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    stream.once("end", () => resolve(new File(chunks as Uint8Array<ArrayBuffer>[], fileName, { type })));
    stream.once("error", reject);
  });
}

/** Hands a chunk to the parser and waits until it has been parsed (the parser's backpressure). */
const feed = (parser: busboy.Busboy, chunk: Buffer) =>
  new Promise<void>((resolve, reject) => parser.write(chunk, (error) => (error ? reject(error) : resolve())));

/**
 * Reads a multipart/form-data body as it arrives (busboy). Only the `file` part and the fields
 * named in `options.fields` are kept. More than MAX_PARTS parts, a field over MAX_FIELD_BYTES, a
 * file over `maxFileBytes` or a body over its total allowance is a 413 as soon as it is seen:
 * reading stops there, nothing after it is parsed.
 */
export async function readMultipart(request: Request, options: MultipartOptions): Promise<ParsedMultipart> {
  const { maxFileBytes } = options;
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
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
  let filePromise: Promise<File> | null = null;
  let failure: ApiError | null = null;
  const fail = (error: ApiError) => {
    failure ??= error;
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
    stream.once("end", () => {
      inFile = false;
      partBoundary = true;
    });
    if (name === "file" && !filePromise) {
      filePromise = collectFile(stream, info.filename ?? "", info.mimeType);
      // Awaited only when the body is complete; a failure before that is reported instead.
      filePromise.catch(() => {});
    } else {
      stream.resume(); // a second file part or an undocumented one: read past, kept nowhere
    }
  });
  parser.on("partsLimit", () => fail(tooManyParts()));
  parser.on("error", () => fail(unparseable()));
  const closed = new Promise<void>((resolve) => parser.once("close", resolve));

  const reader = request.body.getReader();
  let received = 0;
  // Bytes since the last part ended that were not a file's: a field (or headers, or junk between
  // parts). busboy reports a field's size only at its end; this notices an oversized one as it
  // arrives.
  let outsideFiles = 0;
  try {
    while (!failure) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > limit) fail(tooLarge(maxFileBytes));
      for (let at = 0; at < value.byteLength && !failure; at += SLICE_BYTES) {
        const slice = Buffer.from(value.buffer, value.byteOffset + at, Math.min(SLICE_BYTES, value.byteLength - at));
        partBoundary = false;
        await feed(parser, slice);
        outsideFiles = partBoundary || inFile ? 0 : outsideFiles + slice.byteLength;
        if (outsideFiles > MAX_FIELD_BYTES + PART_HEADER_BYTES) fail(fieldTooLarge());
      }
    }
    if (!failure) {
      parser.end();
      await closed;
    }
    const file = failure || !filePromise ? null : await (filePromise as Promise<File>);
    if (failure) throw failure;
    return { file, fields };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    // workerd's body stream fails when the client goes away; the parser when the body is malformed.
    throw failure ?? unparseable();
  } finally {
    if (failure) {
      // Stop reading: the rest of the body is never parsed nor waited for.
      reader.cancel().catch(() => {});
      parser.destroy();
    }
  }
}
