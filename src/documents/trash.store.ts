// The trash: documents deleted (DELETE /documents/{id}, or their owner's account closed) and not
// yet purged. Listing, restoring (with adoption of a closed account's document), and the
// statements of a purge: claiming documents, and removing their rows once their bytes are gone.
// Same rules as the other stores: one round trip each, the caller's access and open account
// resolved in the statement, the activity row written with the change.
import { type SQL, sql } from "drizzle-orm";
import { isTrue } from "../db/booleans";
import type { Database } from "../db/client";
import { Failure } from "../lib/failure";
import { offsetOf, type Page, type PageRequest } from "../lib/page-request";
import type { Actor } from "./actor";
import { quotaExceeded } from "./quota";
import { atLeast, type Role, roleAtLeast, roleLiteral } from "./roles";
import {
  activity,
  callerOpen,
  type DocumentRow,
  type DocumentView,
  documentColumns,
  iso,
  type RevisedDocument,
  toDocumentView,
} from "./sql";

export type TrashedDocumentView = DocumentView & { deleted_at: string; purge_at: string };

/** In the trash: deleted, not purged. */
const trashed = (d: SQL) => sql`${d}.deleted_at is not null and ${d}.purged_at is null`;

/** When a document deleted at `deletedAt` is due for the scheduled purge. */
const purgeAt = (deletedAt: SQL, retentionDays: number) =>
  sql`(${deletedAt} + make_interval(days => ${retentionDays}::int))`;

/**
 * One page of the caller's trash, most recently deleted first: the trashed documents they own
 * and those they hold ADMIN on (the roles that may restore). `purge_at` is when the scheduled
 * job purges each (deletion + TRASH_RETENTION_DAYS).
 */
export async function listTrash(
  db: Database,
  userId: string,
  page: PageRequest,
  retentionDays: number,
): Promise<Page<TrashedDocumentView>> {
  const user = sql`${userId}::uuid`;
  const result = await db.execute<
    DocumentRow & { total: string | number; deleted_at: string | null; purge_at: string; ord: number | null }
  >(sql`
    with visible as (
      select d.id, d.deleted_at, ${roleLiteral("OWNER")}::text as role
      from documents d where d.owner_id = ${user} and ${trashed(sql`d`)} and ${callerOpen(userId)}
      union all
      select d.id, d.deleted_at, p.role::text as role
      from document_permissions p join documents d on d.id = p.document_id
      where p.user_id = ${user} and p.role = 'ADMIN' and d.owner_id <> ${user} and ${trashed(sql`d`)}
        and ${callerOpen(userId)}
    ),
    page as (
      select vis.*, row_number() over (order by vis.deleted_at desc, vis.id desc) as ord from visible vis
      order by vis.deleted_at desc, vis.id desc
      limit ${page.limit} offset ${offsetOf(page)}
    )
    select (select count(*) from visible) as total, page.ord, ${documentColumns}, page.role,
           ${iso(sql`page.deleted_at`)} as deleted_at, ${iso(purgeAt(sql`page.deleted_at`, retentionDays))} as purge_at
    from (select 1) one
    left join (page
      join documents d on d.id = page.id
      join document_versions v on v.document_id = d.id and v.version_number = d.current_version) on true
    order by page.ord`);
  const total = Number(result.rows[0]?.total ?? 0);
  const items = result.rows
    .filter((r) => r.ord !== null)
    .map((r) => {
      const { revision: _, ...view } = toDocumentView(r);
      return { ...view, deleted_at: r.deleted_at as string, purge_at: r.purge_at };
    });
  return { items, total };
}

/**
 * Takes a document out of the trash (owner or ADMIN), with the versions, tags and permissions
 * it kept there, and answers it as it was. When its owner's account is closed, the ADMIN who
 * restores it becomes its owner: their permission row goes (the owner needs none), and the bytes
 * of its versions move from the old owner's storage counter to theirs in the same statement,
 * only if they fit the new owner's quota (otherwise 507 and nothing changes: the document stays
 * in the trash). Lock order as everywhere: the document, then the users' rows.
 */
export async function restoreDocument(
  db: Database,
  input: { id: string; actor: Actor; quotaBytes: number },
): Promise<RevisedDocument> {
  const { id, actor } = input;
  const caller = sql`${actor.userId}::uuid`;
  const result = await db.execute<
    DocumentRow & {
      access_role: Role | null;
      purge_started: boolean | null;
      adopt: boolean | null;
      bytes: string | number | null;
      restored: string | null;
      quota_refused: boolean;
    }
  >(sql`
    with target as (
      select d.id, case when d.owner_id = ${caller} then ${roleLiteral("OWNER")} else p.role::text end as role,
             d.purge_started_at is not null as purge_started
      from documents d
      left join document_permissions p on p.document_id = d.id and p.user_id = ${caller}
      where d.id = ${id}::uuid and ${trashed(sql`d`)}
        and (d.owner_id = ${caller} or p.user_id is not null)
        and ${callerOpen(actor.userId)}
    ),
    locked as (
      select d.id, d.owner_id, d.title,
             (d.owner_id <> ${caller} and not o.is_active) as adopt,
             (select coalesce(sum(size_bytes), 0) from document_versions where document_id = d.id) as bytes
      from documents d
      join target t on t.id = d.id
      join users o on o.id = d.owner_id
      where ${roleAtLeast(sql`t.role`, "ADMIN")} and ${trashed(sql`d`)} and d.purge_started_at is null
      for update of d
    ),
    -- Adoption: the new owner's counter takes the bytes if they fit, the old owner's gives them up.
    taken as (
      update users set storage_used_bytes = storage_used_bytes + l.bytes
      from locked l
      where users.id = ${caller} and l.adopt
        and (${input.quotaBytes}::bigint = 0 or storage_used_bytes + l.bytes <= ${input.quotaBytes}::bigint)
      returning users.id
    ),
    given as (
      update users set storage_used_bytes = storage_used_bytes - l.bytes
      from locked l
      where users.id = l.owner_id and l.adopt and exists (select 1 from taken)
      returning users.id
    ),
    restored as (
      update documents d set deleted_at = null, deleted_by = null, revision = d.revision + 1,
             owner_id = case when l.adopt then ${caller} else d.owner_id end
      from locked l
      where d.id = l.id and (not l.adopt or exists (select 1 from taken))
      returning d.*
    ),
    unneeded as (
      delete from document_permissions p using restored r, locked l
      where l.adopt and p.document_id = r.id and p.user_id = ${caller}
    ),
    a as (${activity(
      actor,
      "document.restored",
      sql`r.id`,
      sql`jsonb_strip_nulls(jsonb_build_object('title', r.title,
            'adopted_from', case when l.adopt then l.owner_id end, 'size_bytes', case when l.adopt then l.bytes end))`,
    )} from restored r, locked l)
    select (select role from target) as access_role, (select purge_started from target) as purge_started,
           (select adopt from locked) as adopt, (select bytes from locked) as bytes,
           (select id from restored) as restored,
           exists (select 1 from locked where adopt) and not exists (select 1 from taken) as quota_refused,
           ${documentColumns},
           case when d.owner_id = ${caller} then ${roleLiteral("OWNER")} else (select role from target) end as role
    from (select 1) one
    left join (restored d join document_versions v on v.document_id = d.id and v.version_number = d.current_version) on true`);
  const row = result.rows[0];
  const notInTrash = () => new Failure("document_not_found", "No such document in your trash.");
  const purgeBegun = () =>
    new Failure("document_purging", "This document's purge has begun; it can no longer be restored.");
  // The caller's trash holds what they own or hold ADMIN on; anything else is not in it, so
  // 404 as the contract says for restore, also for an EDIT or READ holder (a trashed document is
  // 404 to everyone on every other route, so the lower grant tells them nothing either).
  if (!row?.access_role || !atLeast(row.access_role, "ADMIN")) throw notInTrash();
  if (row.restored) return toDocumentView(row);
  if (row.quota_refused) throw quotaExceeded(input.quotaBytes, null, Number(row.bytes));
  if (isTrue(row.purge_started)) throw purgeBegun();
  // The document changed while this statement waited for its lock: restored by someone else, or
  // claimed by a purge. Only this rare path reads again, to tell the two apart.
  const now = await db.execute<{ purging: boolean }>(sql`
    select purge_started_at is not null as purging from documents d where d.id = ${id}::uuid and ${trashed(sql`d`)}`);
  if (isTrue(now.rows[0]?.purging)) throw purgeBegun();
  throw notInTrash();
}

export type PurgeClaim = { id: string; claim: string };

/** How long a purge run holds a claimed document before another may take it over. */
export const PURGE_LEASE_SECONDS = 600;

/**
 * Claims trashed documents due for their purge (deleted `retentionDays` before `now`, or whose
 * purge has begun and not finished), oldest deletion first, at most `limit`. Concurrent runs skip
 * each other's rows (`for update skip locked`), and a claimed document carries a lease, so two
 * runs never work on one document; a run that died leaves its lease to expire, and a later run
 * takes the document over. Claiming starts the purge: from then on the document can no longer be
 * restored (its bytes may be partly deleted), and runs go on until it is gone.
 */
export async function claimDuePurges(
  db: Database,
  input: { now: Date; retentionDays: number; limit: number },
): Promise<PurgeClaim[]> {
  const claim = crypto.randomUUID();
  const result = await db.execute<{ id: string }>(sql`
    with due as (
      select d.id from documents d
      where ${trashed(sql`d`)}
        and (${purgeAt(sql`d.deleted_at`, input.retentionDays)} <= ${input.now.toISOString()}::timestamptz
             or d.purge_started_at is not null)
        and (d.purge_lease_until is null or d.purge_lease_until < now())
      order by d.deleted_at, d.id
      limit ${input.limit}
      for update skip locked
    )
    update documents d set purge_started_at = coalesce(d.purge_started_at, now()),
           purge_lease_until = now() + make_interval(secs => ${PURGE_LEASE_SECONDS}), purge_claim = ${claim}::uuid
    from due where d.id = due.id
    returning d.id`);
  return result.rows.map((r) => ({ id: r.id, claim }));
}

/**
 * Claims one trashed document for its owner's immediate purge (DELETE /trash/{id}): the same
 * claim as the scheduled job's, for the owner only. Answers the storage keys of its versions.
 * `document_purging` when another purge holds it right now.
 */
export async function claimOwnPurge(
  db: Database,
  id: string,
  userId: string,
): Promise<{ claim: PurgeClaim; keys: string[] }> {
  const claim = crypto.randomUUID();
  const caller = sql`${userId}::uuid`;
  const result = await db.execute<{ role: Role | null; claimed: string | null; keys: string[] | null }>(sql`
    with target as (
      select d.id, case when d.owner_id = ${caller} then ${roleLiteral("OWNER")} else p.role::text end as role
      from documents d
      left join document_permissions p on p.document_id = d.id and p.user_id = ${caller}
      where d.id = ${id}::uuid and ${trashed(sql`d`)}
        and (d.owner_id = ${caller} or p.user_id is not null)
        and ${callerOpen(userId)}
    ),
    claimed as (
      update documents d set purge_started_at = coalesce(d.purge_started_at, now()),
             purge_lease_until = now() + make_interval(secs => ${PURGE_LEASE_SECONDS}), purge_claim = ${claim}::uuid
      from target t
      where d.id = t.id and t.role = ${roleLiteral("OWNER")} and ${trashed(sql`d`)}
        and (d.purge_lease_until is null or d.purge_lease_until < now())
      returning d.id
    )
    select (select role from target) as role, (select id from claimed) as claimed,
           array(select storage_key from document_versions where document_id = (select id from claimed)
                 order by version_number) as keys`);
  const row = result.rows[0];
  // Not in the caller's trash (no grant, or only EDIT or READ): 404, as for restore. An ADMIN
  // sees it in their trash but may not purge it: 403.
  if (!row?.role || !atLeast(row.role, "ADMIN"))
    throw new Failure("document_not_found", "No such document in your trash.");
  if (row.role !== "OWNER") throw new Failure("role_too_low", "Only the owner may purge a document from the trash.");
  if (!row.claimed) {
    throw new Failure("document_purging", "Another purge of this document is running; it will be gone shortly.");
  }
  return { claim: { id: row.claimed, claim }, keys: row.keys ?? [] };
}

/** The storage keys of a claimed document's versions. */
export async function versionKeys(db: Database, id: string): Promise<string[]> {
  const result = await db.execute<{ storage_key: string }>(
    sql`select storage_key from document_versions where document_id = ${id}::uuid order by version_number`,
  );
  return result.rows.map((r) => r.storage_key);
}

/** Gives a claim back before its lease ends (its bytes could not all be deleted): a retry may take it at once. */
export async function releasePurgeClaim(db: Database, claim: PurgeClaim): Promise<void> {
  await db.execute(sql`
    update documents set purge_lease_until = null, purge_claim = null
    where id = ${claim.id}::uuid and purge_claim = ${claim.claim}::uuid and purged_at is null`);
}

/**
 * The purge's last step, once every stored byte of the document is gone: in one statement its
 * version, tag and permission rows go, its owner's storage counter drops by the bytes of the
 * versions removed, the document becomes a tombstone (`purged_at`; id, owner, title and dates
 * stay, the description and search text go) and `document.purged` is recorded. The document's
 * activity rows all stay: the audit trail outlives it. Locked first (then the owner's row), and
 * only a document whose purge began and has not ended is touched, so a second run finishing the
 * same document changes nothing and no counter drops twice. Share links, when they exist, are
 * one more `delete … where document_id` CTE here. `actorId` null: the scheduled job.
 */
export async function purgeRows(
  db: Database,
  input: { id: string; actorId: string | null; reason: "retention" | "owner" },
): Promise<boolean> {
  const result = await db.execute<{ purged: string | null }>(sql`
    with doc as (
      select d.id, d.owner_id from documents d
      where d.id = ${input.id}::uuid and ${trashed(sql`d`)} and d.purge_started_at is not null
      for update
    ),
    v as (delete from document_versions where document_id = (select id from doc) returning size_bytes),
    t as (delete from document_tags where document_id = (select id from doc)),
    p as (delete from document_permissions where document_id = (select id from doc) returning user_id, role),
    -- Share links go with the document (a pinned link refers to a version deleted above; the
    -- foreign key is checked at the end of the statement, when both are gone).
    l as (delete from share_links where document_id = (select id from doc)),
    c as (delete from document_contents where document_id = (select id from doc)),
    q as (
      update users set storage_used_bytes = storage_used_bytes - (select coalesce(sum(size_bytes), 0) from v)
      where id = (select owner_id from doc)
    ),
    u as (
      update documents d set purged_at = now(), purge_lease_until = null, purge_claim = null,
             description = null, search_vector = ''::tsvector, revision = d.revision + 1
      from doc where d.id = doc.id
      returning d.id, d.title
    ),
    a as (
      insert into activity_logs (document_id, actor_id, action, details)
      select u.id, ${input.actorId}::uuid, 'document.purged',
             jsonb_build_object('title', u.title, 'reason', ${input.reason}::text,
               'versions', (select count(*) from v), 'size_bytes', (select coalesce(sum(size_bytes), 0) from v))
      from u
    ),
    -- Each holder's permission ends here, recorded as for any revocation (the audit trail). The
    -- changes feed does not list it: the holders lost access with the document.deleted, which
    -- their feed keeps (change_audience, migration 0020).
    r as (
      insert into activity_logs (document_id, actor_id, action, details)
      select (select id from u), ${input.actorId}::uuid, 'permission.revoked',
             jsonb_build_object('user_id', p.user_id, 'role', p.role, 'reason', 'purged')
      from p where exists (select 1 from u)
    )
    select (select id from u) as purged`);
  return Boolean(result.rows[0]?.purged);
}
