// After a request that may have recorded a change: live events (src/live/notify.ts) in waitUntil,
// from the same trigger as the webhook dispatcher. A closed account's sockets are closed (4401)
// first, so its presence sockets end with 4401 rather than the 4403 its removed permissions
// would give them. Without the Durable Object bindings (the benchmark's workerd) nothing runs.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { describeError } from "../lib/logger";
import { closeAccountSockets, type LiveBindings, notifyLiveSoon } from "../live/notify";
import { mayHaveChanged } from "./dispatch-webhooks";

export const notifyLive = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const live = c.env as LiveBindings;
  if (!live.USER_EVENTS || !live.DOCUMENT_PRESENCE || !mayHaveChanged(c)) return;
  const db = c.get("db");
  const logger = c.get("logger");
  const onError = (error: unknown) => logger.error("live notification failed", describeError(error));
  const closedAccount = c.req.method === "DELETE" && c.req.path === "/api/v1/auth/me" ? c.get("userId") : undefined;
  c.executionCtx.waitUntil(
    (async () => {
      if (closedAccount) await closeAccountSockets(db, live, closedAccount).catch(onError);
      await notifyLiveSoon(db, live, onError);
    })(),
  );
});
