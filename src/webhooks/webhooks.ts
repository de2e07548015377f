// Webhook operations that span calls: creation (URL policy, secret, encryption, the row) and the
// test event (its delivery row, then the queue).
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { ActivityAction } from "../documents/activity-actions";
import type { WebhookQueue } from "./dispatcher";
import { encryptSecret, generateSecret } from "./secrets";
import { checkWebhookUrl, resolveAndCheck } from "./url-policy";
import * as store from "./webhooks.store";

export { deleteWebhook, getWebhook, listDeliveries, listWebhooks } from "./webhooks.store";

export async function createWebhook(
  db: Database,
  config: Config,
  input: { ownerId: string; url: string; events: ActivityAction[] | null; documentId: string | null },
): Promise<store.WebhookView & { secret: string }> {
  const url = checkWebhookUrl(input.url, config.WEBHOOK_ALLOW_PRIVATE_URLS);
  if (!config.WEBHOOK_ALLOW_PRIVATE_URLS) await resolveAndCheck(url);
  const id = crypto.randomUUID();
  const secret = generateSecret();
  const view = await store.createWebhook(db, {
    id,
    ownerId: input.ownerId,
    url,
    events: input.events === null ? null : [...new Set(input.events)],
    documentId: input.documentId,
    secretCiphertext: await encryptSecret(config.WEBHOOK_SECRET_KEY, id, secret),
    limit: config.WEBHOOKS_PER_USER,
  });
  return { ...view, secret };
}

/**
 * Records the test event and queues it. A failed send leaves the recorded delivery, which the
 * scheduled job queues once it is stale, so the answer is 202 either way.
 */
export async function queueTestEvent(
  db: Database,
  queue: WebhookQueue | undefined,
  input: { id: string; ownerId: string; onSendError: (error: unknown) => void },
): Promise<string> {
  const deliveryId = await store.recordTestDelivery(db, input.id, input.ownerId);
  try {
    await queue?.sendBatch([{ body: { delivery_id: deliveryId, attempts: 0 }, contentType: "json" }]);
  } catch (error) {
    input.onSendError(error);
  }
  return deliveryId;
}
