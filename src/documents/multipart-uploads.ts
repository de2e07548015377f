// Resumable direct uploads: the file goes to the upload's staging key as an S3 multipart upload,
// part by part, each part with a presigned URL of its own (any order, any number of retries).
// `complete` checks the client's list of parts against what storage holds (ListParts), has
// storage assemble them (CompleteMultipartUpload), and then the assembled object goes through
// exactly the checks of a single PUT (direct-uploads.ts).
import type { Config } from "../config";
import type { Database } from "../db/client";
import { Failure, type FieldError } from "../lib/failure";
import type { ObjectStorage } from "../storage/object-storage";
import { requireRole } from "./documents.store";
import { findUpload, recordMultipartUploadId, type UploadRecord } from "./uploads.store";

const MiB = 1024 * 1024;
/** S3's (and R2's) smallest part but the last. */
export const MIN_PART_SIZE = 5 * MiB;
/** S3's (and R2's) largest number of parts in one upload. */
export const MAX_PARTS = 10_000;
/** Part URLs signed per call at most. */
export const MAX_PARTS_PER_CALL = 100;

/**
 * The smallest whole number of MiB, at least 5 MiB, that splits `sizeBytes` into at most 10,000
 * parts: small parts make a lost connection cheap to resume, and 10,000 is S3's limit.
 */
export function choosePartSize(sizeBytes: number): number {
  return Math.max(MIN_PART_SIZE, Math.ceil(sizeBytes / MAX_PARTS / MiB) * MiB);
}

export const partsCountFor = (sizeBytes: number, partSize: number) => Math.max(1, Math.ceil(sizeBytes / partSize));

type MultipartRecord = UploadRecord & { partSize: number; partsCount: number };

const isMultipart = (upload: UploadRecord): upload is MultipartRecord =>
  upload.partSize !== null && upload.partsCount !== null;

/** Every part has `partSize` bytes but the last, which has the rest. */
export function partLength(upload: MultipartRecord, partNumber: number): number {
  return partNumber < upload.partsCount
    ? upload.partSize
    : upload.sizeBytes - upload.partSize * (upload.partsCount - 1);
}

const notMultipart = () =>
  new Failure("upload_not_multipart", "This upload takes one PUT to its URL; complete it without `parts`.");

/**
 * The state checks every operation on an upload makes: the caller's own (404 otherwise), still
 * pending, and before its deadline.
 */
export async function pendingUpload(db: Database, id: string, userId: string): Promise<UploadRecord> {
  const upload = await findUpload(db, id, userId);
  if (!upload) throw new Failure("upload_not_found", "No such upload.");
  return requirePending(upload);
}

export function requirePending(upload: UploadRecord): UploadRecord {
  const ended = endedFailure(upload);
  if (ended) throw ended;
  if (upload.expiresAt.getTime() < Date.now()) {
    throw new Failure("upload_expired", "This upload has expired; start a new one.");
  }
  return upload;
}

/** Why an upload that is no longer pending cannot be used; null while it is pending. */
export function endedFailure(upload: UploadRecord): Failure | null {
  switch (upload.status) {
    case "COMPLETED":
      return new Failure("upload_already_completed", "This upload was already completed.");
    case "ABORTED":
      return new Failure("upload_aborted", "This upload was abandoned or refused; start a new one.");
    case "EXPIRED":
      return new Failure("upload_expired", "This upload has expired; start a new one.");
    default:
      return null;
  }
}

/**
 * Starts the S3 multipart upload of an upload already recorded (the record comes first, so the
 * scheduled job never takes the multipart upload for an abandoned one) and records its id.
 */
export async function openMultipart(
  db: Database,
  storage: ObjectStorage,
  upload: { id: string; storageKey: string; contentType: string },
): Promise<void> {
  const multipartUploadId = await storage.createMultipart(upload.storageKey, { contentType: upload.contentType });
  try {
    await recordMultipartUploadId(db, upload.id, multipartUploadId);
  } catch (error) {
    await storage.abortMultipart(upload.storageKey, multipartUploadId).catch(() => {});
    throw error;
  }
}

export type PartTicket = { partNumber: number; url: string; headers: Record<string, string>; expiresAt: Date };

/** Every number in 1..partsCount, once; the first failure is the answer. */
function checkPartNumbers(upload: MultipartRecord, numbers: readonly number[], path: (i: number) => string): void {
  const outOfRange: FieldError[] = [];
  const duplicates: FieldError[] = [];
  const seen = new Set<number>();
  numbers.forEach((n, i) => {
    if (n < 1 || n > upload.partsCount) {
      outOfRange.push({ path: path(i), message: `must be between 1 and ${upload.partsCount}` });
    } else if (seen.has(n)) {
      duplicates.push({ path: path(i), message: `part ${n} is listed more than once` });
    }
    seen.add(n);
  });
  if (outOfRange.length > 0) {
    throw new Failure("part_number_out_of_range", `This upload has parts 1 to ${upload.partsCount}.`, {
      errors: outOfRange,
    });
  }
  if (duplicates.length > 0) {
    throw new Failure("duplicate_part_number", "Each part number may be listed once.", { errors: duplicates });
  }
}

/**
 * Presigned URLs for these parts. Each signs the part's exact Content-Length (so S3 and R2 refuse
 * a part of another size), names the S3 multipart upload and the part number, and expires after
 * UPLOAD_URL_TTL_SECONDS or at the upload's deadline, whichever comes first.
 */
export async function signParts(
  { config, db, storage }: { config: Config; db: Database; storage: ObjectStorage },
  userId: string,
  uploadId: string,
  partNumbers: readonly number[],
): Promise<PartTicket[]> {
  const upload = await pendingUpload(db, uploadId, userId);
  if (!isMultipart(upload)) throw notMultipart();
  checkPartNumbers(upload, partNumbers, (i) => `body.part_numbers.${i}`);
  // A version needs EDIT for each batch of URLs as much as at the start and at `complete`: a
  // holder revoked or demoted meanwhile must not go on storing bytes for the document.
  if (upload.documentId) {
    await requireRole(db, upload.documentId, userId, "EDIT", "Uploading a version needs the EDIT role.");
  }
  const multipartUploadId = upload.multipartUploadId;
  if (!multipartUploadId) throw new Failure("upload_changed", "The upload is still being set up; try again.");
  const now = Date.now();
  const ttl = Math.min(config.UPLOAD_URL_TTL_SECONDS, Math.floor((upload.expiresAt.getTime() - now) / 1000));
  if (ttl < 1) throw new Failure("upload_expired", "This upload has expired; start a new one.");
  const expiresAt = new Date(now + ttl * 1000);
  return Promise.all(
    partNumbers.map(async (partNumber) => ({
      partNumber,
      url: await storage.presign("PUT", upload.storageKey, {
        expiresInSeconds: ttl,
        query: { partNumber: String(partNumber), uploadId: multipartUploadId },
        headers: { "content-length": String(partLength(upload, partNumber)) },
        signedAt: new Date(now),
      }),
      // Content-Length is signed too, but every HTTP client sets it from the body.
      headers: {},
      expiresAt,
    })),
  );
}

/** ETags compare without their quotes (S3 quotes them; clients may strip them). */
const bareEtag = (etag: string) => etag.trim().replace(/^W\//, "").replace(/^"|"$/g, "");

/**
 * Checks the client's list of parts against storage and has storage assemble them into the
 * staging object. Bad input changes nothing: the upload stays pending and resumable. Answers
 * once the staging object exists, also when a concurrent `complete` assembled it.
 */
export async function assembleParts(
  { db, storage }: { db: Database; storage: ObjectStorage },
  upload: UploadRecord,
  parts: readonly { partNumber: number; etag: string }[] | undefined,
): Promise<void> {
  if (!isMultipart(upload)) {
    if (parts !== undefined) throw notMultipart();
    return;
  }
  if (!parts || parts.length === 0) {
    const detail = "Complete a multipart upload with `parts`: each part's number and ETag.";
    throw new Failure("parts_required", detail, { errors: [{ path: "body.parts", message: detail }] });
  }
  checkPartNumbers(
    upload,
    parts.map((p) => p.partNumber),
    (i) => `body.parts.${i}.part_number`,
  );
  const listed = new Set(parts.map((p) => p.partNumber));
  const missing: FieldError[] = [];
  for (let n = 1; n <= upload.partsCount && missing.length < 100; n++) {
    if (!listed.has(n)) missing.push({ path: "body.parts", message: `part ${n} is missing` });
  }
  if (missing.length > 0) {
    throw new Failure("parts_missing", `List every part from 1 to ${upload.partsCount}.`, { errors: missing });
  }

  const key = upload.storageKey;
  const stored = upload.multipartUploadId ? await storage.listParts(key, upload.multipartUploadId) : [];
  // The multipart upload is gone: a concurrent `complete` assembled it (or finished).
  if (stored === null) return assembledMeanwhile(db, storage, upload);
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  const problems = { notUploaded: [] as FieldError[], size: [] as FieldError[], etag: [] as FieldError[] };
  for (const part of sorted) {
    const path = `body.parts.${parts.indexOf(part)}.etag`;
    const found = byNumber.get(part.partNumber);
    const expected = partLength(upload, part.partNumber);
    if (!found) problems.notUploaded.push({ path, message: `part ${part.partNumber} was not uploaded` });
    else if (found.size !== expected) {
      problems.size.push({ path, message: `part ${part.partNumber} has ${found.size} bytes, not ${expected}` });
    } else if (bareEtag(found.etag) !== bareEtag(part.etag)) {
      problems.etag.push({ path, message: `part ${part.partNumber}'s stored ETag is another one` });
    }
  }
  if (problems.notUploaded.length > 0) {
    throw new Failure("part_not_uploaded", "Some listed parts were not uploaded yet.", {
      errors: problems.notUploaded,
    });
  }
  if (problems.size.length > 0) {
    throw new Failure("part_size_mismatch", "Some stored parts have the wrong size; send them again.", {
      errors: problems.size,
    });
  }
  if (problems.etag.length > 0) {
    throw new Failure("part_etag_mismatch", "Some ETags are not those of the stored parts.", {
      errors: problems.etag,
    });
  }
  const multipartUploadId = upload.multipartUploadId as string;
  try {
    await storage.completeMultipart(
      key,
      multipartUploadId,
      sorted.map((p) => ({ partNumber: p.partNumber, etag: byNumber.get(p.partNumber)?.etag ?? p.etag })),
    );
  } catch (error) {
    // A part re-sent since the listing changes its ETag (S3: InvalidPart): the list is stale,
    // and the upload stays as it is. A concurrent `complete` may be assembling the same upload
    // (stores differ in what the second CompleteMultipartUpload answers meanwhile): once it is
    // done the multipart upload is gone, so look again for a moment before calling it a failure.
    for (let look = 0; look < COMPLETE_RACE_LOOKS; look++) {
      const now = await storage.listParts(key, multipartUploadId);
      if (now === null) return assembledMeanwhile(db, storage, upload);
      if (now.some((p) => bareEtag(p.etag) !== bareEtag(byNumber.get(p.partNumber)?.etag ?? p.etag))) {
        const detail = "A part was sent again while the upload was being completed.";
        throw new Failure("part_etag_mismatch", detail, { errors: [{ path: "body.parts", message: detail }] });
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw error;
  }
}

/** How often (every 250 ms) a failed CompleteMultipartUpload checks whether a concurrent one won. */
const COMPLETE_RACE_LOOKS = 8;

/** The multipart upload is gone: a concurrent `complete` won, or the upload was abandoned meanwhile. */
async function assembledMeanwhile(db: Database, storage: ObjectStorage, upload: UploadRecord): Promise<void> {
  const now = await findUpload(db, upload.id, upload.userId);
  const ended = now && endedFailure(now);
  if (ended) throw ended;
  if (!(await storage.head(upload.storageKey))) {
    throw new Failure("upload_changed", "The upload's parts are gone; start a new upload.");
  }
}
