import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { redactPath } from "../lib/redact";

/**
 * One structured line per request: method, route path (share-link tokens redacted), status, duration.
 * No query, headers or bodies.
 */
export const accessLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  await next();
  const status = c.res.status;
  const line = { method: c.req.method, path: redactPath(c.req.path), status, duration_ms: Date.now() - started };
  if (status >= 500) c.get("logger").error("request", line);
  else c.get("logger").info("request", line);
});
