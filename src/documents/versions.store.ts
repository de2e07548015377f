// A document's versions: list, add, download. Same rules as documents.store.ts: one round trip,
// access resolved in the statement (accessCte), activity written with the change, expected
// failures thrown as Failure.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { Failure } from "../lib/failure";
import { offsetOf, type Page, type PageRequest } from "../lib/page-request";
import type { Actor } from "./actor";
import { documentNotFound, type NewFile } from "./documents.store";
import { chargeQuotaCte, refusedByQuota } from "./quota";
import { atLeast, type Role, roleAtLeast } from "./roles";
import { accessCte, activity, completeUploadCte, iso, pendingUploadJoin } from "./sql";

export type VersionView = {
  version_number: number;
  file_name: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  comment: string | null;
  created_by: string;
  created_at: string;
};

/** A new version, with the document's revision after it (its ETag). */
export type AddedVersion = VersionView & { revision: number };

const versionColumns = sql`
  v.version_number, v.file_name, v.content_type, v.size_bytes, v.sha256, v.comment, v.created_by,
  ${iso(sql`v.created_at`)} as created_at`;

type VersionRow = Omit<VersionView, "size_bytes"> & { size_bytes: string | number };
const toVersion = (row: VersionRow): VersionView => ({
  version_number: Number(row.version_number),
  file_name: row.file_name,
  content_type: row.content_type,
  size_bytes: Number(row.size_bytes),
  sha256: row.sha256,
  comment: row.comment,
  created_by: row.created_by,
  created_at: row.created_at,
});

/** All versions, newest first. */
/** One page of the versions, newest first, with how many there are. */
export async function listVersions(
  db: Database,
  id: string,
  userId: string,
  page: PageRequest,
): Promise<Page<VersionView>> {
  const result = await db.execute<VersionRow & { has_access: boolean; total: string | number }>(sql`
    with ${accessCte(id, userId)},
    v as (
      select * from document_versions where document_id = (select id from access)
      order by version_number desc limit ${page.limit} offset ${offsetOf(page)}
    )
    select exists (select 1 from access) as has_access,
           (select count(*) from document_versions where document_id = (select id from access)) as total,
           ${versionColumns}
    from (select 1) one
    left join v on true
    order by v.version_number desc nulls last`);
  const first = result.rows[0];
  if (!first?.has_access) throw documentNotFound();
  return { items: result.rows.filter((r) => r.version_number !== null).map(toVersion), total: Number(first.total) };
}

type NewVersion = {
  id: string;
  file: NewFile;
  comment: string | null;
  actor: Actor;
  /** STORAGE_QUOTA_BYTES (0 = unlimited): the document's owner must have room for the file. */
  quotaBytes: number;
};

/**
 * The statement adding the next version (EDIT and above). The document's row lock orders
 * concurrent uploads, so numbers are contiguous and unique (the unique index is the backstop):
 * a waiting statement re-reads the locked row, hence the current version the winner left and
 * whether it was deleted meanwhile (so `deleted_at` is tested on the locked row, not only in
 * accessCte's snapshot). The bytes count against the document owner's quota, whoever uploads
 * them (chargeQuotaCte; lock order: the document, then the owner's row). No version in the
 * result: nothing was written; `quota_refused` says the quota was why.
 */
async function insertVersion(db: Database, input: NewVersion & { uploadId?: string }) {
  const { id, file, actor } = input;
  const result = await db.execute<
    VersionRow & {
      revision: number | null;
      access_role: Role | null;
      version_number: number | null;
      owner_id: string | null;
      quota_refused: boolean;
    }
  >(sql`
    with ${accessCte(id, actor.userId)},
    locked as (
      select d.id, d.current_version, d.owner_id from documents d
      join access a on a.id = d.id
      ${pendingUploadJoin(input.uploadId)}
      where d.deleted_at is null and ${roleAtLeast(sql`a.role`, "EDIT")}
      for update of d${input.uploadId ? sql`, u` : sql``}
    ),
    ${chargeQuotaCte(sql`(select owner_id from locked)`, file.sizeBytes, input.quotaBytes)},
    v as (
      insert into document_versions (id, document_id, version_number, storage_key, file_name, content_type, size_bytes, sha256, comment, created_by)
      select ${file.versionId}::uuid, locked.id, locked.current_version + 1, ${file.storageKey}, ${file.fileName},
             ${file.contentType}, ${file.sizeBytes}, ${file.sha256}, ${input.comment}, ${actor.userId}::uuid
      from locked, charged
      returning *
    ),
    u as (
      update documents d set current_version = v.version_number, revision = d.revision + 1, updated_at = now()
      from v where d.id = v.document_id
      returning d.revision
    ),
    a as (${activity(actor, "version.created", sql`v.document_id`, sql`jsonb_build_object('version_number', v.version_number, 'file_name', v.file_name, 'size_bytes', v.size_bytes)`)} from v)
    ${completeUploadCte(input.uploadId, sql`exists (select 1 from v)`)}
    select (select role from access) as access_role, ${versionColumns}, (select revision from u) as revision,
           (select owner_id from locked) as owner_id,
           exists (select 1 from locked) and not exists (select 1 from charged) as quota_refused
    from (select 1) one left join v on true`);
  const row = result.rows[0];
  const version: AddedVersion | null =
    row?.version_number == null ? null : { ...toVersion(row), revision: Number(row.revision) };
  if (!version && row?.quota_refused && row.owner_id) {
    throw await refusedByQuota(db, row.owner_id, input.quotaBytes, file.sizeBytes);
  }
  return { accessRole: row?.access_role ?? null, version };
}

/** Adds the next version of a document the caller may edit (`quota_exceeded`: nothing was written). */
export async function addVersion(db: Database, input: NewVersion): Promise<AddedVersion> {
  const { accessRole, version } = await insertVersion(db, input);
  if (version) return version;
  if (accessRole && !atLeast(accessRole, "EDIT")) {
    throw new Failure("role_too_low", "Uploading a version needs the EDIT role.");
  }
  // No access, or the document was deleted while this statement waited for its lock.
  throw documentNotFound();
}

/**
 * Adds the version a direct upload completes, once: null when nothing was written, because the
 * caller's access went or because the upload is no longer pending (another `complete` won). The
 * statement cannot tell those apart (the winner committed after its snapshot), so the caller
 * reads the upload again. Throws `quota_exceeded` (nothing written) when the owner's quota
 * refused the bytes.
 */
export async function addVersionForUpload(
  db: Database,
  input: NewVersion & { uploadId: string },
): Promise<AddedVersion | null> {
  return (await insertVersion(db, input)).version;
}

/**
 * The version to download (current when `versionNumber` is null), recording the download unless
 * `record` is false (a HEAD: it asks what a GET would answer and downloads nothing).
 */
export async function versionForDownload(
  db: Database,
  input: { id: string; versionNumber: number | null; actor: Actor; record?: boolean },
): Promise<VersionView & { storage_key: string }> {
  const { id, actor } = input;
  const result = await db.execute<VersionRow & { storage_key: string | null; has_access: boolean }>(sql`
    with ${accessCte(id, actor.userId)},
    v as (
      select v.* from document_versions v
      join documents d on d.id = v.document_id
      where d.id = (select id from access)
        and v.version_number = coalesce(${input.versionNumber}::int, d.current_version)
    )${
      input.record === false
        ? sql``
        : sql`,
    a as (${activity(actor, "document.downloaded", sql`v.document_id`, sql`jsonb_build_object('version_number', v.version_number)`)} from v)`
    }
    select exists (select 1 from access) as has_access, v.storage_key, ${versionColumns}
    from (select 1) one left join v on true`);
  const row = result.rows[0];
  if (!row?.has_access) throw documentNotFound();
  if (!row.storage_key) throw new Failure("version_not_found", `Version ${input.versionNumber} does not exist.`);
  return { ...toVersion(row), storage_key: row.storage_key };
}
