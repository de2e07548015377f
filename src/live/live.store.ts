// The registry of live sockets and the live dispatcher's statement.
//
// live_connections has a row per (kind, object, user) with a socket open: kind `events` (the
// user's own object) or `presence` (a document's object). The objects write it (first socket
// of a user: upsert; last socket closed: delete), so the dispatcher can tell from the database,
// in the statement that reads the new changes, which users are connected: a change nobody is
// connected for costs no object wake-up. A row whose object died without closing (a crash, a
// deploy) is removed the first time a notification finds no socket there (`forget`).
//
// The dispatcher reads the activity log like the changes feed and the webhook dispatcher: its
// own position (maintenance_state "live_dispatch_position"), only rows below the snapshot's xmin,
// in (xact_id, seq) order, so what it pushes is exactly what GET /changes lists, cursor included.
import { sql } from "drizzle-orm";
import { encodeCursor } from "../changes/cursor";
import type { ChangeView } from "../changes/feed.store";
import { heldBackUpTo, positionAfter } from "../changes/held-back";
import { readsNow } from "../changes/visibility";
import type { Database } from "../db/client";
import { iso } from "../documents/sql";

export const LIVE_POSITION = "live_dispatch_position";
export type LiveKind = "events" | "presence";
const ROWS_PER_STATEMENT = 500;

/** The object's user has a socket open on it (connectedAt: the object's clock, ms). */
export async function registerConnection(
  db: Database,
  input: { kind: LiveKind; objectId: string; userId: string; connectedAt: number },
): Promise<void> {
  await db.execute(sql`
    insert into live_connections (kind, object_id, user_id, connected_at)
    values (${input.kind}, ${input.objectId}::uuid, ${input.userId}::uuid, to_timestamp(${input.connectedAt} / 1000.0))
    on conflict (kind, object_id, user_id) do update set connected_at = excluded.connected_at`);
}

/**
 * The user's last socket on the object closed at `closedAt`: the row goes, unless a socket
 * registered after that (a reconnection racing with the close).
 */
export async function unregisterConnection(
  db: Database,
  input: { kind: LiveKind; objectId: string; userId: string; closedAt: number },
): Promise<void> {
  await db.execute(sql`
    delete from live_connections
    where kind = ${input.kind} and object_id = ${input.objectId}::uuid and user_id = ${input.userId}::uuid
      and connected_at <= to_timestamp(${input.closedAt} / 1000.0)`);
}

/** A notification found no socket: the row goes if nothing registered since it was read. */
export async function forgetConnection(
  db: Database,
  input: { kind: LiveKind; objectId: string; userId: string; connectedAt: string },
): Promise<void> {
  await db.execute(sql`
    delete from live_connections
    where kind = ${input.kind} and object_id = ${input.objectId}::uuid and user_id = ${input.userId}::uuid
      and connected_at = ${input.connectedAt}::timestamptz`);
}

export type Connection = { kind: LiveKind; objectId: string; userId: string; connectedAt: string };

/** Every object where the user has a socket (closing an account closes them all). */
export async function connectionsOf(db: Database, userId: string): Promise<Connection[]> {
  const result = await db.execute<{ kind: LiveKind; object_id: string; user_id: string; connected_at: string }>(sql`
    select kind, object_id, user_id, connected_at::text from live_connections where user_id = ${userId}::uuid`);
  return result.rows.map((r) => ({
    kind: r.kind,
    objectId: r.object_id,
    userId: r.user_id,
    connectedAt: r.connected_at,
  }));
}

export type LiveBatch = {
  positioned: boolean;
  scanned: number;
  /** Where the pass left the position, and the last committed change after it still held back (held-back.ts). */
  position: string;
  heldUpTo: string | null;
  /** Changes per connected user, in commit order. */
  pushes: { userId: string; connectedAt: string; changes: ChangeView[] }[];
  /** Users present on a document they can no longer read (closed 4403). */
  evictions: { documentId: string; userIds: string[] }[];
};

type PushRow = Omit<ChangeView, "cursor"> & { user_id: string; connected_at: string; xact_id: string; seq: string };

/**
 * One pass: the next committed rows after the position, each paired with the connected users of
 * its audience (who could read its document when it was made: the changes feed's rule), and the present
 * users of those rows' documents who can no longer read them (open accounts only: a closed one
 * gets 4401 from the closure). Moves the position in the same statement.
 */
export async function nextLiveBatch(db: Database): Promise<LiveBatch> {
  const result = await db.execute<{
    positioned: boolean;
    scanned: string;
    position: string | null;
    held_up_to: string | null;
    pushes: PushRow[] | null;
    evictions: { document_id: string; user_ids: string[] }[] | null;
  }>(sql`
    with pos as (
      select split_part(value, ':', 1)::xid8 as xact, split_part(value, ':', 2)::bigint as seq
      from maintenance_state where name = ${LIVE_POSITION} for update
    ),
    batch as materialized (
      select l.id, l.xact_id, l.seq, l.action, l.actor_id, l.document_id, l.details, l.created_at
      from activity_logs l, pos
      where (l.xact_id, l.seq) > (pos.xact, pos.seq)
        and l.xact_id < pg_snapshot_xmin(pg_current_snapshot())
      order by l.xact_id, l.seq limit ${ROWS_PER_STATEMENT}
    ),
    -- Each row goes to the connected users of its audience (change_audience: who could read its
    -- document when it was made, what the changes feed lists them), so a socket and the feed a
    -- reconnecting client catches up from list the same changes. One range of the audience's
    -- primary key per connected user, over the batch's positions.
    pushes as (
      select lc.user_id, lc.connected_at::text as connected_at, b.id, b.action, b.actor_id, b.document_id, b.details,
             ${iso(sql`b.created_at`)} as created_at, b.xact_id::text as xact_id, b.seq::text as seq
      from live_connections lc
      join change_audience a on a.user_id = lc.user_id
        and (a.xact_id, a.seq) >= (select xact_id, seq from batch order by xact_id, seq limit 1)
        and (a.xact_id, a.seq) <= (select xact_id, seq from batch order by xact_id desc, seq desc limit 1)
      join batch b on b.xact_id = a.xact_id and b.seq = a.seq
      where lc.kind = 'events' and lc.object_id = lc.user_id
    ),
    evictions as (
      select lc.object_id as document_id, array_agg(distinct lc.user_id::text) as user_ids
      from live_connections lc
      join users u on u.id = lc.user_id and u.is_active
      where lc.kind = 'presence' and lc.object_id in (select document_id from batch)
        and not ${readsNow(sql`lc.user_id`, sql`lc.object_id`)}
      group by lc.object_id
    ),
    moved as (
      update maintenance_state set updated_at = now(),
        value = (select xact_id::text || ':' || seq::text from batch order by xact_id desc, seq desc limit 1)
      where name = ${LIVE_POSITION} and exists (select 1 from batch)
    )
    select exists (select 1 from pos) as positioned, (select count(*) from batch)::text as scanned,
           ${positionAfter(sql`batch`, sql`pos`)} as position, ${heldBackUpTo(sql`pos`)} as held_up_to,
           (select json_agg(p order by p.user_id, p.xact_id::xid8, p.seq::bigint) from pushes p) as pushes,
           (select json_agg(evictions) from evictions) as evictions`);
  const row = result.rows[0];
  const byUser = new Map<string, { userId: string; connectedAt: string; changes: ChangeView[] }>();
  for (const { user_id, connected_at, xact_id, seq, ...change } of row?.pushes ?? []) {
    let entry = byUser.get(user_id);
    if (!entry) {
      entry = { userId: user_id, connectedAt: connected_at, changes: [] };
      byUser.set(user_id, entry);
    }
    entry.changes.push({ ...change, cursor: encodeCursor({ xact: BigInt(xact_id), seq: BigInt(seq) }) });
  }
  return {
    positioned: Boolean(row?.positioned),
    scanned: Number(row?.scanned ?? 0),
    position: row?.position ?? "0:0",
    heldUpTo: row?.held_up_to ?? null,
    pushes: [...byUser.values()],
    evictions: (row?.evictions ?? []).map((e) => ({ documentId: e.document_id, userIds: e.user_ids })),
  };
}

/** A new database (or the first run): live events start now, not at the beginning of the log. */
export async function startLivePosition(db: Database): Promise<void> {
  await db.execute(sql`
    insert into maintenance_state (name, value)
    values (${LIVE_POSITION}, pg_snapshot_xmin(pg_current_snapshot())::text || ':0')
    on conflict (name) do nothing`);
}
