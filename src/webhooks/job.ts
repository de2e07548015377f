// The webhook part of the scheduled job (every minute): dispatch what committed since the last
// dispatch (a request that died between its commit and its waitUntil dispatch), then re-queue
// deliveries whose message was lost.
import type { Config } from "../config";
import { createDatabase } from "../db/client";
import { createLogger } from "../lib/logger";
import { dispatchChanges, requeueStale, type WebhookQueue } from "./dispatcher";

export const WEBHOOK_CRON = "* * * * *";

export async function runWebhookJob(config: Config, queue: WebhookQueue | undefined) {
  const logger = createLogger(config.LOG_LEVEL, { cron: WEBHOOK_CRON });
  if (!queue) {
    logger.warn("no WEBHOOK_QUEUE binding: webhooks are not dispatched");
    return { queued: 0, requeued: 0 };
  }
  const db = createDatabase(config);
  const queued = await dispatchChanges(db, queue);
  const requeued = await requeueStale(db, queue);
  logger.info("webhook dispatch done", { queued, requeued });
  return { queued, requeued };
}
