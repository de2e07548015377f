// Builds the per-request context once: configuration, logger, database and storage clients.
// Clients are cached per configuration object, so a warm isolate reuses them.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { type Config, loadConfig } from "../config";
import { createDatabase } from "../db/client";
import { createLogger } from "../lib/logger";
import { oncePer } from "../lib/per-object";
import { ObjectStorage } from "../storage/object-storage";

const servicesFor = oncePer((config: Config) => ({
  db: createDatabase(config),
  storage: new ObjectStorage(config, { timeoutMs: config.STORAGE_TIMEOUT_MS }),
}));

export const context = createMiddleware<AppEnv>(async (c, next) => {
  const loaded = loadConfig(c.env);
  // src/index.ts answers before this point when the configuration is invalid.
  if (!loaded.ok) throw new Error("invalid configuration");
  const { config } = loaded;
  const { db, storage } = servicesFor(config);
  c.set("config", config);
  c.set("logger", createLogger(config.LOG_LEVEL, { request_id: c.get("requestId") }));
  c.set("db", db);
  c.set("storage", storage);
  await next();
});
