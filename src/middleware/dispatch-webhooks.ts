// After a request that may have changed something commits, the webhook dispatcher runs in
// waitUntil (after the response), so the first delivery attempt leaves within seconds rather than
// at the next scheduled run (src/webhooks/dispatcher.ts). Without a queue binding (the benchmark's
// workerd) there is nothing to dispatch to: the scheduled job would not run there either.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { describeError } from "../lib/logger";
import { dispatchSoon } from "../webhooks/dispatcher";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

export const dispatchWebhooks = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const queue = c.env.WEBHOOK_QUEUE;
  // Downloads are GETs that record `document.downloaded`.
  const mayHaveChanged = !READS.has(c.req.method) || c.req.path.endsWith("/download");
  if (!queue || !mayHaveChanged || c.res.status >= 400) return;
  const logger = c.get("logger");
  c.executionCtx.waitUntil(
    dispatchSoon(c.get("db"), queue, (error) => logger.error("webhook dispatch failed", describeError(error))),
  );
});
