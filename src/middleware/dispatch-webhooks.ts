// After a request that may have recorded a change commits (logins, refreshes, webhook and feed
// requests record none, so they dispatch nothing), the webhook dispatcher runs in
// waitUntil (after the response), so the first delivery attempt leaves within seconds rather than
// at the next scheduled run (src/webhooks/dispatcher.ts). Without a queue binding (the benchmark's
// workerd) there is nothing to dispatch to: the scheduled job would not run there either.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { describeError } from "../lib/logger";
import { dispatchSoon } from "../webhooks/dispatcher";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Where changes are recorded (activity rows): documents, sharing, uploads, the trash, closing an account. */
const CHANGING_PREFIXES = ["/api/v1/documents", "/api/v1/uploads", "/api/v1/trash", "/api/v1/auth/me"];

/** The request succeeded and may have recorded activity (also what triggers live events). */
export function mayHaveChanged(c: Context<AppEnv>): boolean {
  // Downloads are GETs that record `document.downloaded`.
  const path = c.req.path;
  return (
    CHANGING_PREFIXES.some((prefix) => path.startsWith(prefix)) &&
    (!READS.has(c.req.method) || path.endsWith("/download")) &&
    c.res.status < 400
  );
}

export const dispatchWebhooks = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const queue = c.env.WEBHOOK_QUEUE;
  if (!queue || !mayHaveChanged(c)) return;
  const logger = c.get("logger");
  c.executionCtx.waitUntil(
    dispatchSoon(c.get("db"), queue, (error) => logger.error("webhook dispatch failed", describeError(error))),
  );
});
