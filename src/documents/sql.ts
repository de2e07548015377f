// The SQL fragments the document statements are built from (documents.store.ts,
// versions.store.ts, permissions.store.ts, activity.store.ts, list.store.ts). The one access
// rule lives here (accessCte), as do the activity insert every change carries and the mapping of
// a document row to its view.
import { type SQL, sql } from "drizzle-orm";
import type { ActivityAction } from "./activity-actions";
import type { RecordedActor } from "./actor";
import { type Role, roleLiteral } from "./roles";

/** A JS array as one text[] parameter (Drizzle would otherwise expand it into a list). */
export const textArray = (values: readonly string[]) => sql`${sql.param(values)}::text[]`;

/** RFC 3339 UTC with milliseconds, whatever the session's time zone. */
export const iso = (column: SQL) => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * True, or an error (SQLSTATE DV401, answered 401 account_inactive) when the caller's account is
 * closed or gone. A condition naming no table, so PostgreSQL evaluates it once before reading
 * anything (a "one-time filter"): the closed-account check costs no extra round trip, and no
 * statement of a closed account reads or writes a row. Migration 0007 defines the function.
 */
export const callerOpen = (userId: string) => sql`docvault_require_open_account(${userId}::uuid)`;

/**
 * The caller's role on document `id`, or no row: the one authorisation rule of the API. Every
 * statement on one document starts `with ${accessCte(...)}`, so access is resolved in the same
 * round trip, and a document the caller may not see does not exist for them.
 */
export const accessCte = (documentId: string, userId: string) => sql`
  access as (
    select d.id, case when d.owner_id = ${userId}::uuid then ${roleLiteral("OWNER")} else p.role::text end as role
    from documents d
    left join document_permissions p on p.document_id = d.id and p.user_id = ${userId}::uuid
    where d.id = ${documentId}::uuid and d.deleted_at is null
      and (d.owner_id = ${userId}::uuid or p.user_id is not null)
      and ${callerOpen(userId)}
  )`;

/**
 * Text as full-text search reads it: PostgreSQL's parser takes `<…>` for an HTML tag and drops it
 * (`<div>`, and `a<b and c>d` loses everything between the brackets), and drops everything after
 * an opening `<script>` or `<style>` up to its closing tag or the end of the text: a plain-text or
 * Markdown file mentioning `<style>` had the rest of its words unsearchable. The service's texts
 * are plain text (HTML files are extracted to their text first), so angle brackets are only
 * punctuation here. Applied to every indexed text and to `q` alike (searchableQuery).
 */
export const searchableText = (text: SQL) => sql`translate(${text}, '<>', '  ')`;

/** `q` as it is parsed into a tsquery: angle brackets as spaces, as in searchableText. */
export const searchableQuery = (q: string) => q.replace(/[<>]/g, " ");

export const searchVector = (title: SQL, description: SQL, tags: SQL) => sql`
  setweight(to_tsvector('english', ${searchableText(title)}), 'A')
  || setweight(to_tsvector('english', ${searchableText(sql`array_to_string(${tags}, ' ')`)}), 'B')
  || setweight(to_tsvector('english', ${searchableText(sql`coalesce(${description}, '')`)}), 'C')`;

/**
 * The activity row of a change, as one CTE of the statement making it (so neither exists
 * without the other). A select: callers append `from <cte>` or a `where`.
 */
export const activity = (actor: RecordedActor, action: ActivityAction, documentId: SQL, details: SQL) => sql`
  insert into activity_logs (document_id, actor_id, action, details, ip_address, user_agent)
  select ${documentId}, ${actor.userId}::uuid, ${action}, ${details}, ${actor.ipAddress}::inet, ${actor.userAgent}`;

/**
 * A direct upload's version exists only while the upload is pending, checked under the upload
 * row's lock: each `complete` copies the bytes to a key of its own, so two concurrent ones
 * would otherwise both add a version. The loser waits for the winner's commit, sees the upload
 * completed (PostgreSQL re-checks locked rows) and inserts nothing.
 */
export const pendingUploadJoin = (uploadId: string | undefined) =>
  uploadId ? sql`join uploads u on u.id = ${uploadId}::uuid and u.status = 'PENDING'` : sql``;

/** Marks a direct upload completed, as one more CTE of the statement that uses its object. */
export const completeUploadCte = (uploadId: string | undefined, onlyIf: SQL = sql`true`) =>
  uploadId
    ? sql`, up as (update uploads set status = 'COMPLETED', completed_at = now()
                   where id = ${uploadId}::uuid and status = 'PENDING' and ${onlyIf})`
    : sql``;

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
  content_status: ContentStatus;
};

/** How far the text of a document's current version is (src/content/, DESIGN.md "Content search"). */
export type ContentStatus = "pending" | "indexed" | "unsupported" | "failed";

/**
 * The content status of document `d`'s current version: the status of its document_contents row
 * when that row describes the current version, else pending (the new version's text is on its way;
 * the older text is neither shown nor searched).
 */
export const contentStatus = (d: SQL) => sql`coalesce((select c.status from document_contents c
  where c.document_id = ${d}.id and c.version_number = ${d}.current_version), 'pending')`;

/** A document as the API shows it, with the revision its ETag is made of. */
export type RevisedDocument = DocumentView & { revision: number };

/** A document `d` with its current version `v`, as DocumentRow. */
export const documentColumns = sql`
  d.id, d.title, d.description, d.owner_id, d.current_version, d.revision,
  array(select t.tag from document_tags t where t.document_id = d.id order by t.tag collate "C") as tags,
  v.file_name, v.content_type, v.size_bytes, v.sha256,
  ${iso(sql`d.created_at`)} as created_at, ${iso(sql`d.updated_at`)} as updated_at,
  ${contentStatus(sql`d`)} as content_status`;

export type DocumentRow = Omit<DocumentView, "size_bytes" | "my_role"> & {
  size_bytes: string | number;
  revision: number;
  role: Role;
};

export const toDocumentView = (row: DocumentRow): RevisedDocument => ({
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
  content_status: row.content_status,
  revision: Number(row.revision),
});
