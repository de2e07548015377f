// The Worker's queue() handler: one consumer for every queue of wrangler.toml [[queues.consumers]],
// dispatching by queue name: webhook deliveries (src/webhooks/) and content extraction
// (src/content/), each with its dead-letter queue. Other background work adds its queue and case here.
import type { Config } from "./config";
import { consumeContent, consumeContentDeadLetters, contentDeps } from "./content/consume";
import { createDatabase, type Database } from "./db/client";
import { createLogger, describeError, type Logger } from "./lib/logger";
import { type LiveBindings, notifyLiveSoon } from "./live/notify";
import { attemptDelivery, endDeadLettered, webhooksOfDeliveries } from "./webhooks/delivery";
import { dispatchSoon, type WebhookMessage, type WebhookQueue } from "./webhooks/dispatcher";

/** Queue names as wrangler.toml declares them. */
export const QUEUES = {
  webhooks: "docvault-webhooks",
  webhooksSlow: "docvault-webhooks-slow",
  webhooksDead: "docvault-webhooks-dlq",
  content: "docvault-content",
  contentDead: "docvault-content-dlq",
} as const;

const isWebhookMessage = (body: unknown): body is WebhookMessage =>
  typeof body === "object" &&
  body !== null &&
  typeof (body as WebhookMessage).delivery_id === "string" &&
  Number.isInteger((body as WebhookMessage).attempts);

/**
 * Acks `messages` and sends each again as a new message with the attempt count it has reached
 * (a new message's queue count starts over, and the claim checks the sum of the two).
 */
async function sendAgain(
  queue: WebhookQueue,
  messages: Message<WebhookMessage>[],
  options: { waits?: number; delaySeconds?: number } = {},
) {
  await queue.sendBatch(
    messages.map((message) => ({
      body: {
        delivery_id: message.body.delivery_id,
        attempts: message.body.attempts + message.attempts - 1,
        ...(options.waits === undefined ? {} : { waits: options.waits }),
      },
      ...(options.delaySeconds === undefined ? {} : { delaySeconds: options.delaySeconds }),
    })),
  );
  for (const message of messages) message.ack();
}

/**
 * A first attempt that waits for an earlier delivery of its webhook (delivery.ts, claim) goes back
 * to the queue as a new message with the same attempt count, after 1 s (10 s after ten waits): a
 * retry of this one would count as an attempt, and the claim would then take it for a stale one.
 */
async function waitForEarlier(message: Message<WebhookMessage>, queue: WebhookQueue | undefined) {
  const waits = (message.body.waits ?? 0) + 1;
  if (!queue) {
    message.retry({ delaySeconds: 1 });
    return;
  }
  await sendAgain(queue, [message], { waits, delaySeconds: waits > 10 ? 10 : 1 });
}

/** Where a batch's webhook messages go: the queue they came from, and the failing webhooks' queue. */
type WebhookQueues = { own: WebhookQueue | undefined; failing?: WebhookQueue | undefined };

/**
 * One batch of webhook deliveries. One webhook's events one at a time, in the order they were
 * queued; different webhooks side by side, so that a receiver answering slowly (up to the 10 s
 * timeout) delays only its own. A webhook whose receiver is failing is not attempted here but in
 * the failing webhooks' queue, consumed apart (its own batches, its own invocations), so that its
 * timeouts never hold back another webhook's first attempt in a later batch of this queue; a
 * webhook that fails in this batch sends the rest of its lane there too.
 */
async function deliverWebhooks(batch: MessageBatch<unknown>, config: Config, queues: WebhookQueues) {
  const db = createDatabase(config);
  const logger = createLogger(config.LOG_LEVEL, { queue: batch.queue });
  const messages: Message<WebhookMessage>[] = [];
  for (const message of batch.messages) {
    if (isWebhookMessage(message.body)) messages.push(message as Message<WebhookMessage>);
    else message.ack();
  }
  let webhookOf: Map<string, { webhookId: string; failing: boolean }>;
  try {
    webhookOf = await webhooksOfDeliveries(
      db,
      messages.map((m) => m.body.delivery_id),
    );
  } catch (error) {
    logger.error("webhook batch not read", describeError(error));
    for (const message of messages) message.retry({ delaySeconds: 30 });
    return;
  }
  const lanes = new Map<string, { failing: boolean; messages: Message<WebhookMessage>[] }>();
  for (const message of messages) {
    const webhook = webhookOf.get(message.body.delivery_id);
    const key = webhook?.webhookId ?? message.body.delivery_id;
    const lane = lanes.get(key);
    if (lane) lane.messages.push(message);
    else lanes.set(key, { failing: webhook?.failing ?? false, messages: [message] });
  }
  /** Moves messages to the failing webhooks' queue (false when there is none: this queue is it). */
  const moveToFailing = async (moved: Message<WebhookMessage>[]) => {
    if (!queues.failing || moved.length === 0) return false;
    await sendAgain(queues.failing, moved);
    return true;
  };
  await Promise.all(
    [...lanes.values()].map(async (lane) => {
      try {
        if (lane.failing && (await moveToFailing(lane.messages))) return;
      } catch (error) {
        logger.error("webhook lane not moved", describeError(error));
        for (const message of lane.messages) message.retry({ delaySeconds: 30 });
        return;
      }
      for (const [index, message] of lane.messages.entries()) {
        try {
          const outcome = await attemptDelivery(db, config, message.body, message.attempts);
          if (outcome.kind === "retry") message.retry({ delaySeconds: outcome.delaySeconds });
          else if (outcome.kind === "waiting") await waitForEarlier(message, queues.own);
          else message.ack();
          logger.info("webhook attempt", { delivery_id: message.body.delivery_id, outcome: outcome.kind });
          // The receiver just failed: the rest of its events wait in the failing webhooks' queue.
          if (outcome.kind === "retry" && (await moveToFailing(lane.messages.slice(index + 1)))) return;
        } catch (error) {
          // The database failed: the queue retries this message; if the attempt was not claimed, the
          // scheduled job re-queues the delivery once it is stale.
          logger.error("webhook attempt failed", { delivery_id: message.body.delivery_id, ...describeError(error) });
          message.retry({ delaySeconds: 30 });
        }
      }
    }),
  );
}

async function endDeadWebhooks(batch: MessageBatch<unknown>, config: Config) {
  const db = createDatabase(config);
  for (const message of batch.messages) {
    if (isWebhookMessage(message.body)) await endDeadLettered(db, message.body);
    message.ack();
  }
}

export type QueueBindings = Pick<Env, "CONTENT_QUEUE"> & {
  WEBHOOK_QUEUE?: WebhookQueue;
  WEBHOOK_SLOW_QUEUE?: WebhookQueue;
} & LiveBindings;

/**
 * Changes a consumer recorded (content indexing's `content.indexed`) leave as a request's do
 * (middleware/dispatch-webhooks.ts, notify-live.ts): the webhook dispatcher and the live notifier
 * run in the invocation's waitUntil, coalesced per isolate with the requests' passes, so webhooks
 * and sockets get the change within seconds rather than at the next minute's Cron Trigger.
 * Without the bindings (the bench's workerd) nothing runs, as for requests.
 */
function announceChanges(db: Database, env: QueueBindings, logger: Logger, ctx: Pick<ExecutionContext, "waitUntil">) {
  if (env.WEBHOOK_QUEUE) {
    ctx.waitUntil(
      dispatchSoon(db, env.WEBHOOK_QUEUE, (error) => logger.error("webhook dispatch failed", describeError(error))),
    );
  }
  if (env.USER_EVENTS && env.DOCUMENT_PRESENCE) {
    ctx.waitUntil(notifyLiveSoon(db, env, (error) => logger.error("live notification failed", describeError(error))));
  }
}

export async function handleQueueBatch(
  batch: MessageBatch<unknown>,
  config: Config,
  env: QueueBindings,
  ctx: Pick<ExecutionContext, "waitUntil">,
): Promise<void> {
  switch (batch.queue) {
    case QUEUES.content:
    case QUEUES.contentDead: {
      const deps = contentDeps(config);
      const recorded =
        batch.queue === QUEUES.content
          ? await consumeContent(batch as MessageBatch<never>, deps, env.CONTENT_QUEUE)
          : await consumeContentDeadLetters(batch as MessageBatch<never>, deps);
      if (recorded > 0) announceChanges(deps.db, env, deps.logger, ctx);
      return;
    }
    case QUEUES.webhooks:
      return deliverWebhooks(batch, config, { own: env.WEBHOOK_QUEUE, failing: env.WEBHOOK_SLOW_QUEUE });
    case QUEUES.webhooksSlow:
      return deliverWebhooks(batch, config, { own: env.WEBHOOK_SLOW_QUEUE });
    case QUEUES.webhooksDead:
      return endDeadWebhooks(batch, config);
    default:
      createLogger(config.LOG_LEVEL).error("message from an unknown queue", { queue: batch.queue });
      batch.retryAll();
  }
}
