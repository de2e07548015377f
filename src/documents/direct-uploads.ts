// Direct uploads: the client PUTs a large file straight to storage with a presigned URL, then
// `complete` checks what arrived and turns it into a document or a version. The PUT goes to a
// staging key (src/documents/uploads.store.ts), never to a version's key: a presigned URL can be
// replayed until it expires, so `complete` copies the checked bytes to a key of its own that no
// URL names, and records what it reads back from that copy.
import type { Config } from "../config";
import type { Database } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { ERROR_CODES, type ErrorCode } from "../lib/error-codes";
import { DependencyError, Failure } from "../lib/failure";
import type { ObjectStorage } from "../storage/object-storage";
import type { Actor } from "./actor";
import {
  type Discarding,
  discardAfterFailedWrite,
  discardObject,
  SEALED_UPLOAD_TYPE,
  sealInBackground,
  sealStagingKey,
} from "./discard";
import { createDocument, documentNotFound, requireRole } from "./documents.store";
import { cleanFileName } from "./file-names";
import { SNIFF_BYTES } from "./file-types";
import {
  assembleParts,
  choosePartSize,
  endedFailure,
  openMultipart,
  partsCountFor,
  requirePending,
} from "./multipart-uploads";
import { checkQuota, fitsQuota, quotaExceeded, storageUsage } from "./quota";
import type { RevisedDocument } from "./sql";
import { allowedTypes, checkType, sha256Hasher, storageKeyFor, storageSource } from "./upload";
import {
  createUpload,
  endPendingUploads,
  findUpload,
  findUploadWithOwnerUsage,
  isStagingKey,
  stagingKeyFor,
  type UploadRecord,
} from "./uploads.store";
import { type AddedVersion, addVersionForUpload } from "./versions.store";

export type DirectUploadServices = Discarding & { config: Config; db: Database };

const mediaType = (value: string) => value.split(";")[0]?.trim().toLowerCase() ?? "";
const textual = (type: string) => type.startsWith("text/") || type === "application/json";

/** x-amz-checksum-sha256 carries the digest in base64. */
const hexToBase64 = (hex: string) =>
  btoa(String.fromCharCode(...(hex.match(/../g) ?? []).map((pair) => Number.parseInt(pair, 16))));

const alreadyCompleted = () => new Failure("upload_already_completed", "This upload was already completed.");

export type UploadTicket = {
  uploadId: string;
  url: string;
  /** Headers the client must send with the PUT exactly as given: they are signed. */
  headers: Record<string, string>;
  expiresAt: Date;
};

/** The most one S3 PutObject takes (and R2's). */
export const SINGLE_PUT_MAX_BYTES = 5 * 1024 ** 3;

/** A resumable upload: its parts' URLs are asked for with signParts (multipart-uploads.ts). */
export type MultipartTicket = { uploadId: string; partSize: number; partsCount: number; expiresAt: Date };

/**
 * Records an upload and signs the URL its bytes go to. The size cap and the declared type are
 * checked first; with `documentId`, the upload becomes a version, which needs EDIT. The declared
 * size must fit the owner's storage quota (the document's owner for a version); `complete`
 * checks again with the stored size, and the statement recording the version decides.
 */
export async function startDirectUpload(
  services: Pick<DirectUploadServices, "config" | "db" | "storage">,
  userId: string,
  input: StartInput & { multipart?: false },
): Promise<UploadTicket>;
export async function startDirectUpload(
  services: Pick<DirectUploadServices, "config" | "db" | "storage">,
  userId: string,
  input: StartInput & { multipart: true },
): Promise<MultipartTicket>;
export async function startDirectUpload(
  services: Pick<DirectUploadServices, "config" | "db" | "storage">,
  userId: string,
  input: StartInput & { multipart?: boolean },
): Promise<UploadTicket | MultipartTicket>;
export async function startDirectUpload(
  { config, db, storage }: Pick<DirectUploadServices, "config" | "db" | "storage">,
  userId: string,
  input: StartInput & { multipart?: boolean },
): Promise<UploadTicket | MultipartTicket> {
  if (input.sizeBytes > config.MAX_DIRECT_UPLOAD_BYTES) {
    throw new Failure("file_too_large", `Direct uploads are limited to ${config.MAX_DIRECT_UPLOAD_BYTES} bytes.`);
  }
  // S3 and R2 refuse one PUT of more than 5 GiB: with MAX_DIRECT_UPLOAD_BYTES raised past it, the
  // URL would only ever fail. Bigger files go in parts.
  if (!input.multipart && input.sizeBytes > SINGLE_PUT_MAX_BYTES) {
    throw new Failure(
      "file_too_large",
      `One PUT holds at most ${SINGLE_PUT_MAX_BYTES} bytes (5 GiB, the store's limit): start a multipart upload ("multipart": true).`,
    );
  }
  const declaredType = mediaType(input.contentType);
  if (!allowedTypes(config).includes(declaredType)) {
    throw new Failure("file_type_not_allowed", `Files of type ${declaredType} are not allowed.`);
  }
  const quota = config.STORAGE_QUOTA_BYTES;
  if (input.documentId) {
    const { ownerUsedBytes } = await requireVersionRole(db, input.documentId, userId);
    checkQuota(quota, ownerUsedBytes, input.sizeBytes);
  } else if (quota > 0) {
    // One primary-key read, only when a quota is set: nothing else reads the caller's row here.
    checkQuota(quota, await storageUsage(db, userId), input.sizeBytes);
  }
  // The URL names a staging key, never a version's: it can be replayed until it expires. The
  // record exists before the URL, so the sweeper never takes the staged bytes for an orphan.
  const uploadId = crypto.randomUUID();
  const stagingKey = stagingKeyFor(uploadId);
  const sha256 = input.sha256?.toLowerCase() ?? null;
  const record = {
    id: uploadId,
    userId,
    documentId: input.documentId ?? null,
    storageKey: stagingKey,
    fileName: cleanFileName(input.fileName),
    contentType: declaredType,
    sizeBytes: input.sizeBytes,
    sha256,
  };
  if (input.multipart) {
    // The deadline bounds the whole upload; each part URL lives UPLOAD_URL_TTL_SECONDS at most.
    const expiresAt = new Date(Date.now() + config.MULTIPART_UPLOAD_TTL_SECONDS * 1000);
    const partSize = choosePartSize(input.sizeBytes);
    const partsCount = partsCountFor(input.sizeBytes, partSize);
    await createUpload(db, { ...record, partSize, partsCount, expiresAt });
    try {
      await openMultipart(db, storage, record);
    } catch (error) {
      await endPendingUploads(db, [uploadId], "ABORTED").catch(() => {});
      throw error;
    }
    return { uploadId, partSize, partsCount, expiresAt };
  }
  const ttl = config.UPLOAD_URL_TTL_SECONDS;
  const expiresAt = new Date(Date.now() + ttl * 1000);
  await createUpload(db, { ...record, expiresAt });
  // Signed into the URL, so the client must send them as given: S3 and R2 then refuse a second
  // write to the staging key (If-None-Match) and bytes that do not match the declared digest.
  const headers: Record<string, string> = { "Content-Type": declaredType, "If-None-Match": "*" };
  if (sha256) headers["x-amz-checksum-sha256"] = hexToBase64(sha256);
  const signed = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const url = await storage.presign("PUT", stagingKey, {
    expiresInSeconds: ttl,
    headers: { ...signed, "content-length": String(input.sizeBytes) },
  });
  return { uploadId, url, headers, expiresAt };
}

/**
 * The id of the document a new-document upload becomes: the upload's own id, so that two
 * `complete` calls of one upload collide on the document's primary key. Uploads started before
 * staging keys existed planned it in their key, `documents/{document id}/{version id}`.
 */
const plannedDocumentId = (upload: UploadRecord) =>
  /^documents\/([0-9a-f-]{36})\//.exec(upload.storageKey)?.[1] ?? upload.id;

const requireVersionRole = (db: Database, documentId: string, userId: string) =>
  requireRole(db, documentId, userId, "EDIT", "Uploading a version needs the EDIT role.");

/** The first SNIFF_BYTES of a staged object, which must still be the one its HEAD saw (`etag`). */
async function firstBytes(
  storage: ObjectStorage,
  key: string,
  etag: string | null | undefined,
  changed: () => Failure,
): Promise<Uint8Array> {
  const first = await storage.get(key, { start: 0, end: SNIFF_BYTES - 1 });
  if (!first) throw changed();
  if (etag && first.headers.get("etag") !== etag) {
    await first.body?.cancel();
    throw changed();
  }
  return new Uint8Array(await first.arrayBuffer());
}

/**
 * Reads a stored object once: its SHA-256, its length and its first `keep` bytes, without
 * holding it in memory (ObjectStorage.readBlocks). Null when it is gone or served encoded.
 */
async function digestOf(
  storage: ObjectStorage,
  key: string,
  keep: number,
): Promise<{ sha256: string; size: number; first: Uint8Array } | null> {
  const hasher = sha256Hasher();
  const first = new Uint8Array(keep);
  let kept = 0;
  let size = 0;
  const outcome = await storage.readBlocks(key, async (block) => {
    if (kept < keep) {
      const part = block.subarray(0, keep - kept);
      first.set(part, kept);
      kept += part.byteLength;
    }
    size += block.byteLength;
    await hasher.update(block);
  });
  if (outcome !== "read") return null;
  return { sha256: await hasher.hex(), size, first: first.subarray(0, kept) };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);

type StartInput = { fileName: string; contentType: string; sizeBytes: number; sha256?: string; documentId?: string };

export type CompleteInput = {
  uploadId: string;
  actor: Actor;
  /** A multipart upload's parts with the ETags their PUTs answered; absent for a single PUT. */
  parts?: { partNumber: number; etag: string }[];
  /** For a new document. */
  title?: string;
  description?: string;
  tags: string[];
  /** For a new version. */
  comment?: string;
};

/** What `complete` made of the upload: a new document, or a new version of the one it named. */
export type Completed = { document: RevisedDocument } | { version: AddedVersion; documentId: string };

/**
 * Checks the staged object against what was announced (size, no encoding, type from its bytes),
 * copies it server-side to the version's own key, reads the copy back (size, first bytes,
 * SHA-256: what is recorded is what downloads serve), then records the document or version and
 * marks the upload completed in the same statement. A mismatch deletes the object and the upload.
 */
export async function completeDirectUpload(services: DirectUploadServices, input: CompleteInput): Promise<Completed> {
  const { config, db, storage } = services;
  const userId = input.actor.userId;
  const found = await findUploadWithOwnerUsage(db, input.uploadId, userId);
  if (!found) throw new Failure("upload_not_found", "No such upload.");
  const upload = requirePending(found.upload);
  // A version needs EDIT when it is recorded as much as when it was announced: a holder demoted
  // since the start is told so (403), before any byte is assembled or copied; the upload stays
  // pending. The statement recording the version checks again.
  if (upload.documentId) await requireVersionRole(db, upload.documentId, userId);
  // A multipart upload's parts become its staging object first; bad parts change nothing.
  await assembleParts(services, upload, input.parts);

  const stagingKey = upload.storageKey;
  const documentId = upload.documentId ?? plannedDocumentId(upload);
  // A key of this attempt's own: nothing but this copy ever writes it, so what is checked below
  // is what downloads serve, and a concurrent `complete` cannot overwrite it.
  const versionId = crypto.randomUUID();
  const storageKey = storageKeyFor(documentId, versionId);
  let copied = false;
  // A concurrent `complete` may finish and remove the staged object while this one reads it.
  // …or the upload may have been abandoned (DELETE) meanwhile.
  const completedMeanwhile = async () => {
    const now = await findUpload(db, upload.id, userId);
    return now ? endedFailure(now) : null;
  };
  // The stored object must be what was announced; otherwise it goes, and the upload ends
  // (aborted: a new upload is needed).
  // A 422 names what failed as `errors` like every other 422: the announced field the bytes
  // disagree with (`upload.size_bytes`, `upload.content_type`, `upload.sha256`) or `upload`.
  const reject = async (code: ErrorCode, detail: string, path = "upload"): Promise<never> => {
    await Promise.all([sealStagingKey(storage, stagingKey), copied ? storage.delete(storageKey) : null]);
    // Ended meanwhile (a DELETE, a concurrent `complete`): that is the answer, whatever these bytes were.
    if ((await endPendingUploads(db, [upload.id], "ABORTED")).length === 0) {
      const ended = await completedMeanwhile();
      if (ended) throw ended;
    }
    throw new Failure(code, detail, ERROR_CODES[code].status === 422 ? { errors: [{ path, message: detail }] } : {});
  };
  // Before any byte is copied: the owner's quota must still have room (other uploads may have
  // taken it since the start). The statement recording the version makes the exact check.
  const quota = config.STORAGE_QUOTA_BYTES;
  if (!fitsQuota(quota, found.ownerUsedBytes, upload.sizeBytes)) {
    const refused = quotaExceeded(quota, found.ownerUsedBytes, upload.sizeBytes);
    await reject(refused.code, refused.detail);
  }
  const changed = () =>
    new Failure(
      "upload_changed",
      "The uploaded object changed, or the upload was completed, while it was being checked.",
    );

  const staged = await storage.head(stagingKey);
  // The marker of an ended upload: a concurrent `complete` or a DELETE got there first.
  if (!staged || staged.contentType === SEALED_UPLOAD_TYPE) {
    const detail = "Nothing was uploaded to the URL yet.";
    const notReceived = new Failure("upload_not_received", detail, { errors: [{ path: "upload", message: detail }] });
    throw (await completedMeanwhile()) ?? notReceived;
  }
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
      "upload.size_bytes",
    );
  }
  // An empty object has no first byte to ask for (S3 answers a range on it with 416).
  const head = staged.size === 0 ? new Uint8Array() : await firstBytes(storage, stagingKey, staged.etag, changed);
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
    await reject(
      "upload_mismatch",
      `The uploaded bytes are ${detected}, not the ${upload.contentType} announced.`,
      "upload.content_type",
    );
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
  const digest = await digestOf(storage, storageKey, head.byteLength);
  if (!digest) return reject("upload_mismatch", "The uploaded object changed while it was being checked.");
  if (digest.size !== upload.sizeBytes || !sameBytes(digest.first, head)) {
    await reject("upload_mismatch", "The uploaded object changed while it was being checked.");
  }
  // Document.sha256 is the digest of the stored bytes, so it is computed here either way; a
  // declared digest must match it.
  const { sha256 } = digest;
  if (upload.sha256 && sha256 !== upload.sha256) {
    await reject("upload_mismatch", "The uploaded bytes do not match the announced SHA-256.", "upload.sha256");
  }

  const file = { versionId, storageKey, fileName, contentType, sizeBytes: upload.sizeBytes, sha256 };
  try {
    if (upload.documentId) {
      const version = await addVersionForUpload(db, {
        id: upload.documentId,
        file,
        comment: input.comment ?? null,
        actor: input.actor,
        quotaBytes: quota,
        uploadId: upload.id,
      });
      if (!version) {
        // The statement answered and wrote nothing: access was lost, or another `complete` won.
        discardObject(services, storageKey);
        // Completed by another `complete`, or abandoned meanwhile: its own code.
        const now = await findUpload(db, upload.id, userId);
        const ended = now && endedFailure(now);
        if (ended) throw ended;
        // Demoted (403) or removed (404) meanwhile.
        await requireVersionRole(db, upload.documentId, userId);
        throw documentNotFound();
      }
      sealInBackground(services, stagingKey);
      return { version, documentId };
    }
    const document = await createDocument(db, {
      id: documentId,
      title: input.title ?? fileName, // at most 255 characters (cleanFileName): it fits the title
      description: input.description ?? null,
      tags: input.tags,
      file,
      actor: input.actor,
      quotaBytes: quota,
      uploadId: upload.id,
    });
    sealInBackground(services, stagingKey);
    return { document };
  } catch (error) {
    // The quota refused the statement, which wrote nothing: the copy, the staged object and
    // the upload go, as for any upload that cannot be stored.
    if (error instanceof Failure && error.code === "quota_exceeded") {
      // Or the upload ended meanwhile (DELETE, a concurrent `complete`): the statement wrote nothing.
      const now = await findUpload(db, upload.id, userId);
      const ended = now && endedFailure(now);
      if (ended) {
        discardObject(services, storageKey);
        throw ended;
      }
      return reject(error.code, error.detail);
    }
    if (error instanceof Failure) {
      // Every other refusal is also a statement that wrote nothing (the account closed meanwhile,
      // whose check the statement waited for): the copy goes now, not at the sweeper's next pass.
      discardObject(services, storageKey);
      throw error;
    }
    if (error instanceof DependencyError) throw error;
    discardAfterFailedWrite(services, storageKey, error);
    // A concurrent `complete` of the same upload got there first: its document id is taken.
    if (isUniqueViolation(error)) throw alreadyCompleted();
    throw error;
  }
}

export type UploadStatus = "pending" | "completed" | "aborted" | "expired";

export type UploadView = {
  upload: UploadRecord;
  status: UploadStatus;
};

/** What became of the caller's upload. A pending upload past its deadline is expired. */
export async function uploadStatus(db: Database, uploadId: string, userId: string): Promise<UploadView> {
  const upload = await findUpload(db, uploadId, userId);
  if (!upload) throw new Failure("upload_not_found", "No such upload.");
  return { upload, status: statusOf(upload) };
}

function statusOf(upload: UploadRecord): UploadStatus {
  switch (upload.status) {
    case "COMPLETED":
      return "completed";
    case "ABORTED":
      return "aborted";
    case "EXPIRED":
      return "expired";
    default:
      return upload.expiresAt.getTime() < Date.now() ? "expired" : "pending";
  }
}

/**
 * Abandons the caller's upload: marks it aborted (expired if past its deadline; unless it
 * already ended), then aborts its S3
 * multipart upload (its parts go) and seals its staging key (the bytes go; a replayed PUT stores
 * nothing). Idempotent: an upload that
 * already ended is cleaned again and keeps its status. A completed upload is a 409.
 */
export async function abortUpload(
  { db, storage }: Pick<DirectUploadServices, "db" | "storage">,
  uploadId: string,
  userId: string,
): Promise<void> {
  let upload = await findUpload(db, uploadId, userId);
  if (!upload) throw new Failure("upload_not_found", "No such upload.");
  // One past its deadline stays expired: that is what GET already reported.
  const ending = upload.expiresAt.getTime() < Date.now() ? "EXPIRED" : "ABORTED";
  if (upload.status === "PENDING" && (await endPendingUploads(db, [upload.id], ending)).length === 0) {
    // Completed (or ended) since it was read.
    upload = (await findUpload(db, uploadId, userId)) ?? upload;
  }
  if (upload.status === "COMPLETED") throw alreadyCompleted();
  // The record is ended first, so a `complete` starting now is refused; storage follows. Should
  // it fail, the scheduled job removes what is left (objects and multipart uploads no pending
  // upload refers to).
  if (upload.multipartUploadId) await storage.abortMultipart(upload.storageKey, upload.multipartUploadId);
  // Sealed, not deleted: the URL may be replayed until it expires (discard.ts, sealStagingKey).
  // Uploads started before staging keys existed PUT to a version's key, which is only deleted.
  if (isStagingKey(upload.storageKey)) await sealStagingKey(storage, upload.storageKey);
  else await storage.delete(upload.storageKey);
}
