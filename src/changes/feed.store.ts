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

/** Positions of `a` after `after` and below the snapshot's xmin. */
const afterPosition = (after: Position) =>
  sql`(a.xact_id, a.seq) > (${after.xact.toString()}::xid8, ${after.seq.toString()}::bigint)
      and a.xact_id < (select xmin from snap)`;

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
 * Up to `limit` changes visible to `userId` after `after`, and whether more follow. Visible means
 * the user could read the change's document when the change was made, which change_audience
 * records for every change as it is written (`docvault_change_readers`, migration 0020, states the
 * rule): a page is one range of that table's primary key, so it costs the same however long the
 * log is and however many documents the user reads.
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
  const take = input.limit + 1;
  return sql`
    with snap as materialized (select ${SAFE_XMIN} as xmin where ${callerOpen(input.userId)}),
    page as (
      select a.xact_id, a.seq from change_audience a
      where a.user_id = ${input.userId}::uuid and ${afterPosition(input.after)}
      order by a.xact_id, a.seq limit ${take}
    )
    select issued.ok as issued, l.id, l.action, l.actor_id, l.document_id, l.details,
           ${iso(sql`l.created_at`)} as created_at, page.xact_id::text as xact_id, page.seq
    from ${issuedPosition(input.after)} issued
    left join (page join activity_logs l on l.xact_id = page.xact_id and l.seq = page.seq) on true
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
