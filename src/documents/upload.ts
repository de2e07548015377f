// Reading an upload: a multipart body capped on the bytes actually received (whatever
// Content-Length claims), its file's type detected from its own bytes, its SHA-256 computed as
// a stream, then the bytes stored under a generated key.
import type { Config } from "../config";
import { ApiError } from "../lib/problem";
import type { ObjectStorage } from "../storage/object-storage";
import type { NewFile } from "./documents.store";
import { cleanFileName } from "./file-names";
import { DEFAULT_ALLOWED_TYPES, detectType, SNIFF_BYTES, servedContentType } from "./file-types";

/** Room for the multipart framing and the text fields around the file. */
const MULTIPART_OVERHEAD_BYTES = 256 * 1024;

class BodyTooLarge extends Error {}

function capped(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  let received = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        if (received > limit) controller.error(new BodyTooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
}

export function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, `The file exceeds the upload limit of ${maxBytes} bytes.`);
}

export type ParsedMultipart = { file: File | null; fields: Map<string, string[]> };

export async function readMultipart(request: Request, maxFileBytes: number): Promise<ParsedMultipart> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new ApiError(415, "Send the file as multipart/form-data.");
  }
  const limit = maxFileBytes + MULTIPART_OVERHEAD_BYTES;
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw tooLarge(maxFileBytes);
  if (!request.body) throw new ApiError(400, "The multipart body is empty.");
  let form: FormData;
  try {
    form = await new Request(request.url, {
      method: "POST",
      headers: { "content-type": contentType },
      body: capped(request.body, limit),
    }).formData();
  } catch (error) {
    if (error instanceof BodyTooLarge || (error as { cause?: unknown })?.cause instanceof BodyTooLarge) {
      throw tooLarge(maxFileBytes);
    }
    // workerd surfaces the stream's error by message only.
    if (String((error as Error)?.message).includes("BodyTooLarge")) throw tooLarge(maxFileBytes);
    throw new ApiError(400, "The multipart body could not be parsed.");
  }
  const fields = new Map<string, string[]>();
  let file: File | null = null;
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") fields.set(name, [...(fields.get(name) ?? []), value]);
    else if (name === "file" && !file) file = value;
  }
  if (file && file.size > maxFileBytes) throw tooLarge(maxFileBytes);
  return { file, fields };
}

export function allowedTypes(config: Config): readonly string[] {
  return config.ALLOWED_CONTENT_TYPES.length > 0 ? config.ALLOWED_CONTENT_TYPES : DEFAULT_ALLOWED_TYPES;
}

/** The type to store for these first bytes, or 415. */
export function checkType(
  config: Config,
  head: Uint8Array,
  fileName: string,
  declaredType: string | undefined,
  truncated: boolean,
): string {
  const detection = detectType(head, { fileName, declaredType }, truncated);
  if ("rejected" in detection) {
    throw new ApiError(415, `This file type is not allowed (${detection.rejected}).`);
  }
  if (!allowedTypes(config).includes(detection.type)) {
    throw new ApiError(415, `Files of type ${detection.type} are not allowed.`);
  }
  return servedContentType(detection.type);
}

const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** SHA-256 of a stream, without holding it in memory. */
export async function sha256Of(stream: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  await stream.pipeTo(digest);
  return hex(await digest.digest);
}

/** A checked file in storage, ready to become a version row. */
export type StoredFile = NewFile;

export const storageKeyFor = (documentId: string, versionId: string) => `documents/${documentId}/${versionId}`;

/** Checks and stores an uploaded file under documents/{documentId}/{new version id}. */
export async function storeUpload(
  config: Config,
  storage: ObjectStorage,
  documentId: string,
  file: File,
): Promise<StoredFile> {
  const fileName = cleanFileName(file.name);
  const head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
  const contentType = checkType(config, head, fileName, file.type || undefined, file.size > SNIFF_BYTES);
  const sha256 = await sha256Of(file.stream());
  const versionId = crypto.randomUUID();
  const storageKey = storageKeyFor(documentId, versionId);
  await storage.put(storageKey, file, { contentType, contentLength: file.size, sha256 });
  return { versionId, storageKey, fileName, contentType, sizeBytes: file.size, sha256 };
}
