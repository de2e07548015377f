// An uploaded file, once the HTTP layer has read it: its type detected from its own bytes, its
// SHA-256 computed as a stream, then the bytes stored under a generated key. Also the pieces a
// direct upload's check reuses on bytes already in storage (storageSource, checkType, sha256Of).
import type { Config } from "../config";
import { Failure } from "../lib/failure";
import type { ObjectStorage } from "../storage/object-storage";
import type { NewFile } from "./documents.store";
import { cleanFileName } from "./file-names";
import {
  type ByteSource,
  blobSource,
  DEFAULT_ALLOWED_TYPES,
  detectType,
  isMacroType,
  nameForType,
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
  const checked = await checkType(config, blobSource(file), cleanFileName(file.name), file.type || undefined);
  const { contentType, fileName } = checked;
  const sha256 = await sha256Of(file.stream());
  const versionId = crypto.randomUUID();
  const storageKey = storageKeyFor(documentId, versionId);
  await storage.put(storageKey, file, { contentType, contentLength: file.size, sha256 });
  return { versionId, storageKey, fileName, contentType, sizeBytes: file.size, sha256 };
}
