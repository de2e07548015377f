// Work of the Cron Trigger (wrangler.toml [triggers]):
// - purge expired and revoked refresh tokens and finished login-throttle windows;
// - sweep direct uploads that were never completed, with their staged objects and multipart
//   uploads (marked expired), abort multipart uploads under uploads/ that no pending upload
//   owns, and remove the rows of uploads that ended uncompleted, a week after their deadline;
// - sweep objects no version or pending upload refers to (bytes stored by a request whose
//   database write failed or timed out, the empty markers of ended uploads once their URLs
//   expired); an ended upload's staging key that a replayed PUT could still reach gets its
//   marker back instead (src/documents/discard.ts, sealStagingKey).
// - delete finished webhook deliveries WEBHOOK_DELIVERY_RETENTION_DAYS after they were made;
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
import { sealStagingKey } from "./documents/discard";
import { purgeDueDocuments } from "./documents/purge";
import {
  endPendingUploads,
  expiredUploads,
  keyUses,
  purgeEndedUploads,
  STAGING_PREFIX,
  type UploadRecord,
} from "./documents/uploads.store";
import { createLogger } from "./lib/logger";
import { deleteExpiredTickets } from "./live/tickets";
import { MAX_KEYS_PER_CALL, ObjectStorage } from "./storage/object-storage";
import { pruneDeliveries } from "./webhooks/webhooks.store";

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
  /** Rows of aborted and expired uploads are kept this long past their deadline (default 7 days). */
  uploadRetentionSeconds?: number;
  /** The run's clock for the trash's retention (default: now; scheduled() passes its scheduled time). */
  now?: Date;
  /** Trashed documents purged per run at most (default 500); the rest stay due for the next run. */
  maxPurgesPerRun?: number;
  /** Finished webhook deliveries deleted per run at most (default 10,000); the rest go at the next run. */
  maxDeliveriesPerRun?: number;
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
    const notAborted = await abortMultipartUploads(storage, batch);
    const { failed } = await storage.deleteMany(batch.map((u) => u.storageKey));
    const kept = new Set([...failed, ...notAborted]);
    // A record whose bytes could not be removed stays pending, so that a later run tries again.
    swept += (
      await endPendingUploads(
        db,
        batch.filter((u) => !kept.has(u.storageKey)).map((u) => u.id),
        "EXPIRED",
      )
    ).length;
    if (batch.length < limit || kept.size > 0) break;
  } while (swept < max && timeLeft());
  return swept;
}

/** Aborts the multipart uploads of these uploads (a few at a time); answers the keys that failed. */
async function abortMultipartUploads(
  storage: ObjectStorage,
  batch: readonly Pick<UploadRecord, "storageKey" | "multipartUploadId">[],
): Promise<string[]> {
  const failed: string[] = [];
  const open = batch.filter((u) => u.multipartUploadId);
  for (let i = 0; i < open.length; i += 8) {
    await Promise.all(
      open.slice(i, i + 8).map((u) =>
        storage.abortMultipart(u.storageKey, u.multipartUploadId as string).catch(() => {
          failed.push(u.storageKey);
        }),
      ),
    );
  }
  return failed;
}

/**
 * Multipart uploads under uploads/ that no pending upload owns (its DELETE or expiry could not
 * reach storage, or its row is gone): aborted, so their parts stop costing. A pending upload's
 * row is written before its multipart upload is created, so a live one is never taken. One
 * listing (S3: the first 1,000) per run.
 */
async function sweepAbandonedMultipartUploads(db: Database, storage: ObjectStorage): Promise<number> {
  const listed = await storage.listMultipartUploads(STAGING_PREFIX);
  const { referenced } = await keyUses(
    db,
    listed.map((u) => u.key),
  );
  const abandoned = listed.filter((u) => !referenced.has(u.key));
  const failed = await abortMultipartUploads(
    storage,
    abandoned.map((u) => ({ storageKey: u.key, multipartUploadId: u.uploadId })),
  );
  return abandoned.length - failed.length;
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
      .filter((o) => o.lastModified.getTime() <= cutoff);
    // An old key that nothing refers to now never will: new rows only name keys written moments
    // before them, which the age cutoff keeps out of here.
    const { referenced, sealed } = await keyUses(
      db,
      candidates.map((o) => o.key),
    );
    const unreferenced = candidates.filter((o) => !referenced.has(o.key));
    // Staging keys a replayed PUT could still reach keep (or get back) the empty marker instead.
    const toDelete = unreferenced.filter((o) => !sealed.has(o.key)).map((o) => o.key);
    if (toDelete.length > 0) {
      const { failed } = await storage.deleteMany(toDelete);
      orphans += toDelete.length - failed.length;
    }
    for (const o of unreferenced.filter((o) => sealed.has(o.key) && o.size > 0)) {
      await sealStagingKey(storage, o.key);
      orphans++;
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
  // Live-event tickets never used (a used one is deleted by its use).
  const expiredTickets = await deleteExpiredTickets(db);
  const prunedDeliveries = await pruneDeliveries(
    db,
    config.WEBHOOK_DELIVERY_RETENTION_DAYS,
    options.maxDeliveriesPerRun ?? 10_000,
  );
  const deadline = Date.now() + (options.maxRunMs ?? 60_000);
  const timeLeft = () => Date.now() < deadline;
  const uploads = await sweepExpiredUploads(
    db,
    storage,
    options.uploadGraceSeconds ?? 3600,
    options.maxUploadsPerRun ?? 5000,
    timeLeft,
  );
  const abandonedMultipart = await sweepAbandonedMultipartUploads(db, storage);
  const purgedUploads = await purgeEndedUploads(
    db,
    options.uploadRetentionSeconds ?? 7 * 86_400,
    options.maxUploadsPerRun ?? 5000,
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
    abandonedMultipart,
    purgedUploads,
    prunedDeliveries,
    purgedDocuments: trash.purged,
    purgeFailed: trash.failed,
    orphans: sweep.orphans,
    listedObjects: sweep.listed,
    listingWrapped: sweep.wrapped,
  };
  logger.info("maintenance done", {
    purged_refresh_tokens: result.tokens,
    purged_login_throttles: result.throttles,
    expired_event_tickets: expiredTickets,
    pruned_webhook_deliveries: prunedDeliveries,
    swept_uploads: uploads,
    aborted_multipart_uploads: abandonedMultipart,
    purged_upload_rows: purgedUploads,
    purged_documents: trash.purged,
    purge_storage_failed: trash.failed,
    swept_orphan_objects: sweep.orphans,
    listed_objects: sweep.listed,
    listing_wrapped: sweep.wrapped,
  });
  return result;
}
