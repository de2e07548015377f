// Work of the Cron Trigger (wrangler.toml [triggers]):
// - purge expired and revoked refresh tokens and finished login-throttle windows;
// - sweep direct uploads that were never completed, with their staged objects;
// - sweep objects no version or pending upload refers to (bytes stored by a request whose
//   database write failed or timed out, staging objects of completed uploads that a replayed
//   presigned PUT recreated).
// - purge trashed documents TRASH_RETENTION_DAYS after their deletion (src/documents/purge.ts):
//   their bytes, then their rows; claimed with a lease, so overlapping runs share the work.
// Each run is bounded (objects and time) and the bucket sweep resumes where the previous run
// stopped, so the work per run stays the same however large the bucket grows. Runs may overlap
// (a slow run and the next trigger): every step is idempotent and only old, unreferenced
// objects are ever deleted.
import { sql } from "drizzle-orm";
import { purgeAuthState } from "./auth/auth.store";
import type { Config } from "./config";
import { createDatabase, type Database } from "./db/client";
import { maintenanceState } from "./db/schema";
import { purgeDueDocuments } from "./documents/purge";
import { deletePendingUploads, expiredUploads, referencedKeys } from "./documents/uploads.store";
import { createLogger } from "./lib/logger";
import { MAX_KEYS_PER_CALL, ObjectStorage } from "./storage/object-storage";

export type MaintenanceOptions = {
  /** Only objects older than this are orphans: younger ones may belong to a request in flight. */
  orphanAgeSeconds?: number;
  /** Pending uploads are swept this long after their URL expired. */
  uploadGraceSeconds?: number;
  /** Objects listed per run at most (default 20,000); the next run continues after the last. */
  maxObjectsPerRun?: number;
  /** Expired uploads removed per run at most (default 5,000). */
  maxUploadsPerRun?: number;
  /**
   * No new page or batch starts after this many milliseconds of the storage sweeps (default
   * 60,000); each run still does at least one, so every run makes progress.
   */
  maxRunMs?: number;
  /** Keys per list call (default and S3's maximum: 1,000). */
  listPageSize?: number;
  /** The run's clock for the trash's retention (default: now; scheduled() passes its scheduled time). */
  now?: Date;
  /** Trashed documents purged per run at most (default 500); the rest stay due for the next run. */
  maxPurgesPerRun?: number;
};

/** Where the bucket sweep resumes: the last key the previous run listed ("" = the start). */
const ORPHAN_SWEEP_MARKER = "orphan_sweep_marker";

/** The service's own key spaces; anything else in the bucket is not ours to delete. */
const SWEPT_PREFIXES = ["documents/", "uploads/"];

async function readMarker(db: Database): Promise<string> {
  const [row] = await db
    .select({ value: maintenanceState.value })
    .from(maintenanceState)
    .where(sql`${maintenanceState.name} = ${ORPHAN_SWEEP_MARKER}`);
  return row?.value ?? "";
}

async function writeMarker(db: Database, marker: string): Promise<void> {
  await db
    .insert(maintenanceState)
    .values({ name: ORPHAN_SWEEP_MARKER, value: marker })
    .onConflictDoUpdate({ target: maintenanceState.name, set: { value: marker, updatedAt: sql`now()` } });
}

async function sweepExpiredUploads(
  db: Database,
  storage: ObjectStorage,
  graceSeconds: number,
  max: number,
  timeLeft: () => boolean,
): Promise<number> {
  let swept = 0;
  do {
    const limit = Math.min(MAX_KEYS_PER_CALL, max - swept);
    const batch = await expiredUploads(db, graceSeconds, limit);
    if (batch.length === 0) break;
    const { failed } = await storage.deleteMany(batch.map((u) => u.storageKey));
    const kept = new Set(failed);
    // A record whose object could not be deleted stays, so that a later run tries again.
    swept += await deletePendingUploads(
      db,
      batch.filter((u) => !kept.has(u.storageKey)).map((u) => u.id),
    );
    if (batch.length < limit || failed.length > 0) break;
  } while (swept < max && timeLeft());
  return swept;
}

async function sweepOrphanObjects(
  db: Database,
  storage: ObjectStorage,
  options: { ageSeconds: number; max: number; pageSize: number; timeLeft: () => boolean },
): Promise<{ orphans: number; listed: number; wrapped: boolean }> {
  const cutoff = Date.now() - options.ageSeconds * 1000;
  let marker = await readMarker(db);
  let listed = 0;
  let orphans = 0;
  let wrapped = false;
  do {
    const page = await storage.listPage("", {
      marker,
      maxKeys: Math.min(options.pageSize, options.max - listed),
    });
    listed += page.objects.length;
    const candidates = page.objects
      .filter((o) => SWEPT_PREFIXES.some((prefix) => o.key.startsWith(prefix)))
      .filter((o) => o.lastModified.getTime() <= cutoff)
      .map((o) => o.key);
    // An old key that nothing refers to now never will: new rows only name keys written moments
    // before them, which the age cutoff keeps out of here.
    const referenced = await referencedKeys(db, candidates);
    const unreferenced = candidates.filter((key) => !referenced.has(key));
    if (unreferenced.length > 0) {
      const { failed } = await storage.deleteMany(unreferenced);
      orphans += unreferenced.length - failed.length;
    }
    // At the end of the listing the next run starts over from the first key.
    wrapped = page.nextMarker === null;
    marker = page.nextMarker ?? "";
    await writeMarker(db, marker);
  } while (!wrapped && listed < options.max && options.timeLeft());
  return { orphans, listed, wrapped };
}

export async function runScheduledMaintenance(config: Config, cron: string, options: MaintenanceOptions = {}) {
  const logger = createLogger(config.LOG_LEVEL, { cron });
  const db = createDatabase(config);
  const storage = new ObjectStorage(config, { timeoutMs: config.STORAGE_TIMEOUT_MS });
  const purged = await purgeAuthState(db, config.LOGIN_FAILURE_WINDOW_SECONDS);
  const deadline = Date.now() + (options.maxRunMs ?? 60_000);
  const timeLeft = () => Date.now() < deadline;
  const uploads = await sweepExpiredUploads(
    db,
    storage,
    options.uploadGraceSeconds ?? 3600,
    options.maxUploadsPerRun ?? 5000,
    timeLeft,
  );
  const trash = await purgeDueDocuments(db, storage, {
    now: options.now ?? new Date(),
    retentionDays: config.TRASH_RETENTION_DAYS,
    max: options.maxPurgesPerRun ?? 500,
    timeLeft,
  });
  const sweep = await sweepOrphanObjects(db, storage, {
    ageSeconds: options.orphanAgeSeconds ?? 3600,
    max: options.maxObjectsPerRun ?? 20_000,
    pageSize: Math.min(options.listPageSize ?? MAX_KEYS_PER_CALL, MAX_KEYS_PER_CALL),
    timeLeft,
  });
  const result = {
    tokens: purged.tokens,
    throttles: purged.throttles,
    uploads,
    purgedDocuments: trash.purged,
    purgeFailed: trash.failed,
    orphans: sweep.orphans,
    listedObjects: sweep.listed,
    listingWrapped: sweep.wrapped,
  };
  logger.info("maintenance done", {
    purged_refresh_tokens: result.tokens,
    purged_login_throttles: result.throttles,
    swept_uploads: uploads,
    purged_documents: trash.purged,
    purge_storage_failed: trash.failed,
    swept_orphan_objects: sweep.orphans,
    listed_objects: sweep.listed,
    listing_wrapped: sweep.wrapped,
  });
  return result;
}
