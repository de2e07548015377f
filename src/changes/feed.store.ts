// The changes feed's statement: one page of the changes a user can see, in commit order, after
// a position. One round trip, index-backed.
//
// Why not a sequence alone: sequence numbers (and timestamps) are taken when a row is written,
// not when its transaction commits, so a reader can see row 11 while row 10's transaction is
// still open; a cursor that moved past 11 would skip 10 forever. Each activity row records its
// writing transaction (`xact_id`, pg_current_xact_id()) and the statement serves only rows whose
// transaction is below its snapshot's xmin (pg_snapshot_xmin(pg_current_snapshot())): every
// transaction below xmin has ended, so no row below it can still appear, and every transaction
// still running (or yet to start) has an id at or above xmin, above any position already served.
// Rows are ordered by (xact_id, seq); the cursor is the last one served. A row committed late is
// thus held back until it is safe to serve, never skipped; none is served twice.
import { type SQL, sql } from "drizzle-orm";
import { isTrue } from "../db/booleans";
import type { Database } from "../db/client";
import type { ActivityView } from "../documents/activity.store";
import { callerOpen, iso } from "../documents/sql";
import { encodeCursor, invalidCursor, type Position } from "./cursor";

/** A Change: an Activity plus its position in the feed. */
export type ChangeView = ActivityView & { cursor: string };

type ChangeRow = Omit<ChangeView, "cursor" | "id"> & {
  id: string | null;
  xact_id: string;
  seq: string | number;
  issued: boolean | string;
};

/** The transactions below this have all ended (the statement's snapshot xmin). */
const SAFE_XMIN = sql`pg_snapshot_xmin(pg_current_snapshot())`;

/** Rows of `l` after `after` and below the snapshot's xmin, in commit order. */
const afterPosition = (after: Position) =>
  sql`(l.xact_id, l.seq) > (${after.xact.toString()}::xid8, ${after.seq.toString()}::bigint)
      and l.xact_id < (select xmin from snap)`;

const ids = (source: SQL, where: SQL, limit: number) => sql`
  select c.id, c.xact_id, c.seq from ${source} cross join lateral (
    select l.id, l.xact_id, l.seq from activity_logs l
    where ${where}
    order by l.xact_id, l.seq limit ${limit}) c`;

/**
 * One row, `ok`: whether `after` is a position this service can have issued. Every cursor it
 * issues is a served row's (its transaction below a snapshot's xmin, its seq taken from the
 * identity sequence) or "now" (a snapshot's xmin, seq 0), and later snapshots' xmins do not go
 * back, so a cursor whose transaction is above the current xmin, or whose seq is above the
 * sequence's last value, was made up: 422, not an empty page that would wait there for the
 * database to catch up and then skip what came before it.
 */
const issuedPosition = (after: Position) => sql`(select
    ${after.xact.toString()}::xid8 <= (select xmin from snap)
    and ${after.seq.toString()}::bigint <= coalesce(pg_sequence_last_value('activity_logs_seq_seq'::regclass), 0) as ok)`;

/**
 * Up to `limit` changes visible to `userId` after `after` (src/changes/visibility.ts states the
 * rule), and whether more follow. Each readable document contributes at most `limit + 1` rows
 * through its own index range, so a page costs the same however long the log is.
 */
export async function changesAfter(
  db: Database,
  input: { userId: string; after: Position; limit: number },
): Promise<{ items: ChangeView[]; hasMore: boolean }> {
  const result = await db.execute<ChangeRow>(changesStatement(input));
  if (!isTrue(result.rows[0]?.issued)) throw invalidCursor("A position this service has not reached.");
  const rows = result.rows.filter((row) => row.id !== null);
  return {
    hasMore: rows.length > input.limit,
    items: rows.slice(0, input.limit).map(({ xact_id, seq, issued: _, id, ...row }) => ({
      ...row,
      id: id as string,
      cursor: encodeCursor({ xact: BigInt(xact_id), seq: BigInt(seq) }),
    })),
  };
}

/** The statement of changesAfter (`limit + 1` rows), also explained by `npm run bench:explain`. */
export function changesStatement(input: { userId: string; after: Position; limit: number }): SQL {
  const user = sql`${input.userId}::uuid`;
  const take = input.limit + 1;
  return sql`
    with snap as materialized (select ${SAFE_XMIN} as xmin where ${callerOpen(input.userId)}),
    readable as (
      select d.id from documents d where d.owner_id = ${user} and d.deleted_at is null
      union all
      select p.document_id from document_permissions p join documents d on d.id = p.document_id
      where p.user_id = ${user} and d.deleted_at is null
    ),
    gone as (
      select d.id from documents d where d.owner_id = ${user} and d.deleted_at is not null
      union all
      select p.document_id from document_permissions p join documents d on d.id = p.document_id
      where p.user_id = ${user} and d.deleted_at is not null
    ),
    candidates as (
      ${ids(sql`readable r`, sql`l.document_id = r.id and ${afterPosition(input.after)}`, take)}
      union all
      ${ids(sql`gone g`, sql`l.document_id = g.id and l.action = 'document.deleted' and ${afterPosition(input.after)}`, take)}
      union all
      (select l.id, l.xact_id, l.seq from activity_logs l
       where l.action = 'permission.revoked' and l.details->>'user_id' = ${user}::text
         and ${afterPosition(input.after)}
         and l.document_id not in (select id from readable)
       order by l.xact_id, l.seq limit ${take})
    ),
    page as (select id, xact_id, seq from candidates order by xact_id, seq limit ${take})
    select issued.ok as issued, l.id, l.action, l.actor_id, l.document_id, l.details,
           ${iso(sql`l.created_at`)} as created_at, page.xact_id::text as xact_id, page.seq
    from ${issuedPosition(input.after)} issued
    left join (page join activity_logs l on l.id = page.id) on true
    order by page.xact_id, page.seq`;
}

/**
 * "Now": every change committed so far is before it, every later one after it. The snapshot's
 * xmin with sequence 0: rows of transactions below xmin are before it, and rows of transactions
 * at or above it (still running or not yet begun) are after it, whatever their sequence number.
 */
export async function latestPosition(db: Database, userId: string): Promise<Position> {
  const result = await db.execute<{ xmin: string }>(sql`select ${SAFE_XMIN}::text as xmin where ${callerOpen(userId)}`);
  return { xact: BigInt(result.rows[0]?.xmin ?? "0"), seq: 0n };
}
