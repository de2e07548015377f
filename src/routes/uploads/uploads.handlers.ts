import type { AppRouteHandler } from "../../app-env";
import { isUniqueViolation } from "../../db/errors";
import { addVersion, atLeast, createDocument, getRole } from "../../documents/documents.store";
import { cleanFileName } from "../../documents/file-names";
import { SNIFF_BYTES } from "../../documents/file-types";
import { allowedTypes, checkType, sha256Of, storageKeyFor } from "../../documents/upload";
import { createUpload, deleteUpload, findUpload } from "../../documents/uploads.store";
import { actorOf } from "../../lib/actor";
import { ApiError } from "../../lib/problem";
import { etagOf } from "../documents/etag";
import { tagsFromInput } from "../documents/tags-input";
import type { completeUpload, startUpload } from "./uploads.routes";

const mediaType = (value: string) => value.split(";")[0]?.trim().toLowerCase() ?? "";
const textual = (type: string) => type.startsWith("text/") || type === "application/json";

export const startUploadHandler: AppRouteHandler<typeof startUpload> = async (c) => {
  const { config, db, storage, userId } = c.var;
  const body = c.req.valid("json");
  if (body.size_bytes > config.MAX_DIRECT_UPLOAD_BYTES) {
    throw new ApiError(413, `Direct uploads are limited to ${config.MAX_DIRECT_UPLOAD_BYTES} bytes.`);
  }
  const declaredType = mediaType(body.content_type);
  if (!allowedTypes(config).includes(declaredType)) {
    throw new ApiError(415, `Files of type ${declaredType} are not allowed.`);
  }
  if (body.document_id) {
    const role = await getRole(db, body.document_id, userId);
    if (!role) throw new ApiError(404, "No such document.");
    if (!atLeast(role, "EDIT")) throw new ApiError(403, "Uploading a version needs the EDIT role.");
  }
  // The key is final from the start: documents/{document id, planned for a new one}/{version id}.
  const storageKey = storageKeyFor(body.document_id ?? crypto.randomUUID(), crypto.randomUUID());
  const ttl = config.UPLOAD_URL_TTL_SECONDS;
  const expiresAt = new Date(Date.now() + ttl * 1000);
  const upload = await createUpload(db, {
    userId,
    documentId: body.document_id ?? null,
    storageKey,
    fileName: cleanFileName(body.file_name),
    contentType: declaredType,
    sizeBytes: body.size_bytes,
    sha256: body.sha256?.toLowerCase() ?? null,
    expiresAt,
  });
  const headers = { "Content-Type": declaredType };
  const url = await storage.presign("PUT", storageKey, {
    expiresInSeconds: ttl,
    headers: { "content-type": declaredType, "content-length": String(body.size_bytes) },
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
  if (!upload) throw new ApiError(404, "No such upload.");
  if (upload.status === "COMPLETED") throw new ApiError(409, "This upload was already completed.");
  if (upload.expiresAt.getTime() < Date.now()) throw new ApiError(409, "This upload has expired; start a new one.");

  // The stored object must be what was announced; otherwise it goes, and so does the record.
  const reject = async (status: 415 | 422, detail: string): Promise<never> => {
    await storage.delete(upload.storageKey);
    await deleteUpload(db, upload.id);
    throw new ApiError(status, detail);
  };
  const stored = await storage.head(upload.storageKey);
  if (!stored) throw new ApiError(422, "Nothing was uploaded to the URL yet.");
  if (stored.size !== upload.sizeBytes) {
    await reject(422, `The uploaded object has ${stored.size} bytes, not the ${upload.sizeBytes} announced.`);
  }
  const first = await storage.get(upload.storageKey, { start: 0, end: SNIFF_BYTES - 1 });
  const head = first ? new Uint8Array(await first.arrayBuffer()) : new Uint8Array();
  let contentType: string;
  try {
    contentType = checkType(config, head, upload.fileName, upload.contentType, upload.sizeBytes > SNIFF_BYTES);
  } catch (error) {
    if (error instanceof ApiError) return reject(415, error.detail);
    throw error;
  }
  const detected = mediaType(contentType);
  if (detected !== upload.contentType && !(textual(detected) && textual(upload.contentType))) {
    await reject(422, `The uploaded bytes are ${detected}, not the ${upload.contentType} announced.`);
  }
  // Document.sha256 is the digest of the stored bytes, so it is computed here either way (one
  // streamed read of the object); a declared digest must match it.
  const whole = await storage.get(upload.storageKey);
  const sha256 = whole?.body ? await sha256Of(whole.body) : "";
  if (upload.sha256 && sha256 !== upload.sha256) {
    await reject(422, "The uploaded bytes do not match the announced SHA-256.");
  }

  const [, documentId, versionId] = upload.storageKey.split("/") as [string, string, string];
  const file = {
    versionId,
    storageKey: upload.storageKey,
    fileName: upload.fileName,
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
      if (!version) throw new ApiError(404, "No such document.");
      const { revision: _, ...result } = version;
      return c.json(result, 201);
    }
    const document = await createDocument(db, {
      id: documentId,
      title: body.title ?? upload.fileName.slice(0, 500),
      description: body.description ?? null,
      tags,
      file,
      actor,
      uploadId: upload.id,
    });
    const { revision, ...result } = document;
    c.header("ETag", etagOf(revision));
    return c.json(result, 201);
  } catch (error) {
    // A concurrent `complete` of the same upload got there first: its key is taken.
    if (isUniqueViolation(error)) throw new ApiError(409, "This upload was already completed.");
    throw error;
  }
};
