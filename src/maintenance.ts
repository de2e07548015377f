// Work of the Cron Trigger (wrangler.toml [triggers]):
// - purge expired and revoked refresh tokens and finished login-throttle windows;
// - sweep direct uploads that were never completed, with their objects;
// - sweep objects no version or pending upload refers to (bytes stored by a request whose
//   database write then failed, when the immediate clean-up failed too).
import { purgeAuthState } from "./auth/auth.store";
import type { Config } from "./config";
import { createDatabase, type Database } from "./db/client";
import { deleteUpload, expiredUploads, referencedKeys } from "./documents/uploads.store";
import { createLogger } from "./lib/logger";
import { ObjectStorage } from "./storage/object-storage";

export type MaintenanceOptions = {
  /** Only objects older than this are orphans: younger ones may belong to a request in flight. */
  orphanAgeSeconds?: number;
  /** Pending uploads are swept this long after their URL expired. */
  uploadGraceSeconds?: number;
};

const BATCH = 500;

async function sweepExpiredUploads(db: Database, storage: ObjectStorage, graceSeconds: number): Promise<number> {
  let swept = 0;
  for (;;) {
    const batch = await expiredUploads(db, graceSeconds, BATCH);
    for (const upload of batch) {
      await storage.delete(upload.storageKey);
      await deleteUpload(db, upload.id);
    }
    swept += batch.length;
    if (batch.length < BATCH) return swept;
  }
}

async function sweepOrphanObjects(db: Database, storage: ObjectStorage, ageSeconds: number): Promise<number> {
  const cutoff = Date.now() - ageSeconds * 1000;
  const candidates = (await storage.listObjects("documents/")).filter((o) => o.lastModified.getTime() <= cutoff);
  let swept = 0;
  for (let i = 0; i < candidates.length; i += BATCH) {
    const keys = candidates.slice(i, i + BATCH).map((o) => o.key);
    const referenced = await referencedKeys(db, keys);
    for (const key of keys) {
      if (referenced.has(key)) continue;
      await storage.delete(key);
      swept++;
    }
  }
  return swept;
}

export async function runScheduledMaintenance(config: Config, cron: string, options: MaintenanceOptions = {}) {
  const logger = createLogger(config.LOG_LEVEL, { cron });
  const db = createDatabase(config);
  const storage = new ObjectStorage(config, { timeoutMs: config.STORAGE_TIMEOUT_MS });
  const purged = await purgeAuthState(db, config.LOGIN_FAILURE_WINDOW_SECONDS);
  const uploads = await sweepExpiredUploads(db, storage, options.uploadGraceSeconds ?? 3600);
  const orphans = await sweepOrphanObjects(db, storage, options.orphanAgeSeconds ?? 3600);
  const result = { tokens: purged.tokens, throttles: purged.throttles, uploads, orphans };
  logger.info("maintenance done", {
    purged_refresh_tokens: result.tokens,
    purged_login_throttles: result.throttles,
    swept_uploads: uploads,
    swept_orphan_objects: orphans,
  });
  return result;
}
