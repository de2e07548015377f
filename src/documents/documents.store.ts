// Documents: read, create, update, delete. Every function is one round trip, and every change
// writes its activity row in the same statement, so a change without its record (or the
// reverse) cannot exist. Access is resolved in the same statement too (accessCte). Expected
// failures are thrown as Failure (src/lib/failure.ts); results are return values.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { reusedStatement } from "../db/reused-statement";
import { Failure } from "../lib/failure";
import type { Actor } from "./actor";
import { chargeQuotaCte, refusedByQuota } from "./quota";
import { atLeast, type Role, roleAtLeast, roleLiteral } from "./roles";
import {
  accessCte,
  activity,
  callerOpen,
  completeUploadCte,
  contentStatus,
  type DocumentRow,
  documentColumns,
  iso,
  type RevisedDocument,
  searchVector,
  textArray,
  toDocumentView,
} from "./sql";

export const documentNotFound = () => new Failure("document_not_found", "No such document.");

const selectDocument = reusedStatement(
  ["id", "userId"],
  ({ id, userId }) => sql`
    with ${accessCte(id, userId)}
    select ${documentColumns}, a.role
    from access a
    join documents d on d.id = a.id
    join document_versions v on v.document_id = d.id and v.version_number = d.current_version`,
);

export async function getDocument(db: Database, id: string, userId: string): Promise<RevisedDocument> {
  const result = await selectDocument<DocumentRow>(db, { id, userId });
  const row = result.rows[0];
  if (!row) throw documentNotFound();
  return toDocumentView(row);
}

const selectRole = reusedStatement(
  ["id", "userId"],
  ({ id, userId }) => sql`
    with ${accessCte(id, userId)}
    select a.role, u.storage_used_bytes as owner_used_bytes
    from access a join documents d on d.id = a.id join users u on u.id = d.owner_id`,
);

/**
 * The caller's role on a document, without loading it, when it is at least `needed`: a check
 * before work that must not start without access (reading an upload's bytes, signing its URL).
 * `detail` says what needs the role. Also the bytes the document's owner has stored, read in the
 * same round trip, for the quota's early check (a version counts against the owner's quota).
 */
export async function requireRole(
  db: Database,
  id: string,
  userId: string,
  needed: Role,
  detail: string,
): Promise<{ role: Role; ownerUsedBytes: number }> {
  const result = await selectRole<{ role: Role; owner_used_bytes: string | number }>(db, { id, userId });
  const row = result.rows[0];
  if (!row?.role) throw documentNotFound();
  if (!atLeast(row.role, needed)) throw new Failure("role_too_low", detail);
  return { role: row.role, ownerUsedBytes: Number(row.owner_used_bytes) };
}

export type NewFile = {
  versionId: string;
  storageKey: string;
  fileName: string;
  contentType: string;
  sizeBytes: number;
  sha256: string;
};

/**
 * The owner a new document charges; for a direct upload's document, only while the upload is
 * pending, read under its row lock: an upload abandoned (DELETE) or completed meanwhile gives no
 * owner, so nothing is charged or inserted (the caller then reads the upload's status).
 */
const pendingUploadOwner = (userId: string, uploadId: string | undefined) =>
  uploadId
    ? sql`(select ${userId}::uuid from uploads where id = ${uploadId}::uuid and status = 'PENDING' for update)`
    : sql`${userId}::uuid`;

export async function createDocument(
  db: Database,
  input: {
    id: string;
    title: string;
    description: string | null;
    tags: string[];
    file: NewFile;
    actor: Actor;
    /** STORAGE_QUOTA_BYTES (0 = unlimited): the caller, the owner, must have room for the file. */
    quotaBytes: number;
    /** A direct upload this document completes (the document id, planned per upload, makes it happen once). */
    uploadId?: string;
  },
): Promise<RevisedDocument> {
  const { id, file, actor } = input;
  // Nothing is inserted unless the owner's counter took the file's bytes (chargeQuotaCte).
  const result = await db.execute<DocumentRow>(sql`
    with ${chargeQuotaCte(pendingUploadOwner(actor.userId, input.uploadId), file.sizeBytes, input.quotaBytes)},
    d as (
      insert into documents (id, owner_id, title, description, current_version, search_vector)
      select ${id}::uuid, ${actor.userId}::uuid, ${input.title}, ${input.description}, 1,
             ${searchVector(sql`${input.title}::text`, sql`${input.description}::text`, textArray(input.tags))}
      from charged
      where ${callerOpen(actor.userId)}
      returning *
    ),
    v as (
      insert into document_versions (id, document_id, version_number, storage_key, file_name, content_type, size_bytes, sha256, created_by)
      select ${file.versionId}::uuid, d.id, 1, ${file.storageKey}, ${file.fileName}, ${file.contentType},
             ${file.sizeBytes}, ${file.sha256}, ${actor.userId}::uuid
      from d
      returning *
    ),
    t as (insert into document_tags (document_id, tag) select ${id}::uuid, unnest(${textArray(input.tags)}) from d),
    a as (${activity(actor, "document.created", sql`${id}::uuid`, sql`jsonb_build_object('title', ${input.title}::text, 'version_number', 1, 'file_name', ${file.fileName}::text, 'size_bytes', ${file.sizeBytes}::bigint)`)} from d)
    ${completeUploadCte(input.uploadId, sql`exists (select 1 from d)`)}
    select d.id, d.title, d.description, d.owner_id, d.current_version, d.revision,
           ${textArray(input.tags)} as tags, v.file_name, v.content_type, v.size_bytes, v.sha256,
           ${iso(sql`d.created_at`)} as created_at, ${iso(sql`d.updated_at`)} as updated_at, ${roleLiteral("OWNER")} as role,
           'pending' as content_status
    from d, v`);
  const row = result.rows[0];
  // No row: the statement wrote nothing, because the quota refused the file or (a race with
  // DELETE /auth/me, whose row lock this statement waited for) the account was closed meanwhile.
  if (!row) {
    const open = await db.execute(sql`select 1 from users where id = ${actor.userId}::uuid and is_active`);
    if (open.rows.length === 0) throw new Failure("account_inactive", "The account no longer exists.");
    throw await refusedByQuota(db, actor.userId, input.quotaBytes, file.sizeBytes);
  }
  return toDocumentView(row);
}

const updateNeedsEdit = () => new Failure("role_too_low", "Updating this document needs the EDIT role.");
const staleEtag = () =>
  new Failure("etag_mismatch", "The document changed since the ETag in If-Match; fetch it again.");

/**
 * Changes the given fields (EDIT and above). `expectedRevisions` (from If-Match; null: any) must
 * include the current one, checked in the same statement, so a concurrent change is never lost.
 */
export async function updateDocument(
  db: Database,
  input: {
    id: string;
    actor: Actor;
    expectedRevisions: number[] | null;
    title?: string;
    description?: string | null;
    tags?: string[];
  },
): Promise<RevisedDocument> {
  const { id, actor } = input;
  const setTitle = input.title !== undefined;
  const setDescription = input.description !== undefined;
  const setTags = input.tags !== undefined;
  const newTags = input.tags ?? [];
  if (!setTitle && !setDescription && !setTags) {
    // Nothing to change (an empty body, or only fields the API ignores): the same checks, no
    // write. Bumping the revision would make other clients' If-Match fail, and a
    // document.updated with nothing in it would reach the changes feed and webhooks.
    const current = await getDocument(db, id, actor.userId);
    if (!atLeast(current.my_role, "EDIT")) throw updateNeedsEdit();
    if (input.expectedRevisions !== null && !input.expectedRevisions.includes(current.revision)) throw staleEtag();
    return current;
  }
  const expected = input.expectedRevisions === null ? null : sql.param(input.expectedRevisions);
  const result = await db.execute<
    DocumentRow & { access_role: Role | null; current_revision: number | null; updated: boolean }
  >(sql`
    with ${accessCte(id, actor.userId)},
    old as (select d.* from documents d join access a on a.id = d.id),
    -- What the body really changes: a field sent with its current value is no change (no new
    -- revision, which would fail other clients' If-Match, and no document.updated).
    changed as (
      select ${setTitle} and old.title is distinct from ${input.title ?? null}::text as title,
             ${setDescription} and old.description is distinct from ${input.description ?? null}::text as description,
             ${setTags} and array(select t.tag from document_tags t where t.document_id = old.id order by t.tag collate "C")
               is distinct from array(select n from unnest(${textArray(newTags)}) n order by n collate "C") as tags
      from old
    ),
    u as (
      update documents d set
        title = case when ${setTitle} then ${input.title ?? null}::text else d.title end,
        description = case when ${setDescription} then ${input.description ?? null}::text else d.description end,
        search_vector = ${searchVector(
          sql`case when ${setTitle} then ${input.title ?? null}::text else d.title end`,
          sql`case when ${setDescription} then ${input.description ?? null}::text else d.description end`,
          sql`case when ${setTags} then ${textArray(newTags)} else array(select tag from document_tags where document_id = d.id) end`,
        )},
        revision = d.revision + 1,
        updated_at = now()
      from access a, changed c
      where d.id = a.id and ${roleAtLeast(sql`a.role`, "EDIT")}
        and (${expected}::int[] is null or d.revision = any(${expected}::int[]))
        and (c.title or c.description or c.tags)
      returning d.*
    ),
    -- The document as it is when the body changes nothing, under the same checks as the update.
    kept as (
      select old.* from old, access a, changed c
      where ${roleAtLeast(sql`a.role`, "EDIT")}
        and (${expected}::int[] is null or old.revision = any(${expected}::int[]))
        and not (c.title or c.description or c.tags)
    ),
    r as (select * from u union all select * from kept),
    removed as (
      delete from document_tags t using u
      where ${setTags} and t.document_id = u.id and t.tag <> all(${textArray(newTags)})
    ),
    added as (
      insert into document_tags (document_id, tag)
      select u.id, unnest(${textArray(newTags)}) from u where ${setTags}
      on conflict do nothing
    ),
    a as (${activity(
      actor,
      "document.updated",
      sql`(select id from u)`,
      sql`(select jsonb_strip_nulls(jsonb_build_object(
        'title', case when c.title then jsonb_build_object('from', old.title, 'to', ${input.title ?? null}::text) end,
        'description', case when c.description then jsonb_build_object('changed', true) end,
        'tags', case when c.tags then jsonb_build_object('to', to_jsonb(${textArray(newTags)})) end)) from old, changed c)`,
    )}
      where exists (select 1 from u))
    select (select role from access) as access_role, (select revision from old) as current_revision,
           r.id, r.title, r.description, r.owner_id, r.current_version, r.revision,
           case when ${setTags} then ${textArray(newTags)}
                else array(select t.tag from document_tags t where t.document_id = r.id order by t.tag collate "C") end as tags,
           v.file_name, v.content_type, v.size_bytes, v.sha256,
           ${iso(sql`r.created_at`)} as created_at, ${iso(sql`r.updated_at`)} as updated_at,
           (select role from access) as role, ${contentStatus(sql`r`)} as content_status
    from (select 1) one
    left join r on true
    left join document_versions v on v.document_id = r.id and v.version_number = r.current_version`);
  const row = result.rows[0];
  if (!row?.access_role) throw documentNotFound();
  if (!row.id) {
    if (!atLeast(row.access_role, "EDIT")) throw updateNeedsEdit();
    throw staleEtag();
  }
  return toDocumentView(row);
}

/** Soft-deletes a document (owner and ADMIN). */
export async function deleteDocument(db: Database, id: string, actor: Actor): Promise<void> {
  const result = await db.execute<{ access_role: Role | null; deleted: string | null }>(sql`
    with ${accessCte(id, actor.userId)},
    u as (
      update documents d set deleted_at = now(), deleted_by = ${actor.userId}::uuid, revision = d.revision + 1
      from access a where d.id = a.id and ${roleAtLeast(sql`a.role`, "ADMIN")}
      returning d.id, d.title
    ),
    a as (${activity(actor, "document.deleted", sql`u.id`, sql`jsonb_build_object('title', u.title)`)} from u)
    select (select role from access) as access_role, (select id from u) as deleted`);
  const row = result.rows[0];
  if (!row?.access_role) throw documentNotFound();
  if (!row.deleted) throw new Failure("role_too_low", "Deleting this document needs the owner or the ADMIN role.");
}
