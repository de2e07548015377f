// Database access for documents and versions. Every function is one round trip, and every
// change writes its activity row in the same statement, so a change without its record (or the
// reverse) cannot exist. Access is resolved in the same statement too: the caller's effective
// role is OWNER, or their permission's role, or nothing (the document then does not exist for them).
import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";

export type Role = "OWNER" | "ADMIN" | "EDIT" | "READ";
const RANK: Record<Role, number> = { READ: 1, EDIT: 2, ADMIN: 3, OWNER: 4 };
export const atLeast = (role: Role, needed: Role) => RANK[role] >= RANK[needed];

export type Actor = { userId: string; ipAddress: string | null; userAgent: string | null };

export type DocumentView = {
  id: string;
  title: string;
  description: string | null;
  tags: string[];
  owner_id: string;
  current_version: number;
  file_name: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  created_at: string;
  updated_at: string;
  my_role: Role;
};

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

/** RFC 3339 UTC with milliseconds, whatever the session's time zone. */
/** A JS array as one text[] parameter (Drizzle would otherwise expand it into a list). */
const textArray = (values: readonly string[]) => sql`${sql.param(values)}::text[]`;

export const iso = (column: SQL) => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The caller's role on document `id`, or no row: the one authorisation rule of the API. */
export const accessCte = (documentId: string, userId: string) => sql`
  access as (
    select d.id, case when d.owner_id = ${userId}::uuid then 'OWNER' else p.role::text end as role
    from documents d
    left join document_permissions p on p.document_id = d.id and p.user_id = ${userId}::uuid
    where d.id = ${documentId}::uuid and d.deleted_at is null
      and (d.owner_id = ${userId}::uuid or p.user_id is not null)
  )`;

const searchVector = (title: SQL, description: SQL, tags: SQL) => sql`
  setweight(to_tsvector('english', ${title}), 'A')
  || setweight(to_tsvector('english', array_to_string(${tags}, ' ')), 'B')
  || setweight(to_tsvector('english', coalesce(${description}, '')), 'C')`;

const documentColumns = sql`
  d.id, d.title, d.description, d.owner_id, d.current_version, d.revision,
  array(select t.tag from document_tags t where t.document_id = d.id order by t.tag collate "C") as tags,
  v.file_name, v.content_type, v.size_bytes, v.sha256,
  ${iso(sql`d.created_at`)} as created_at, ${iso(sql`d.updated_at`)} as updated_at`;

type DocumentRow = Omit<DocumentView, "size_bytes" | "my_role"> & {
  size_bytes: string | number;
  revision: number;
  role: Role;
};

const toView = (row: DocumentRow): DocumentView & { revision: number } => ({
  id: row.id,
  title: row.title,
  description: row.description,
  tags: row.tags,
  owner_id: row.owner_id,
  current_version: Number(row.current_version),
  file_name: row.file_name,
  content_type: row.content_type,
  size_bytes: Number(row.size_bytes),
  sha256: row.sha256,
  created_at: row.created_at,
  updated_at: row.updated_at,
  my_role: row.role,
  revision: Number(row.revision),
});

export const activity = (actor: Actor, action: string, documentId: SQL, details: SQL) => sql`
  insert into activity_logs (document_id, actor_id, action, details, ip_address, user_agent)
  select ${documentId}, ${actor.userId}::uuid, ${action}, ${details}, ${actor.ipAddress}::inet, ${actor.userAgent}`;

export async function getDocument(db: Database, id: string, userId: string) {
  const result = await db.execute<DocumentRow>(sql`
    with ${accessCte(id, userId)}
    select ${documentColumns}, a.role
    from access a
    join documents d on d.id = a.id
    join document_versions v on v.document_id = d.id and v.version_number = d.current_version`);
  const row = result.rows[0];
  return row ? toView(row) : null;
}

/** The caller's role on a document (no row: no access), without loading it. */
export async function getRole(db: Database, id: string, userId: string): Promise<Role | null> {
  const result = await db.execute<{ role: Role }>(sql`with ${accessCte(id, userId)} select role from access`);
  return result.rows[0]?.role ?? null;
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
 * A direct upload's version exists only while the upload is pending, checked under the upload
 * row's lock: each `complete` copies the bytes to a key of its own, so two concurrent ones
 * would otherwise both add a version. The loser waits for the winner's commit, sees the upload
 * completed (PostgreSQL re-checks locked rows) and inserts nothing.
 */
const pendingUploadJoin = (uploadId: string | undefined) =>
  uploadId ? sql`join uploads u on u.id = ${uploadId}::uuid and u.status = 'PENDING'` : sql``;

/** Marks a direct upload completed, as one more CTE of the statement that uses its object. */
const completeUploadCte = (uploadId: string | undefined, onlyIf: SQL = sql`true`) =>
  uploadId
    ? sql`, up as (update uploads set status = 'COMPLETED', completed_at = now()
                   where id = ${uploadId}::uuid and status = 'PENDING' and ${onlyIf})`
    : sql``;

export async function createDocument(
  db: Database,
  input: {
    id: string;
    title: string;
    description: string | null;
    tags: string[];
    file: NewFile;
    actor: Actor;
    /** A direct upload this document completes (the document id, planned per upload, makes it happen once). */
    uploadId?: string;
  },
): Promise<DocumentView & { revision: number }> {
  const { id, file, actor } = input;
  const result = await db.execute<DocumentRow>(sql`
    with d as (
      insert into documents (id, owner_id, title, description, current_version, search_vector)
      values (${id}::uuid, ${actor.userId}::uuid, ${input.title}, ${input.description}, 1,
              ${searchVector(sql`${input.title}::text`, sql`${input.description}::text`, textArray(input.tags))})
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
    a as (${activity(actor, "document.created", sql`${id}::uuid`, sql`jsonb_build_object('title', ${input.title}::text, 'version_number', 1, 'file_name', ${file.fileName}::text, 'size_bytes', ${file.sizeBytes}::bigint)`)})
    ${completeUploadCte(input.uploadId)}
    select d.id, d.title, d.description, d.owner_id, d.current_version, d.revision,
           ${textArray(input.tags)} as tags, v.file_name, v.content_type, v.size_bytes, v.sha256,
           ${iso(sql`d.created_at`)} as created_at, ${iso(sql`d.updated_at`)} as updated_at, 'OWNER' as role
    from d, v`);
  return toView(result.rows[0] as DocumentRow);
}

export type Denied = "not_found" | "forbidden" | "precondition_failed";

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
): Promise<{ ok: true; document: DocumentView & { revision: number } } | { ok: false; reason: Denied }> {
  const { id, actor } = input;
  const setTitle = input.title !== undefined;
  const setDescription = input.description !== undefined;
  const setTags = input.tags !== undefined;
  const newTags = input.tags ?? [];
  const result = await db.execute<
    DocumentRow & { access_role: Role | null; current_revision: number | null; updated: boolean }
  >(sql`
    with ${accessCte(id, actor.userId)},
    old as (select d.* from documents d join access a on a.id = d.id),
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
      from access a
      where d.id = a.id and a.role in ('OWNER', 'ADMIN', 'EDIT')
        and (${input.expectedRevisions === null ? null : sql.param(input.expectedRevisions)}::int[] is null or d.revision = any(${input.expectedRevisions === null ? null : sql.param(input.expectedRevisions)}::int[]))
      returning d.*
    ),
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
        'title', case when ${setTitle} then jsonb_build_object('from', old.title, 'to', ${input.title ?? null}::text) end,
        'description', case when ${setDescription} then jsonb_build_object('changed', true) end,
        'tags', case when ${setTags} then jsonb_build_object('to', to_jsonb(${textArray(newTags)})) end)) from old)`,
    )}
      where exists (select 1 from u))
    select (select role from access) as access_role, (select revision from old) as current_revision,
           u.id, u.title, u.description, u.owner_id, u.current_version, u.revision,
           case when ${setTags} then ${textArray(newTags)}
                else array(select t.tag from document_tags t where t.document_id = u.id order by t.tag collate "C") end as tags,
           v.file_name, v.content_type, v.size_bytes, v.sha256,
           ${iso(sql`u.created_at`)} as created_at, ${iso(sql`u.updated_at`)} as updated_at,
           (select role from access) as role
    from (select 1) one
    left join u on true
    left join document_versions v on v.document_id = u.id and v.version_number = u.current_version`);
  const row = result.rows[0];
  if (!row?.access_role) return { ok: false, reason: "not_found" };
  if (!row.id) {
    if (!atLeast(row.access_role, "EDIT")) return { ok: false, reason: "forbidden" };
    return { ok: false, reason: "precondition_failed" };
  }
  return { ok: true, document: toView(row) };
}

export async function deleteDocument(
  db: Database,
  id: string,
  actor: Actor,
): Promise<{ ok: true } | { ok: false; reason: Denied }> {
  const result = await db.execute<{ access_role: Role | null; deleted: string | null }>(sql`
    with ${accessCte(id, actor.userId)},
    u as (
      update documents d set deleted_at = now(), deleted_by = ${actor.userId}::uuid, revision = d.revision + 1
      from access a where d.id = a.id and a.role in ('OWNER', 'ADMIN')
      returning d.id, d.title
    ),
    a as (${activity(actor, "document.deleted", sql`u.id`, sql`jsonb_build_object('title', u.title)`)} from u)
    select (select role from access) as access_role, (select id from u) as deleted`);
  const row = result.rows[0];
  if (!row?.access_role) return { ok: false, reason: "not_found" };
  if (!row.deleted) return { ok: false, reason: "forbidden" };
  return { ok: true };
}

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

/** All versions, newest first; null when the caller has no access. */
export async function listVersions(db: Database, id: string, userId: string): Promise<VersionView[] | null> {
  const result = await db.execute<VersionRow & { has_access: boolean }>(sql`
    with ${accessCte(id, userId)}
    select exists (select 1 from access) as has_access, ${versionColumns}
    from (select 1) one
    left join document_versions v on v.document_id = (select id from access)
    order by v.version_number desc nulls last`);
  if (!result.rows[0]?.has_access) return null;
  return result.rows.filter((r) => r.version_number !== null).map(toVersion);
}

/**
 * Adds the next version: the document's row lock orders concurrent uploads, so numbers are
 * contiguous and unique (the unique index is the backstop). Null when the caller (no longer) may.
 */
export async function addVersion(
  db: Database,
  input: { id: string; file: NewFile; comment: string | null; actor: Actor; uploadId?: string },
): Promise<(VersionView & { revision: number }) | null> {
  const { id, file, actor } = input;
  const result = await db.execute<VersionRow & { revision: number }>(sql`
    with locked as (
      select d.id, d.current_version from documents d
      left join document_permissions p on p.document_id = d.id and p.user_id = ${actor.userId}::uuid
      ${pendingUploadJoin(input.uploadId)}
      where d.id = ${id}::uuid and d.deleted_at is null
        and (d.owner_id = ${actor.userId}::uuid or p.role in ('EDIT', 'ADMIN'))
      for update of d${input.uploadId ? sql`, u` : sql``}
    ),
    v as (
      insert into document_versions (id, document_id, version_number, storage_key, file_name, content_type, size_bytes, sha256, comment, created_by)
      select ${file.versionId}::uuid, locked.id, locked.current_version + 1, ${file.storageKey}, ${file.fileName},
             ${file.contentType}, ${file.sizeBytes}, ${file.sha256}, ${input.comment}, ${actor.userId}::uuid
      from locked
      returning *
    ),
    u as (
      update documents d set current_version = v.version_number, revision = d.revision + 1, updated_at = now()
      from v where d.id = v.document_id
      returning d.revision
    ),
    a as (${activity(actor, "version.created", sql`v.document_id`, sql`jsonb_build_object('version_number', v.version_number, 'file_name', v.file_name, 'size_bytes', v.size_bytes)`)} from v)
    ${completeUploadCte(input.uploadId, sql`exists (select 1 from v)`)}
    select ${versionColumns}, (select revision from u) as revision from v`);
  const row = result.rows[0];
  return row ? { ...toVersion(row), revision: Number(row.revision) } : null;
}

/** The version to download (current when `versionNumber` is null), recording the download. */
export async function versionForDownload(
  db: Database,
  input: { id: string; versionNumber: number | null; actor: Actor },
): Promise<{ found: false; hasAccess: boolean } | { found: true; version: VersionView & { storage_key: string } }> {
  const { id, actor } = input;
  const result = await db.execute<VersionRow & { storage_key: string | null; has_access: boolean }>(sql`
    with ${accessCte(id, actor.userId)},
    v as (
      select v.* from document_versions v
      join documents d on d.id = v.document_id
      where d.id = (select id from access)
        and v.version_number = coalesce(${input.versionNumber}::int, d.current_version)
    ),
    a as (${activity(actor, "document.downloaded", sql`v.document_id`, sql`jsonb_build_object('version_number', v.version_number)`)} from v)
    select exists (select 1 from access) as has_access, v.storage_key, ${versionColumns}
    from (select 1) one left join v on true`);
  const row = result.rows[0];
  if (!row?.storage_key) return { found: false, hasAccess: Boolean(row?.has_access) };
  return { found: true, version: { ...toVersion(row), storage_key: row.storage_key } };
}
