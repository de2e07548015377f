// Direct uploads: the record of a presigned PUT until `complete` turns its object into a
// document or a version. The PUT goes to a staging key (the row's storage_key), never to a
// version's key: a presigned URL can be replayed until it expires, so `complete` copies the
// checked bytes to a key of its own that no URL names.
import { and, eq, inArray, sql } from "drizzle-orm";
import { isTrue } from "../db/booleans";
import type { Database } from "../db/client";
import { documents, uploads, users } from "../db/schema";
import { callerOpen } from "./sql";

export type UploadRecord = typeof uploads.$inferSelect;

/** Where the client PUTs the bytes of an upload: a key under STAGING_PREFIX. */
export const STAGING_PREFIX = "uploads/";
export const stagingKeyFor = (uploadId: string) => `${STAGING_PREFIX}${uploadId}`;
/** Uploads started before staging keys existed PUT to their version's own key (`documents/…`). */
export const isStagingKey = (key: string) => key.startsWith(STAGING_PREFIX);

/** Records a pending upload of an open account (a closed one: 401 account_inactive, nothing written). */
export async function createUpload(
  db: Database,
  input: Omit<typeof uploads.$inferInsert, "status" | "createdAt" | "completedAt"> & { id: string; expiresAt: Date },
): Promise<void> {
  await db.execute(sql`
    insert into ${uploads} (id, user_id, document_id, storage_key, file_name, content_type, size_bytes, sha256,
                            expires_at, part_size, parts_count, multipart_upload_id)
    select ${input.id}::uuid, ${input.userId}::uuid, ${input.documentId ?? null}::uuid, ${input.storageKey},
           ${input.fileName}, ${input.contentType}, ${input.sizeBytes}::bigint, ${input.sha256 ?? null},
           ${input.expiresAt.toISOString()}::timestamptz, ${input.partSize ?? null}::integer,
           ${input.partsCount ?? null}::integer, ${input.multipartUploadId ?? null}
    where ${callerOpen(input.userId)}`);
}

/** The caller's own upload; another user's is as absent as an unknown one. */
export async function findUpload(db: Database, id: string, userId: string): Promise<UploadRecord | null> {
  const [row] = await db
    .select()
    .from(uploads)
    .where(and(eq(uploads.id, id), eq(uploads.userId, userId), callerOpen(userId)));
  return row ?? null;
}

/**
 * The caller's own upload (as findUpload) with the bytes its future owner has stored: the
 * document's owner for a version, the caller for a new document. One round trip, for the
 * quota's check before `complete` copies any byte.
 */
export async function findUploadWithOwnerUsage(
  db: Database,
  id: string,
  userId: string,
): Promise<{ upload: UploadRecord; ownerUsedBytes: number } | null> {
  const [row] = await db
    .select({
      upload: uploads,
      ownerUsedBytes: sql<string | number>`(select ${users.storageUsedBytes} from ${users} where ${users.id} =
        coalesce((select ${documents.ownerId} from ${documents} where ${documents.id} = ${uploads.documentId}), ${uploads.userId}))`,
    })
    .from(uploads)
    .where(and(eq(uploads.id, id), eq(uploads.userId, userId), callerOpen(userId)));
  return row ? { upload: row.upload, ownerUsedBytes: Number(row.ownerUsedBytes ?? 0) } : null;
}

export async function deleteUpload(db: Database, id: string): Promise<void> {
  await db.delete(uploads).where(eq(uploads.id, id));
}

/** Pending uploads whose URL expired more than `graceSeconds` ago. */
export async function expiredUploads(db: Database, graceSeconds: number, limit: number): Promise<UploadRecord[]> {
  return db
    .select()
    .from(uploads)
    .where(sql`${uploads.status} = 'PENDING' and ${uploads.expiresAt} < now() - make_interval(secs => ${graceSeconds})`)
    .limit(limit);
}

/**
 * Ends these pending uploads as ABORTED (abandoned, or refused at `complete`) or EXPIRED (swept
 * past their deadline); one completed or ended meanwhile is left as it is (runs and requests
 * may overlap). The rows stay, so that GET /uploads/{id} can tell what became of them, until
 * purgeEndedUploads removes them. Answers the ids it ended.
 */
export async function endPendingUploads(db: Database, ids: string[], status: "ABORTED" | "EXPIRED"): Promise<string[]> {
  if (ids.length === 0) return [];
  const ended = await db
    .update(uploads)
    .set({ status })
    .where(and(inArray(uploads.id, ids), eq(uploads.status, "PENDING")))
    .returning({ id: uploads.id });
  return ended.map((row) => row.id);
}

/** Records the S3 multipart upload that holds a resumable upload's parts. */
export async function recordMultipartUploadId(db: Database, id: string, multipartUploadId: string): Promise<void> {
  await db.update(uploads).set({ multipartUploadId }).where(eq(uploads.id, id));
}

/**
 * Removes up to `limit` rows of uploads that ended without becoming a document (ABORTED,
 * EXPIRED) once their deadline is `retentionSeconds` old; their bytes went when they ended.
 * Completed rows are kept, as before: they are what makes a second `complete` a 409.
 */
export async function purgeEndedUploads(db: Database, retentionSeconds: number, limit: number): Promise<number> {
  const result = await db.execute<{ id: string }>(sql`
    delete from uploads where id in (
      select id from uploads
      where status in ('ABORTED', 'EXPIRED') and expires_at < now() - make_interval(secs => ${retentionSeconds})
      limit ${limit})
    returning id`);
  return result.rows.length;
}

export type KeyUses = {
  /** Keys a version or a pending upload refers to. */
  referenced: Set<string>;
  /**
   * Staging keys of ended uploads whose deadline (for a single PUT, its URL's expiry) has not
   * passed: a presigned PUT may still be replayed there, so they hold the empty marker that makes
   * it fail (discard.ts, sealStagingKey) rather than nothing. Past the deadline nothing can write
   * the key again, and whatever is there is an orphan.
   */
  sealed: Set<string>;
};

/** What refers to each of these keys, in one statement (a key referenced is never `sealed`). */
export async function keyUses(db: Database, keys: string[]): Promise<KeyUses> {
  const uses: KeyUses = { referenced: new Set(), sealed: new Set() };
  if (keys.length === 0) return uses;
  const result = await db.execute<{ storage_key: string; sealed: unknown }>(sql`
    select storage_key, false as sealed from document_versions where storage_key = any(${sql.param(keys)}::text[])
    union all
    select storage_key, status <> 'PENDING' as sealed from uploads
    where (status = 'PENDING' or (expires_at > now() and storage_key like ${`${STAGING_PREFIX}%`}))
      and storage_key = any(${sql.param(keys)}::text[])`);
  for (const row of result.rows) (isTrue(row.sealed) ? uses.sealed : uses.referenced).add(row.storage_key);
  for (const key of uses.referenced) uses.sealed.delete(key);
  return uses;
}
