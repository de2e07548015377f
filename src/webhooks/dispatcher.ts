// The dispatcher: moves new activity rows (the outbox) to webhook deliveries and the queue.
//
// Its position is persisted (maintenance_state "webhook_dispatch_position", "<xact_id>:<seq>") and
// advances like the changes feed's cursor (src/changes/feed.store.ts): only over rows whose
// transaction is below the statement's snapshot xmin, in (xact_id, seq) order, so a change that
// commits late is never passed over. One statement takes the position row FOR UPDATE (dispatchers
// that overlap queue up behind it and continue from where the previous one stopped), reads the
// next rows, inserts one delivery per matching webhook (unique per webhook and row: a change is
// recorded once per webhook however often it is scanned) and moves the position. Then the new
// deliveries are sent to the queue. If the Worker dies between the statement and the send, the
// deliveries exist without a message: the scheduled job re-queues every delivery that is due and
// has not been attempted for a while (requeueStale), so nothing recorded is lost. It runs right
// after each change (waitUntil from the request that made it, so the first attempt leaves within
// seconds) and every minute from the Cron Trigger (a crash between a commit and the dispatch).
import { sql } from "drizzle-orm";
import { heldBackUpTo, type PassEnd, passUntilReleased, positionAfter } from "../changes/held-back";
import { changeVisibleTo } from "../changes/visibility";
import type { Database } from "../db/client";
import { coalescedPasses } from "../lib/coalesced-passes";

export const DISPATCH_POSITION = "webhook_dispatch_position";

/** What goes on the queue: the delivery, and how many attempts it had when sent. */
/** `waits`: how often a first attempt went back to the queue to wait for an earlier delivery (queues.ts). */
export type WebhookMessage = { delivery_id: string; attempts: number; waits?: number };

export type WebhookQueue = Pick<Queue<WebhookMessage>, "sendBatch">;

const ROWS_PER_STATEMENT = 500;
const STATEMENTS_PER_RUN = 10;
/** A due delivery with no attempt for this long lost its message: it is queued again. */
export const STALE_AFTER_SECONDS = 300;

async function send(queue: WebhookQueue, messages: WebhookMessage[]) {
  for (let i = 0; i < messages.length; i += 100) {
    await queue.sendBatch(messages.slice(i, i + 100).map((body) => ({ body, contentType: "json" as const })));
  }
}

async function dispatchOnce(db: Database): Promise<{ positioned: boolean; scanned: number; ids: string[] } & PassEnd> {
  const result = await db.execute<{
    positioned: boolean;
    scanned: string | number;
    ids: string[];
    position: string | null;
    held_up_to: string | null;
  }>(sql`
    with pos as (
      select split_part(value, ':', 1)::xid8 as xact, split_part(value, ':', 2)::bigint as seq
      from maintenance_state where name = ${DISPATCH_POSITION} for update
    ),
    batch as materialized (
      select l.id, l.xact_id, l.seq, l.action, l.document_id, l.details
      from activity_logs l, pos
      where (l.xact_id, l.seq) > (pos.xact, pos.seq)
        and l.xact_id < pg_snapshot_xmin(pg_current_snapshot())
      order by l.xact_id, l.seq limit ${ROWS_PER_STATEMENT}
    ),
    ins as (
      insert into webhook_deliveries (webhook_id, activity_id, type, next_attempt_at)
      select w.id, b.id, b.action, now()
      from batch b
      join webhooks w on w.disabled_at is null and b.xact_id >= w.start_xact
        and (w.events is null or b.action = any (w.events))
        and (w.document_id is null or w.document_id = b.document_id)
      join users u on u.id = w.owner_id and u.is_active
      where ${changeVisibleTo(sql`w.owner_id`, sql`b`)}
      order by b.xact_id, b.seq, w.id
      on conflict (webhook_id, activity_id) do nothing
      returning id
    ),
    moved as (
      update maintenance_state set updated_at = now(),
        value = (select xact_id::text || ':' || seq::text from batch order by xact_id desc, seq desc limit 1)
      where name = ${DISPATCH_POSITION} and exists (select 1 from batch)
    )
    select exists (select 1 from pos) as positioned, (select count(*) from batch) as scanned,
           array(select id::text from ins) as ids,
           ${positionAfter(sql`batch`, sql`pos`)} as position, ${heldBackUpTo(sql`pos`)} as held_up_to`);
  const row = result.rows[0];
  return {
    positioned: Boolean(row?.positioned),
    scanned: Number(row?.scanned ?? 0),
    ids: row?.ids ?? [],
    position: row?.position ?? "0:0",
    heldUpTo: row?.held_up_to ?? null,
  };
}

/**
 * Moves what committed since the last run to the queue; answers how many deliveries were queued.
 * While committed changes are held back by an older open transaction, it tries again until it has
 * passed them, for a while (held-back.ts), so their first attempts still leave within seconds.
 */
export async function dispatchChanges(db: Database, queue: WebhookQueue): Promise<number> {
  let queued = 0;
  await passUntilReleased(async (): Promise<PassEnd> => {
    let end: PassEnd = { position: "0:0", heldUpTo: null };
    for (let i = 0; i < STATEMENTS_PER_RUN; i++) {
      const run = await dispatchOnce(db);
      if (!run.positioned) {
        // A new database: start at the beginning (webhooks only take rows from their creation on).
        await db.execute(sql`
          insert into maintenance_state (name, value) values (${DISPATCH_POSITION}, '0:0') on conflict (name) do nothing`);
        continue;
      }
      await send(
        queue,
        run.ids.map((id) => ({ delivery_id: id, attempts: 0 })),
      );
      queued += run.ids.length;
      end = { position: run.position, heldUpTo: run.heldUpTo };
      if (run.scanned < ROWS_PER_STATEMENT) break;
    }
    return end;
  });
  return queued;
}

/**
 * Deliveries still due whose last message was lost (a crash after recording them, a failed send)
 * are sent again. Claimed with SKIP LOCKED and their next attempt pushed back, so overlapping runs
 * do not both send one. A duplicate message is harmless: the consumer acts only on the message
 * whose attempt count matches the delivery's (src/webhooks/delivery.ts).
 */
export async function requeueStale(db: Database, queue: WebhookQueue, max = 500): Promise<number> {
  const result = await db.execute<{ id: string; attempts: number }>(sql`
    update webhook_deliveries d set next_attempt_at = now()
    from (select id from webhook_deliveries
          where delivered_at is null and ended_reason is null
            and next_attempt_at < now() - make_interval(secs => ${STALE_AFTER_SECONDS})
          order by next_attempt_at limit ${max} for update skip locked) due
    where d.id = due.id
    returning d.id, d.attempts`);
  await send(
    queue,
    result.rows.map((r) => ({ delivery_id: r.id, attempts: Number(r.attempts) })),
  );
  return result.rows.length;
}

// Passes started by requests of this isolate run one at a time (src/lib/coalesced-passes.ts); a
// pass older than 30 s is taken for lost and a new one starts.
const dispatchPasses = coalescedPasses({ staleAfterMs: 30_000 });

/** For waitUntil after a change: a dispatch pass now, or one more after the pass running. */
export function dispatchSoon(db: Database, queue: WebhookQueue, onError: (error: unknown) => void): Promise<void> {
  return dispatchPasses(() => dispatchChanges(db, queue).catch(onError));
}
