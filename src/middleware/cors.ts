import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import type { Config } from "../config";

// One CORS middleware per configuration (one per isolate), not one built per request.
const byConfig = new WeakMap<Config, ReturnType<typeof cors>>();

function corsFor(config: Config) {
  let middleware = byConfig.get(config);
  if (!middleware) {
    const allowed = new Set(config.CORS_ORIGINS);
    middleware = cors({
      origin: (origin) => (allowed.has(origin) ? origin : null),
      allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
      allowHeaders: ["Authorization", "Content-Type", "If-Match", "X-Request-Id"],
      exposeHeaders: ["ETag", "Location", "Retry-After", "WWW-Authenticate", "X-Request-Id"],
      maxAge: 600,
    });
    byConfig.set(config, middleware);
  }
  return middleware;
}

/** CORS for the configured origins only (CORS_ORIGINS); other origins get no CORS headers. */
export const corsFromConfig = createMiddleware<AppEnv>((c, next) => corsFor(c.get("config"))(c, next));
