// The queue consumer's work: one attempt of one delivery. Each message names a delivery and the
// attempt count it was sent with; the attempt is claimed in the database (attempts + 1) only if
// that count is still current, so a duplicate or stale message (a re-queue racing a retry) does
// nothing. The owner must still be able to read the change when it is delivered (the feed's
// rule, src/changes/visibility.ts); a disabled or deleted webhook gets nothing more.
//
// Retries: a non-2xx answer, a timeout (10 s) or a network failure is retried with
// message.retry({delaySeconds}) on the schedule below (first retry after 30 s; about 32 hours in
// all, so at least 24). 410 Gone disables the webhook at once; a webhook whose attempts have failed
// without a success for 3 days is disabled. Redirects are not followed (a 3xx is a failure).
import { sql } from "drizzle-orm";
import { encodeCursor } from "../changes/cursor";
import { changeVisibleTo } from "../changes/visibility";
import type { Config } from "../config";
import { isTrue } from "../db/booleans";
import type { Database } from "../db/client";
import { iso } from "../documents/sql";
import { isUuid } from "../lib/uuid";
import type { WebhookMessage } from "./dispatcher";
import { decryptSecret, encryptSecret, signPayload } from "./secrets";
import { checkWebhookUrl, resolveAndCheck } from "./url-policy";

export const ATTEMPT_TIMEOUT_MS = 10_000;
/** Seconds before retry n (after attempt n failed); its length + 1 is the number of attempts. */
export const RETRY_DELAYS_SECONDS = [30, 120, 600, 1800, 3600, 7200, 14_400, 21_600, 21_600, 21_600, 21_600];
export const DISABLE_AFTER_FAILING_MS = 3 * 86_400_000;

export type Outcome =
  | { kind: "stale" }
  /** A first attempt waiting for an earlier delivery of its webhook (claim): send it again shortly. */
  | { kind: "waiting" }
  | { kind: "ended"; reason: string }
  | { kind: "delivered"; status: number }
  | { kind: "disabled"; status: number | null }
  | { kind: "retry"; status: number | null; delaySeconds: number }
  | { kind: "gave_up"; status: number | null };

type Claimed = {
  id: string;
  type: string;
  attempts: number;
  delivery_created_at: string;
  webhook_id: string;
  owner_id: string;
  url: string;
  secret_ciphertext: string;
  /** The claiming statement's snapshot xmin: "now" in the changes feed (a test event's cursor). */
  now_xmin: string;
  failing_since_ms: string | number | null;
  activity_id: string | null;
  action: string | null;
  actor_id: string | null;
  document_id: string | null;
  details: Record<string, unknown> | null;
  created_at: string | null;
  xact_id: string | null;
  seq: string | number | null;
};

type Claim =
  | { kind: "claimed"; row: Claimed }
  | { kind: "waiting" }
  | { kind: "stale" }
  | { kind: "ended"; reason: string };

/**
 * Claims the attempt `expectedAttempts + 1` of the delivery `message` names: nothing when the
 * count is not current (a duplicate or stale message) or the delivery is finished. A first attempt
 * also waits (`waiting`, nothing claimed) while an earlier delivery of the same webhook, in the
 * changes' commit order, has had no attempt yet or is being attempted under its lease: queue
 * batches may be consumed side by side, and the contract wants each webhook's events in order as
 * far as retries allow (a failed attempt waiting for its retry holds nothing back). A delivery
 * that may no longer be sent (the webhook disabled, or the owner unable to read the change now) is
 * ended in the same statement without counting an attempt, its last attempt's figures kept.
 */
async function claim(db: Database, message: WebhookMessage, expectedAttempts: number): Promise<Claim> {
  /** Delivery `wd` is at this attempt count and unfinished (re-checked by each update under its row lock). */
  const current = sql`wd.attempts = ${expectedAttempts} and wd.delivered_at is null and wd.ended_reason is null`;
  const result = await db.execute<Partial<Claimed> & { waiting: boolean | string; ended_reason: string | null }>(sql`
    with me as (
      select wd.id, wd.webhook_id, l.xact_id, l.seq from webhook_deliveries wd
      join activity_logs l on l.id = wd.activity_id
      where wd.id = ${message.delivery_id}::uuid and ${expectedAttempts}::int = 0
    ),
    waiting as (
      select exists (
        select 1 from me
        join webhook_deliveries e on e.webhook_id = me.webhook_id and e.id <> me.id
          and e.delivered_at is null and e.ended_reason is null
          and (e.attempts = 0 or (e.attempting and e.next_attempt_at > now()))
        join activity_logs el on el.id = e.activity_id
        where (el.xact_id, el.seq) < (me.xact_id, me.seq)) as yes
    ),
    target as (
      select wd.id,
             case when w.disabled_at is not null and wd.type <> 'webhook.test' then 'webhook_disabled'
                  when not (u.is_active and (wd.activity_id is null or ${changeVisibleTo(sql`w.owner_id`, sql`l`)}))
                    then 'no_access'
             end as refused
      from webhook_deliveries wd join webhooks w on w.id = wd.webhook_id join users u on u.id = w.owner_id
      left join activity_logs l on l.id = wd.activity_id
      where wd.id = ${message.delivery_id}::uuid and ${current} and not (select yes from waiting)
    ),
    ended as (
      update webhook_deliveries wd set ended_reason = t.refused, next_attempt_at = null, attempting = false
      from target t where wd.id = t.id and t.refused is not null and ${current}
      returning wd.ended_reason
    ),
    d as (
      update webhook_deliveries wd set attempts = attempts + 1, attempting = true, last_attempt_at = now(),
        next_attempt_at = now() + interval '5 minutes'
      from target t where wd.id = t.id and t.refused is null and ${current}
      returning wd.*
    )
    select (select yes from waiting) as waiting, (select ended_reason from ended) as ended_reason,
           d.id, d.type, d.attempts, ${iso(sql`d.created_at`)} as delivery_created_at,
           w.id as webhook_id, w.owner_id, w.url, w.secret_ciphertext,
           pg_snapshot_xmin(pg_current_snapshot())::text as now_xmin,
           (extract(epoch from w.failing_since) * 1000)::bigint as failing_since_ms,
           l.id as activity_id, l.action, l.actor_id, l.document_id, l.details,
           ${iso(sql`l.created_at`)} as created_at, l.xact_id::text as xact_id, l.seq
    from (select 1) one
    left join (d join webhooks w on w.id = d.webhook_id left join activity_logs l on l.id = d.activity_id) on true`);
  const row = result.rows[0];
  if (row?.id) return { kind: "claimed", row: row as Claimed };
  if (row?.ended_reason) return { kind: "ended", reason: row.ended_reason };
  return isTrue(row?.waiting) ? { kind: "waiting" } : { kind: "stale" };
}

async function end(db: Database, id: string, reason: string, status: number | null = null) {
  await db.execute(sql`
    update webhook_deliveries set ended_reason = ${reason}, next_attempt_at = null, last_status = ${status},
      attempting = false
    where id = ${id}::uuid`);
}

function payloadOf(row: Claimed): { type: string; timestamp: string; data: unknown } {
  if (row.activity_id === null || row.xact_id === null || row.seq === null) {
    // A test event has no activity row; its data has a Change's shape all the same (the contract:
    // `data` is the Change), with the feed's "now" as its cursor and no document.
    return {
      type: row.type,
      timestamp: row.delivery_created_at,
      data: {
        id: row.id,
        action: row.type,
        actor_id: row.owner_id,
        document_id: null,
        details: { webhook_id: row.webhook_id, message: "A test event sent with POST /webhooks/{id}/test." },
        created_at: row.delivery_created_at,
        cursor: encodeCursor({ xact: BigInt(row.now_xmin), seq: 0n }),
      },
    };
  }
  return {
    type: row.type,
    timestamp: row.created_at as string,
    data: {
      id: row.activity_id,
      action: row.action,
      actor_id: row.actor_id,
      document_id: row.document_id,
      details: row.details,
      created_at: row.created_at,
      cursor: encodeCursor({ xact: BigInt(row.xact_id), seq: BigInt(row.seq) }),
    },
  };
}

/**
 * The webhook's secret under the current key, or under WEBHOOK_SECRET_KEY_PREVIOUS after a
 * rotation, in which case it is re-encrypted under the current key (only if the row still holds
 * what was read, so a concurrent re-encryption is not overwritten).
 */
async function readSecret(db: Database, config: Config, row: Claimed): Promise<string | null> {
  const current = await decryptSecret(config.WEBHOOK_SECRET_KEY, row.webhook_id, row.secret_ciphertext);
  if (current || !config.WEBHOOK_SECRET_KEY_PREVIOUS) return current;
  const previous = await decryptSecret(config.WEBHOOK_SECRET_KEY_PREVIOUS, row.webhook_id, row.secret_ciphertext);
  if (previous) {
    const reencrypted = await encryptSecret(config.WEBHOOK_SECRET_KEY, row.webhook_id, previous);
    await db.execute(sql`
      update webhooks set secret_ciphertext = ${reencrypted}
      where id = ${row.webhook_id}::uuid and secret_ciphertext = ${row.secret_ciphertext}`);
  }
  return previous;
}

/** POSTs the signed event; answers the HTTP status, or null for a timeout or network failure. */
async function post(url: string, secret: string, id: string, body: string): Promise<number | null> {
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const res = await fetch(url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      headers: {
        "content-type": "application/json",
        "user-agent": "DocVault-Webhooks/1",
        "webhook-id": id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": await signPayload(secret, id, timestamp, body),
      },
      body,
    });
    await res.body?.cancel();
    return res.status;
  } catch {
    return null;
  }
}

/** One attempt of the delivery `message` names (`receivedAttempts`: the queue's count, from 1). */
export async function attemptDelivery(
  db: Database,
  config: Config,
  message: WebhookMessage,
  receivedAttempts: number,
): Promise<Outcome> {
  const claimed = await claim(db, message, message.attempts + receivedAttempts - 1);
  if (claimed.kind !== "claimed") return claimed;
  const { row } = claimed;
  const secret = await readSecret(db, config, row);
  if (!secret) {
    await end(db, row.id, "secret_unreadable");
    return { kind: "ended", reason: "secret_unreadable" };
  }
  let status: number | null;
  try {
    // The policy is checked again at each attempt: the configuration or the name's addresses may have changed.
    const url = checkWebhookUrl(row.url, config.WEBHOOK_ALLOW_PRIVATE_URLS);
    if (!config.WEBHOOK_ALLOW_PRIVATE_URLS) await resolveAndCheck(url);
    const { type, timestamp, data } = payloadOf(row);
    status = await post(url, secret, row.id, JSON.stringify({ id: row.id, type, timestamp, data }));
  } catch {
    await end(db, row.id, "url_refused");
    return { kind: "ended", reason: "url_refused" };
  }
  return record(db, row, status);
}

async function record(db: Database, row: Claimed, status: number | null): Promise<Outcome> {
  if (status !== null && status >= 200 && status < 300) {
    await db.execute(sql`
      with d as (update webhook_deliveries set delivered_at = now(), last_status = ${status}, next_attempt_at = null,
                   attempting = false
                 where id = ${row.id}::uuid returning webhook_id)
      update webhooks set failure_count = 0, failing_since = null where id = (select webhook_id from d)`);
    return { kind: "delivered", status };
  }
  const failingSince = row.failing_since_ms === null ? Date.now() : Number(row.failing_since_ms);
  const disable = status === 410 || Date.now() - failingSince >= DISABLE_AFTER_FAILING_MS;
  const delay = RETRY_DELAYS_SECONDS[row.attempts - 1];
  const outcome: Outcome = disable
    ? { kind: "disabled", status }
    : delay === undefined
      ? { kind: "gave_up", status }
      : { kind: "retry", status, delaySeconds: delay };
  const ended = outcome.kind === "disabled" ? "webhook_disabled" : outcome.kind === "gave_up" ? "gave_up" : null;
  await db.execute(sql`
    with d as (
      update webhook_deliveries set last_status = ${status}, ended_reason = ${ended}, attempting = false,
        next_attempt_at = ${outcome.kind === "retry" ? sql`now() + make_interval(secs => ${outcome.delaySeconds})` : null}
      where id = ${row.id}::uuid returning webhook_id
    )
    update webhooks set failure_count = failure_count + 1, failing_since = coalesce(failing_since, now()),
      disabled_at = case when ${disable} then coalesce(disabled_at, now()) else disabled_at end
    where id = (select webhook_id from d)`);
  return outcome;
}

/**
 * The webhook of each of these deliveries, and whether its receiver is failing (an attempt failed
 * since its last success), in one statement, so that a batch's attempts can run one webhook at a
 * time, in their order, webhooks side by side, and failing webhooks apart (queues.ts). A delivery
 * that no longer exists is absent (its attempt finds nothing to claim).
 */
export async function webhooksOfDeliveries(
  db: Database,
  deliveryIds: string[],
): Promise<Map<string, { webhookId: string; failing: boolean }>> {
  const ids = deliveryIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const result = await db.execute<{ id: string; webhook_id: string; failing: boolean | string }>(sql`
    select d.id, d.webhook_id, w.failing_since is not null as failing
    from webhook_deliveries d join webhooks w on w.id = d.webhook_id
    where d.id = any(${sql.param(ids)}::uuid[])`);
  return new Map(result.rows.map((row) => [row.id, { webhookId: row.webhook_id, failing: isTrue(row.failing) }]));
}

/** A message the queue gave up on (dead-lettered): its delivery ends, so the re-queue leaves it. */
export async function endDeadLettered(db: Database, message: WebhookMessage): Promise<void> {
  await db.execute(sql`
    update webhook_deliveries set ended_reason = 'dead_lettered', next_attempt_at = null
    where id = ${message.delivery_id}::uuid and delivered_at is null and ended_reason is null`);
}
