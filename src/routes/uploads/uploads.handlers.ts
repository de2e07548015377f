import type { AppRouteHandler } from "../../app-env";
import { isUniqueViolation } from "../../db/errors";
import { addVersion, atLeast, createDocument, getRole } from "../../documents/documents.store";
import { cleanFileName } from "../../documents/file-names";
import { SNIFF_BYTES } from "../../documents/file-types";
import { allowedTypes, checkType, sha256Of, storageKeyFor, storageSource } from "../../documents/upload";
import {
  createUpload,
  deletePendingUploads,
  findUpload,
  stagingKeyFor,
  type UploadRecord,
} from "../../documents/uploads.store";
import { actorOf } from "../../lib/actor";
import type { ErrorCode } from "../../lib/error-codes";
import { ApiError, DependencyError, Failure } from "../../lib/problem";
import { discardAfterFailedWrite, discardObject } from "../documents/discard-object";
import { etagOf } from "../documents/etag";
import { tagsFromInput } from "../documents/tags-input";
import type { completeUpload, startUpload } from "./uploads.routes";

const mediaType = (value: string) => value.split(";")[0]?.trim().toLowerCase() ?? "";
const textual = (type: string) => type.startsWith("text/") || type === "application/json";

/** x-amz-checksum-sha256 carries the digest in base64. */
const hexToBase64 = (hex: string) =>
  btoa(String.fromCharCode(...(hex.match(/../g) ?? []).map((pair) => Number.parseInt(pair, 16))));

/**
 * The id of the document a new-document upload becomes: the upload's own id, so that two
 * `complete` calls of one upload collide on the document's primary key. Uploads started before
 * staging keys existed planned it in their key, `documents/{document id}/{version id}`.
 */
const plannedDocumentId = (upload: UploadRecord) =>
  /^documents\/([0-9a-f-]{36})\//.exec(upload.storageKey)?.[1] ?? upload.id;

/**
 * Reads a stored object once: its SHA-256, its length and its first `keep` bytes, without
 * holding it in memory.
 */
async function digestOf(
  body: ReadableStream<Uint8Array>,
  keep: number,
): Promise<{ sha256: string; size: number; first: Uint8Array }> {
  let size = 0;
  const first = new Uint8Array(keep);
  let kept = 0;
  const counted = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (kept < keep) {
          const part = chunk.subarray(0, keep - kept);
          first.set(part, kept);
          kept += part.byteLength;
        }
        size += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const sha256 = await sha256Of(counted);
  return { sha256, size, first: first.subarray(0, kept) };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);

export const startUploadHandler: AppRouteHandler<typeof startUpload> = async (c) => {
  const { config, db, storage, userId } = c.var;
  const body = c.req.valid("json");
  if (body.size_bytes > config.MAX_DIRECT_UPLOAD_BYTES) {
    throw new ApiError("file_too_large", `Direct uploads are limited to ${config.MAX_DIRECT_UPLOAD_BYTES} bytes.`);
  }
  const declaredType = mediaType(body.content_type);
  if (!allowedTypes(config).includes(declaredType)) {
    throw new ApiError("file_type_not_allowed", `Files of type ${declaredType} are not allowed.`);
  }
  if (body.document_id) {
    const role = await getRole(db, body.document_id, userId);
    if (!role) throw new ApiError("document_not_found", "No such document.");
    if (!atLeast(role, "EDIT")) throw new ApiError("role_too_low", "Uploading a version needs the EDIT role.");
  }
  // The URL names a staging key, never a version's: it can be replayed until it expires. The
  // record exists before the URL, so the sweeper never takes the staged bytes for an orphan.
  const uploadId = crypto.randomUUID();
  const stagingKey = stagingKeyFor(uploadId);
  const sha256 = body.sha256?.toLowerCase() ?? null;
  const ttl = config.UPLOAD_URL_TTL_SECONDS;
  const expiresAt = new Date(Date.now() + ttl * 1000);
  const upload = await createUpload(db, {
    id: uploadId,
    userId,
    documentId: body.document_id ?? null,
    storageKey: stagingKey,
    fileName: cleanFileName(body.file_name),
    contentType: declaredType,
    sizeBytes: body.size_bytes,
    sha256,
    expiresAt,
  });
  // Signed into the URL, so the client must send them as given: S3 and R2 then refuse a second
  // write to the staging key (If-None-Match) and bytes that do not match the declared digest.
  const headers: Record<string, string> = { "Content-Type": declaredType, "If-None-Match": "*" };
  if (sha256) headers["x-amz-checksum-sha256"] = hexToBase64(sha256);
  const signed = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const url = await storage.presign("PUT", stagingKey, {
    expiresInSeconds: ttl,
    headers: { ...signed, "content-length": String(body.size_bytes) },
  });
  return c.json(
    { upload_id: upload.id, url, method: "PUT" as const, headers, expires_at: expiresAt.toISOString() },
    201,
  );
};

export const completeUploadHandler: AppRouteHandler<typeof completeUpload> = async (c) => {
  const { config, db, storage, userId } = c.var;
  const { upload_id } = c.req.valid("param");
  const body = c.req.valid("json");
  const tags = tagsFromInput(body.tags, "body.tags");

  const upload = await findUpload(db, upload_id, userId);
  if (!upload) throw new ApiError("upload_not_found", "No such upload.");
  if (upload.status === "COMPLETED")
    throw new ApiError("upload_already_completed", "This upload was already completed.");
  if (upload.expiresAt.getTime() < Date.now())
    throw new ApiError("upload_expired", "This upload has expired; start a new one.");

  const stagingKey = upload.storageKey;
  const documentId = upload.documentId ?? plannedDocumentId(upload);
  // A key of this attempt's own: nothing but this copy ever writes it, so what is checked below
  // is what downloads serve, and a concurrent `complete` cannot overwrite it.
  const versionId = crypto.randomUUID();
  const storageKey = storageKeyFor(documentId, versionId);
  let copied = false;
  // The stored object must be what was announced; otherwise it goes, and so does the record.
  const reject = async (code: ErrorCode, detail: string): Promise<never> => {
    await storage.deleteMany(copied ? [stagingKey, storageKey] : [stagingKey]);
    await deletePendingUploads(db, [upload.id]);
    throw new ApiError(code, detail);
  };
  const changed = () =>
    new ApiError(
      "upload_changed",
      "The uploaded object changed, or the upload was completed, while it was being checked.",
    );

  // A concurrent `complete` may finish and remove the staged object while this one reads it.
  const completedMeanwhile = async () =>
    (await findUpload(db, upload.id, userId))?.status === "COMPLETED"
      ? new ApiError("upload_already_completed", "This upload was already completed.")
      : null;

  const staged = await storage.head(stagingKey);
  if (!staged)
    throw (await completedMeanwhile()) ?? new ApiError("upload_not_received", "Nothing was uploaded to the URL yet.");
  // workerd's fetch inflates encoded bodies, so such an object's size, type and digest would
  // each describe other bytes; and a stored encoding would reach every download.
  if (staged.contentEncoding) {
    await reject(
      "upload_mismatch",
      "The object was uploaded with a Content-Encoding; upload the file's bytes without one.",
    );
  }
  if (staged.size !== upload.sizeBytes) {
    await reject(
      "upload_mismatch",
      `The uploaded object has ${staged.size} bytes, not the ${upload.sizeBytes} announced.`,
    );
  }
  const first = await storage.get(stagingKey, { start: 0, end: SNIFF_BYTES - 1 });
  if (!first) throw changed();
  if (staged.etag && first.headers.get("etag") !== staged.etag) {
    await first.body?.cancel();
    throw changed();
  }
  const head = new Uint8Array(await first.arrayBuffer());
  let contentType: string;
  let fileName: string;
  try {
    const source = storageSource(storage, stagingKey, upload.sizeBytes, head);
    ({ contentType, fileName } = await checkType(config, source, upload.fileName, upload.contentType));
  } catch (error) {
    if (error instanceof Failure) return reject(error.code, error.detail);
    throw error;
  }
  const detected = mediaType(contentType);
  if (detected !== upload.contentType && !(textual(detected) && textual(upload.contentType))) {
    await reject("upload_mismatch", `The uploaded bytes are ${detected}, not the ${upload.contentType} announced.`);
  }

  // Server-side copy of exactly the object checked so far (S3 and R2 refuse the copy if the
  // staging object changed since its HEAD), with metadata set by the service alone.
  const copy = await storage
    .copy(stagingKey, storageKey, { contentType, sourceEtag: staged.etag })
    .catch(async (error: unknown) => {
      throw (await completedMeanwhile()) ?? error;
    });
  if (!copy) throw (await completedMeanwhile()) ?? changed();
  copied = true;
  // Everything recorded is read back from the copy itself: even where the copy's condition is
  // not enforced (s3rver), its size, first bytes (hence its type) and SHA-256 are what is served.
  const stored = await storage.get(storageKey);
  if (!stored?.body || stored.headers.get("content-encoding")) {
    await stored?.body?.cancel();
    return reject("upload_mismatch", "The uploaded object changed while it was being checked.");
  }
  const digest = await digestOf(stored.body, head.byteLength);
  if (digest.size !== upload.sizeBytes || !sameBytes(digest.first, head)) {
    await reject("upload_mismatch", "The uploaded object changed while it was being checked.");
  }
  // Document.sha256 is the digest of the stored bytes, so it is computed here either way; a
  // declared digest must match it.
  const { sha256 } = digest;
  if (upload.sha256 && sha256 !== upload.sha256) {
    await reject("upload_mismatch", "The uploaded bytes do not match the announced SHA-256.");
  }

  const file = {
    versionId,
    storageKey,
    fileName,
    contentType,
    sizeBytes: upload.sizeBytes,
    sha256,
  };
  const actor = actorOf(c);
  try {
    if (upload.documentId) {
      const version = await addVersion(db, {
        id: upload.documentId,
        file,
        comment: body.comment ?? null,
        actor,
        uploadId: upload.id,
      });
      if (!version) {
        // The statement answered and wrote nothing: access was lost, or another `complete` won.
        discardObject(c, storageKey);
        const now = await findUpload(db, upload.id, userId);
        if (now?.status === "COMPLETED")
          throw new ApiError("upload_already_completed", "This upload was already completed.");
        throw new ApiError("document_not_found", "No such document.");
      }
      discardObject(c, stagingKey);
      const { revision: _, ...result } = version;
      return c.json(result, 201);
    }
    const document = await createDocument(db, {
      id: documentId,
      title: body.title ?? fileName.slice(0, 500),
      description: body.description ?? null,
      tags,
      file,
      actor,
      uploadId: upload.id,
    });
    discardObject(c, stagingKey);
    const { revision, ...result } = document;
    c.header("ETag", etagOf(revision));
    return c.json(result, 201);
  } catch (error) {
    if (error instanceof Failure || error instanceof DependencyError) throw error;
    discardAfterFailedWrite(c, storageKey, error);
    // A concurrent `complete` of the same upload got there first: its document id is taken.
    if (isUniqueViolation(error)) throw new ApiError("upload_already_completed", "This upload was already completed.");
    throw error;
  }
};
