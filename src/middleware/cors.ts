import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";

/** CORS for the configured origins only (CORS_ORIGINS); other origins get no CORS headers. */
export const corsFromConfig = createMiddleware<AppEnv>((c, next) =>
  cors({
    origin: (origin) => (c.var.config.CORS_ORIGINS.includes(origin) ? origin : null),
    allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "If-Match", "X-Request-Id"],
    exposeHeaders: ["ETag", "Location", "Retry-After", "WWW-Authenticate", "X-Request-Id"],
    maxAge: 600,
  })(c, next),
);
