// Direct uploads: the record of a presigned PUT until `complete` turns its object into a
// document or a version.
import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { uploads } from "../db/schema";

export type UploadRecord = typeof uploads.$inferSelect;

export async function createUpload(
  db: Database,
  input: Omit<typeof uploads.$inferInsert, "status" | "createdAt" | "completedAt">,
): Promise<UploadRecord> {
  const [row] = await db.insert(uploads).values(input).returning();
  return row as UploadRecord;
}

/** The caller's own upload; another user's is as absent as an unknown one. */
export async function findUpload(db: Database, id: string, userId: string): Promise<UploadRecord | null> {
  const [row] = await db
    .select()
    .from(uploads)
    .where(and(eq(uploads.id, id), eq(uploads.userId, userId)));
  return row ?? null;
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

/** Which of these keys a version or a pending upload still refers to. */
export async function referencedKeys(db: Database, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const result = await db.execute<{ storage_key: string }>(sql`
    select storage_key from document_versions where storage_key = any(${sql.param(keys)}::text[])
    union
    select storage_key from uploads where storage_key = any(${sql.param(keys)}::text[])`);
  return new Set(result.rows.map((r) => r.storage_key));
}
