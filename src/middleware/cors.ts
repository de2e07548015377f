import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import type { Config } from "../config";
import { oncePer } from "../lib/per-object";

// One CORS middleware per configuration (one per isolate), not one built per request.
const corsFor = oncePer((config: Config) => {
  const allowed = new Set(config.CORS_ORIGINS);
  return cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "If-Match", "X-Request-Id"],
    exposeHeaders: ["ETag", "Location", "Retry-After", "WWW-Authenticate", "X-Request-Id"],
    maxAge: 600,
  });
});

/** CORS for the configured origins only (CORS_ORIGINS); other origins get no CORS headers. */
export const corsFromConfig = createMiddleware<AppEnv>((c, next) => corsFor(c.get("config"))(c, next));
