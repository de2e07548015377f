// Webhook rows: a user's subscriptions and the deliveries made for them. Same rules as the other
// stores: one round trip each, the caller's open account and ownership checked in the statement.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ActivityAction } from "../documents/activity-actions";
import { documentNotFound } from "../documents/documents.store";
import { accessCte, callerOpen, iso } from "../documents/sql";
import { Failure } from "../lib/failure";
import { offsetOf, type Page, type PageRequest } from "../lib/page-request";

export type WebhookView = {
  id: string;
  url: string;
  events: ActivityAction[] | null;
  document_id: string | null;
  created_at: string;
  disabled_at: string | null;
  failure_count: number;
};

export type DeliveryView = {
  event_id: string;
  type: string;
  attempts: number;
  last_status: number | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  ended_reason: DeliveryEndedReason | null;
};

/**
 * Why a delivery will not be attempted again without having been delivered (webhook_deliveries.ended_reason,
 * written by src/webhooks/delivery.ts).
 */
export const DELIVERY_ENDED_REASONS = [
  "gave_up",
  "webhook_disabled",
  "no_access",
  "url_refused",
  "secret_unreadable",
  "dead_lettered",
] as const;
export type DeliveryEndedReason = (typeof DELIVERY_ENDED_REASONS)[number];

export const webhookNotFound = () => new Failure("webhook_not_found", "No such webhook.");

const webhookColumns = sql`w.id, w.url, w.events, w.document_id, ${iso(sql`w.created_at`)} as created_at,
  case when w.disabled_at is null then null else ${iso(sql`w.disabled_at`)} end as disabled_at, w.failure_count`;

const toView = (row: WebhookView): WebhookView => ({ ...row, failure_count: Number(row.failure_count) });

export const webhookLimitReached = (limit: number) =>
  new Failure(
    "webhook_limit_reached",
    `You already have ${limit} webhooks, the most one account may have; delete one to add another.`,
  );

/**
 * Inserts the webhook if the caller may read its document (when it names one) and has fewer than
 * `limit` webhooks. The count is users.webhook_count (kept by a trigger on webhooks), read under
 * the user row's lock: a concurrent creation waits, and the condition is checked again on the row
 * it committed, so concurrent creations cannot pass the limit (a count(*) here would read the
 * statement's snapshot, taken before the wait).
 */
export async function createWebhook(
  db: Database,
  input: {
    id: string;
    ownerId: string;
    url: string;
    events: readonly ActivityAction[] | null;
    documentId: string | null;
    secretCiphertext: string;
    limit: number;
  },
): Promise<WebhookView> {
  // A document filter needs READ (any role) on the document now; without one, nothing to check.
  const access = input.documentId
    ? sql`with ${accessCte(input.documentId, input.ownerId)}`
    : sql`with access as (select null::uuid as id where ${callerOpen(input.ownerId)})`;
  const result = await db.execute<WebhookView & { accessible: boolean }>(sql`
    ${access},
    slot as (
      select u.id from users u
      where u.id = ${input.ownerId}::uuid and u.webhook_count < ${input.limit} and exists (select 1 from access)
      for no key update
    ),
    w as (
      insert into webhooks (id, owner_id, url, events, document_id, secret_ciphertext)
      select ${input.id}::uuid, ${input.ownerId}::uuid, ${input.url},
             ${input.events === null ? null : sql.param(input.events)}::text[], ${input.documentId}::uuid,
             ${input.secretCiphertext}
      where exists (select 1 from slot)
      returning *
    )
    select ${webhookColumns}, exists (select 1 from access) as accessible
    from (select 1) one left join w on true`);
  const row = result.rows[0];
  if (!row?.accessible) throw documentNotFound();
  if (!row.id) throw webhookLimitReached(input.limit);
  const { accessible: _, ...view } = row;
  return toView(view);
}

export async function listWebhooks(db: Database, ownerId: string, page: PageRequest): Promise<Page<WebhookView>> {
  const result = await db.execute<WebhookView & { total: string | number }>(sql`
    with mine as (select * from webhooks where owner_id = ${ownerId}::uuid and ${callerOpen(ownerId)})
    select ${webhookColumns}, (select count(*) from mine) as total
    from (select * from mine order by created_at desc, id desc limit ${page.limit} offset ${offsetOf(page)}) w
    order by w.created_at desc, w.id desc`);
  const total = result.rows[0] ? Number(result.rows[0].total) : await countWebhooks(db, ownerId);
  return { total, items: result.rows.map(({ total: _, ...row }) => toView(row)) };
}

async function countWebhooks(db: Database, ownerId: string): Promise<number> {
  const result = await db.execute<{ n: string }>(
    sql`select count(*) as n from webhooks where owner_id = ${ownerId}::uuid and ${callerOpen(ownerId)}`,
  );
  return Number(result.rows[0]?.n ?? 0);
}

export async function getWebhook(db: Database, id: string, ownerId: string): Promise<WebhookView> {
  const result = await db.execute<WebhookView>(sql`
    select ${webhookColumns} from webhooks w
    where w.id = ${id}::uuid and w.owner_id = ${ownerId}::uuid and ${callerOpen(ownerId)}`);
  const row = result.rows[0];
  if (!row) throw webhookNotFound();
  return toView(row);
}

/** Removes the webhook and its deliveries; queued messages for them find nothing and are dropped. */
export async function deleteWebhook(db: Database, id: string, ownerId: string): Promise<void> {
  const result = await db.execute<{ id: string }>(sql`
    delete from webhooks where id = ${id}::uuid and owner_id = ${ownerId}::uuid and ${callerOpen(ownerId)}
    returning id`);
  if (result.rows.length === 0) throw webhookNotFound();
}

/** Records a `webhook.test` delivery for the caller's webhook; answers its id, to be queued. */
export async function recordTestDelivery(db: Database, id: string, ownerId: string): Promise<string> {
  const result = await db.execute<{ id: string }>(sql`
    insert into webhook_deliveries (webhook_id, type, next_attempt_at)
    select w.id, 'webhook.test', now() from webhooks w
    where w.id = ${id}::uuid and w.owner_id = ${ownerId}::uuid and ${callerOpen(ownerId)}
    returning id`);
  const row = result.rows[0];
  if (!row) throw webhookNotFound();
  return row.id;
}

const maybeIso = (column: string) =>
  sql`case when ${sql.raw(column)} is null then null else ${iso(sql.raw(column))} end`;

export async function listDeliveries(
  db: Database,
  input: { webhookId: string; ownerId: string } & PageRequest,
): Promise<Page<DeliveryView>> {
  const result = await db.execute<Partial<DeliveryView> & { found: boolean; total: string | number }>(sql`
    with w as (select id from webhooks where id = ${input.webhookId}::uuid and owner_id = ${input.ownerId}::uuid
               and ${callerOpen(input.ownerId)}),
    page as (
      select * from webhook_deliveries where webhook_id = (select id from w)
      order by created_at desc, id desc limit ${input.limit} offset ${offsetOf(input)}
    )
    select exists (select 1 from w) as found,
           (select count(*) from webhook_deliveries where webhook_id = (select id from w)) as total,
           p.id as event_id, p.type, p.attempts, p.last_status,
           ${maybeIso("p.last_attempt_at")} as last_attempt_at, ${maybeIso("p.next_attempt_at")} as next_attempt_at,
           ${maybeIso("p.delivered_at")} as delivered_at, p.ended_reason
    from (select 1) one left join page p on true
    order by p.created_at desc nulls last, p.id desc`);
  if (!result.rows[0]?.found) throw webhookNotFound();
  return {
    total: Number(result.rows[0].total),
    items: result.rows
      .filter((r) => r.event_id)
      .map(({ found: _, total: __, ...r }) => ({
        ...(r as DeliveryView),
        attempts: Number(r.attempts),
        last_status: r.last_status === null || r.last_status === undefined ? null : Number(r.last_status),
      })),
  };
}

/**
 * Deletes up to `max` finished deliveries (delivered, or ended without success) created more
 * than `retentionDays` ago, oldest first; answers how many. A delivery still being retried stays
 * whatever its age. A pruned delivery is never made again: the dispatcher only moves forward.
 */
export async function pruneDeliveries(db: Database, retentionDays: number, max: number): Promise<number> {
  const result = await db.execute<{ n: string | number }>(sql`
    with old as (
      select id from webhook_deliveries
      where created_at < now() - make_interval(days => ${retentionDays}::int)
        and (delivered_at is not null or ended_reason is not null)
      order by created_at
      limit ${max}
    ),
    gone as (delete from webhook_deliveries d using old where d.id = old.id returning 1)
    select count(*) as n from gone`);
  return Number(result.rows[0]?.n ?? 0);
}
