// Share links: the statements. Link management (create, list, revoke) runs through `accessCte`
// like every document statement, and each change writes its activity row in the same statement.
// The public side (a token, no account) finds a link by the SHA-256 of its token, and only while
// its document is live: a trashed document's links answer 404 and come back with a restore, a
// purge deletes them (trash.store.ts). Downloads are counted by one conditional UPDATE that checks
// the limit, so `max_downloads` holds under any concurrency. Password guesses are counted on the
// login throttle's table with its one-upsert counting (auth.store.ts `countAttempts`), keyed
// `link:<id>` per link and `address:<client>` per address (the same address counter as logins).
import { type SQL, sql } from "drizzle-orm";
import { countAttempts, endCheckSql, endChecks } from "../auth/auth.store";
import type { Database } from "../db/client";
import { Failure } from "../lib/failure";
import { offsetOf, type Page, type PageRequest } from "../lib/page-request";
import type { Actor } from "./actor";
import { documentNotFound } from "./documents.store";
import { atLeast, type Role, roleAtLeast } from "./roles";
import { accessCte, activity, iso } from "./sql";

export type LinkView = {
  id: string;
  document_id: string;
  version_number: number | null;
  expires_at: string | null;
  max_downloads: number | null;
  download_count: number;
  has_password: boolean;
  created_by: string;
  created_at: string;
};

type LinkRow = Omit<LinkView, "max_downloads" | "download_count" | "version_number"> & {
  version_number: number | string | null;
  max_downloads: number | string | null;
  download_count: number | string;
};

const linkColumns = (alias: SQL) => sql`
  ${alias}.id, ${alias}.document_id, ${alias}.version_number, ${iso(sql`${alias}.expires_at`)} as expires_at,
  ${alias}.max_downloads, ${alias}.download_count, ${alias}.password_hash is not null as has_password,
  ${alias}.created_by, ${iso(sql`${alias}.created_at`)} as created_at`;

const num = (value: number | string | null) => (value === null ? null : Number(value));

/** Exactly the contract's fields. */
const toLink = (row: LinkRow): LinkView => ({
  id: row.id,
  document_id: row.document_id,
  version_number: num(row.version_number),
  expires_at: row.expires_at,
  max_downloads: num(row.max_downloads),
  download_count: Number(row.download_count),
  has_password: Boolean(row.has_password),
  created_by: row.created_by,
  created_at: row.created_at,
});

export const linkNotFound = () => new Failure("link_not_found", "No such share link.");
const editNeeded = () => new Failure("role_too_low", "Share links need the EDIT role or above.");

export type NewLink = {
  documentId: string;
  actor: Actor;
  tokenHash: Uint8Array;
  passwordHash: string | null;
  versionNumber: number | null;
  expiresAt: string | null;
  maxDownloads: number | null;
};

/** Creates a link (EDIT or above), with its `link.created` row; a pinned version must exist. */
export async function insertLink(db: Database, input: NewLink): Promise<LinkView> {
  const { actor } = input;
  const result = await db.execute<
    Partial<LinkRow> & { access_role: Role | null; version_exists: boolean | null; id: string | null }
  >(sql`
    with ${accessCte(input.documentId, actor.userId)},
    ver as (
      select 1 from document_versions v
      where v.document_id = (select id from access) and v.version_number = ${input.versionNumber}::int
    ),
    ins as (
      insert into share_links (document_id, token_hash, password_hash, version_number, expires_at, max_downloads, created_by)
      select a.id, ${input.tokenHash}, ${input.passwordHash}::text, ${input.versionNumber}::int,
             ${input.expiresAt}::timestamptz, ${input.maxDownloads}::int, ${actor.userId}::uuid
      from access a
      where ${roleAtLeast(sql`a.role`, "EDIT")} and (${input.versionNumber}::int is null or exists (select 1 from ver))
      returning *
    ),
    act as (${activity(
      actor,
      "link.created",
      sql`ins.document_id`,
      sql`jsonb_build_object('link_id', ins.id, 'version_number', ins.version_number,
            'expires_at', ${iso(sql`ins.expires_at`)}, 'max_downloads', ins.max_downloads,
            'has_password', ins.password_hash is not null)`,
    )} from ins)
    select (select role from access) as access_role, exists (select 1 from ver) as version_exists, ${linkColumns(sql`ins`)}
    from (select 1) one left join ins on true`);
  const row = result.rows[0];
  if (!row?.access_role) throw documentNotFound();
  if (!atLeast(row.access_role, "EDIT")) throw editNeeded();
  if (!row.id) {
    throw new Failure("link_version_not_found", `The document has no version ${input.versionNumber}.`, {
      errors: [{ path: "body.version", message: `The document has no version ${input.versionNumber}.` }],
    });
  }
  return toLink(row as LinkRow);
}

/** One page of a document's links, oldest first (EDIT or above); tokens are never stored, so never shown. */
export async function listLinks(
  db: Database,
  documentId: string,
  userId: string,
  page: PageRequest,
): Promise<Page<LinkView>> {
  const result = await db.execute<Partial<LinkRow> & { access_role: Role | null; total: string | number }>(sql`
    with ${accessCte(documentId, userId)},
    allowed as (select id from access where ${roleAtLeast(sql`access.role`, "EDIT")}),
    l as (
      select * from share_links where document_id = (select id from allowed)
      order by created_at, id limit ${page.limit} offset ${offsetOf(page)}
    )
    select (select role from access) as access_role,
           (select count(*) from share_links where document_id = (select id from allowed)) as total,
           ${linkColumns(sql`l`)}
    from (select 1) one left join l on true
    order by l.created_at, l.id`);
  const first = result.rows[0];
  if (!first?.access_role) throw documentNotFound();
  if (!atLeast(first.access_role, "EDIT")) throw editNeeded();
  return { items: result.rows.filter((r) => r.id).map((r) => toLink(r as LinkRow)), total: Number(first.total) };
}

/**
 * Revokes (deletes) a link: its creator, or the owner or an ADMIN of the document. An unknown
 * link is 404 for those who may see links (EDIT and above), 403 for readers, who cannot list them.
 */
export async function deleteLink(db: Database, input: { documentId: string; linkId: string; actor: Actor }) {
  const { actor } = input;
  const result = await db.execute<{
    access_role: Role | null;
    link_creator: string | null;
    revoked: string | null;
  }>(sql`
    with ${accessCte(input.documentId, actor.userId)},
    link as (select l.id, l.created_by from share_links l where l.id = ${input.linkId}::uuid and l.document_id = (select id from access)),
    del as (
      delete from share_links l using access a
      where l.id = ${input.linkId}::uuid and l.document_id = a.id
        and (l.created_by = ${actor.userId}::uuid or ${roleAtLeast(sql`a.role`, "ADMIN")})
      returning l.id, l.document_id, l.download_count
    ),
    act as (${activity(actor, "link.revoked", sql`del.document_id`, sql`jsonb_build_object('link_id', del.id, 'download_count', del.download_count)`)} from del)
    select (select role from access) as access_role, (select created_by from link) as link_creator,
           (select id from del) as revoked`);
  const row = result.rows[0];
  if (!row?.access_role) throw documentNotFound();
  if (row.revoked) return;
  // Readers cannot list links, so for them an unknown link and another's look alike.
  if (!row.link_creator && atLeast(row.access_role, "EDIT")) throw linkNotFound();
  throw new Failure("role_too_low", "Revoking a share link needs its creator, the owner or the ADMIN role.");
}

/**
 * A link answers only while its creator may still share the document: its owner, or a holder of
 * EDIT or above (the role creating a link needs). A revoked or demoted creator keeps the token
 * they made, and it must not keep their access ("no access after revocation"); the link answers
 * again if the role comes back, as a trashed document's links do after a restore. Checked in the
 * statement that serves the link, so a revocation's commit is the line: no race to lose.
 */
const creatorMayShare = (link: SQL, doc: SQL) => sql`(${link}.created_by = ${doc}.owner_id or exists (
  select 1 from document_permissions cp
  where cp.document_id = ${doc}.id and cp.user_id = ${link}.created_by and ${roleAtLeast(sql`cp.role::text`, "EDIT")}))`;

/** A live link as the public sees it, with what a download needs. */
export type ResolvedLink = {
  id: string;
  documentId: string;
  passwordHash: string | null;
  expired: boolean;
  exhausted: boolean;
  expiresAt: string | null;
  downloadsLeft: number | null;
  title: string;
  versionNumber: number;
  fileName: string;
  contentType: string;
  sizeBytes: number;
  storageKey: string;
};

/** The counted password attempt, to be taken back when it is refused unchecked or succeeds. */
export type CountedGuess = {
  linkKey: string;
  linkWindow: string;
  linkFailures: number;
  /** Of linkFailures, the checks in flight (this one included). */
  linkChecking: number;
  linkRetry: number;
  addressKey: string;
  addressWindow: string;
  addressFailures: number;
  addressChecking: number;
  addressRetry: number;
};

type ResolvedRow = {
  id: string;
  document_id: string;
  password_hash: string | null;
  expired: boolean;
  exhausted: boolean;
  expires_at: string | null;
  downloads_left: number | string | null;
  title: string;
  version_number: number | string;
  file_name: string;
  content_type: string;
  size_bytes: number | string;
  storage_key: string;
  link_key: string | null;
  link_failures: number | null;
  link_checking: number | null;
  link_window: string | null;
  link_retry: number | null;
  address_failures: number | null;
  address_checking: number | null;
  address_window: string | null;
  address_retry: number | null;
};

/**
 * The link of a token hash, if its document is live and its creator may share it, with its version (pinned, or the current
 * one), in one statement. With `countGuess`, a password attempt is counted in the same statement
 * against the link and the address, but only for a live link that has a password (an expired or
 * used-up link is answered 410 before any password is looked at).
 */
export async function resolveLink(
  db: Database,
  tokenHash: Uint8Array,
  countGuess?: { addressKey: string; windowSeconds: number },
): Promise<{ link: ResolvedLink; guess: CountedGuess | null } | null> {
  const addressKey = countGuess ? `address:${countGuess.addressKey}` : "";
  const counted = countGuess
    ? sql`, counted as (${countAttempts(
        sql`select 'link:' || id::text from link where password_hash is not null and not expired and not exhausted
            union all
            select ${addressKey}::text from link where password_hash is not null and not expired and not exhausted`,
        countGuess.windowSeconds,
        { checking: true },
      )})`
    : sql``;
  const guessColumns = countGuess
    ? sql`lc.key as link_key, lc.failures as link_failures, lc.checking as link_checking, lc.window_started_at as link_window,
          lc.retry as link_retry, ac.failures as address_failures, ac.checking as address_checking,
          ac.window_started_at as address_window, ac.retry as address_retry`
    : sql`null as link_key, null as link_failures, null as link_checking, null as link_window, null as link_retry,
          null as address_failures, null as address_checking, null as address_window, null as address_retry`;
  const guessJoins = countGuess
    ? sql`left join counted lc on lc.key = 'link:' || link.id::text left join counted ac on ac.key = ${addressKey}::text`
    : sql``;
  const result = await db.execute<ResolvedRow>(sql`
    with link as (
      select l.id, l.document_id, l.password_hash,
             (l.expires_at is not null and l.expires_at <= now()) as expired,
             (l.max_downloads is not null and l.download_count >= l.max_downloads) as exhausted,
             ${iso(sql`l.expires_at`)} as expires_at,
             l.max_downloads - l.download_count as downloads_left,
             d.title, v.version_number, v.file_name, v.content_type, v.size_bytes, v.storage_key
      from share_links l
      join documents d on d.id = l.document_id and d.deleted_at is null
      join document_versions v on v.document_id = d.id and v.version_number = coalesce(l.version_number, d.current_version)
      where l.token_hash = ${tokenHash} and ${creatorMayShare(sql`l`, sql`d`)}
    )${counted}
    select link.*, ${guessColumns}
    from link ${guessJoins}`);
  const row = result.rows[0];
  if (!row) return null;
  const link: ResolvedLink = {
    id: row.id,
    documentId: row.document_id,
    passwordHash: row.password_hash,
    expired: Boolean(row.expired),
    exhausted: Boolean(row.exhausted),
    expiresAt: row.expires_at,
    downloadsLeft: num(row.downloads_left),
    title: row.title,
    versionNumber: Number(row.version_number),
    fileName: row.file_name,
    contentType: row.content_type,
    sizeBytes: Number(row.size_bytes),
    storageKey: row.storage_key,
  };
  const guess: CountedGuess | null =
    row.link_key && row.link_window && row.address_window
      ? {
          linkKey: row.link_key,
          linkWindow: row.link_window,
          linkFailures: Number(row.link_failures),
          linkChecking: Number(row.link_checking),
          linkRetry: Number(row.link_retry),
          addressKey,
          addressWindow: row.address_window,
          addressFailures: Number(row.address_failures),
          addressChecking: Number(row.address_checking),
          addressRetry: Number(row.address_retry),
        }
      : null;
  return { link, guess };
}

/** Ends a counted password attempt on both counters: taken back (refused unchecked, or right) or failed (wrong). */
export async function endGuess(db: Database, guess: CountedGuess, outcome: "taken back" | "failed"): Promise<void> {
  await endChecks(
    db,
    [
      { key: guess.linkKey, windowStartedAt: guess.linkWindow },
      { key: guess.addressKey, windowStartedAt: guess.addressWindow },
    ],
    outcome,
  );
}

/**
 * Uses one download of the link, in one statement: the count is raised only while the link is
 * live (document not trashed, creator may share, not expired) and below `max_downloads`, and the row lock makes
 * concurrent downloads wait and re-check the raised count, so of N+k at once exactly N pass. With
 * its `link.downloaded` row (no actor: the public has none), and, for a right password, the
 * attempt taken back from the throttle and the password's hash upgraded if it was stale.
 * False when no download was left (or the link died meanwhile).
 */
export async function countDownload(
  db: Database,
  input: {
    linkId: string;
    versionNumber: number;
    actor: Omit<Actor, "userId">;
    guess: CountedGuess | null;
    rehash: { from: string; to: string } | null;
  },
): Promise<boolean> {
  const release = input.guess
    ? sql`, r1 as (${endCheckSql(input.guess.linkKey, input.guess.linkWindow, "taken back")}),
           r2 as (${endCheckSql(input.guess.addressKey, input.guess.addressWindow, "taken back")})`
    : sql``;
  const newHash = input.rehash
    ? sql`case when l.password_hash = ${input.rehash.from}::text then ${input.rehash.to}::text else l.password_hash end`
    : sql`l.password_hash`;
  const result = await db.execute<{ id: string }>(sql`
    with used as (
      update share_links l set download_count = l.download_count + 1, password_hash = ${newHash}
      from documents d
      where l.id = ${input.linkId}::uuid and d.id = l.document_id and d.deleted_at is null
        and (l.expires_at is null or l.expires_at > now())
        and (l.max_downloads is null or l.download_count < l.max_downloads)
        and ${creatorMayShare(sql`l`, sql`d`)}
      returning l.id, l.document_id, l.download_count, l.max_downloads
    ),
    act as (${activity(
      // The public has no account: actor_id null, the client's address and user agent recorded.
      { userId: null, ...input.actor },
      "link.downloaded",
      sql`used.document_id`,
      sql`jsonb_build_object('link_id', used.id, 'version_number', ${input.versionNumber}::int,
            'download_count', used.download_count, 'max_downloads', used.max_downloads)`,
    )} from used)${release}
    select id from used`);
  return result.rows.length > 0;
}
