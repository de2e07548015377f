// Purging trashed documents: their stored bytes first, then their rows (trash.store.ts, purgeRows)
// in one statement. Bytes before rows, so that nothing is ever half-done in the direction that
// matters: while any byte may remain, the version rows that name it remain too, and a retry (the
// owner's, or the next scheduled run) deletes what is left and then the rows. A document whose
// purge has begun cannot be restored (its bytes may be partly gone).
import type { Database } from "../db/client";
import { DependencyError } from "../lib/failure";
import { MAX_KEYS_PER_CALL, type ObjectStorage } from "../storage/object-storage";
import type { Actor } from "./actor";
import {
  claimDuePurges,
  claimOwnPurge,
  type PurgeClaim,
  purgeRows,
  releasePurgeClaim,
  versionKeys,
} from "./trash.store";

/** Deletes the objects (DeleteObjects, 1,000 keys a call); throws DependencyError unless every one is gone. */
async function deleteObjects(storage: ObjectStorage, keys: readonly string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += MAX_KEYS_PER_CALL) {
    const { failed } = await storage.deleteMany(keys.slice(start, start + MAX_KEYS_PER_CALL));
    if (failed.length > 0) throw new DependencyError("storage", new Error(`${failed.length} objects not deleted`));
  }
}

/** The bytes, then the rows, of one claimed document; on a storage failure the claim is given back. */
async function purgeClaimed(
  db: Database,
  storage: ObjectStorage,
  claim: PurgeClaim,
  keys: readonly string[],
  by: { actorId: string | null; reason: "retention" | "owner" },
): Promise<boolean> {
  try {
    await deleteObjects(storage, keys);
  } catch (error) {
    // The rows stay (they name what may be left); a retry may claim the document at once.
    await releasePurgeClaim(db, claim).catch(() => {});
    throw error;
  }
  return purgeRows(db, { id: claim.id, ...by });
}

/**
 * DELETE /trash/{id}: the owner purges a trashed document now. 503 (DependencyError) when
 * storage fails: the rows all stay, the document stays in the trash (no longer restorable), and
 * a retry, or the next scheduled run, finishes the purge.
 */
export async function purgeNow(
  { db, storage }: { db: Database; storage: ObjectStorage },
  id: string,
  actor: Actor,
): Promise<void> {
  const { claim, keys } = await claimOwnPurge(db, id, actor.userId);
  await purgeClaimed(db, storage, claim, keys, { actorId: actor.userId, reason: "owner" });
}

export type PurgeRunOptions = {
  /** The run's clock: documents deleted before `now` − retention are due. */
  now: Date;
  retentionDays: number;
  /** Documents purged per run at most; the rest wait for the next run. */
  max: number;
  /** Documents claimed per statement. */
  batchSize?: number;
  /** False once the run's time is up: no new batch starts. */
  timeLeft: () => boolean;
};

/**
 * The scheduled purge: claims due documents a batch at a time and purges each. Bounded by `max`
 * and the time left; resumable (what is not done stays due); safe alongside another run (claims
 * never overlap). A storage failure gives back this run's remaining claims and ends the run's
 * purging: the next run tries again.
 */
export async function purgeDueDocuments(
  db: Database,
  storage: ObjectStorage,
  options: PurgeRunOptions,
): Promise<{ purged: number; failed: boolean }> {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 25, options.max));
  let purged = 0;
  while (purged < options.max && options.timeLeft()) {
    const limit = Math.min(batchSize, options.max - purged);
    const claims = await claimDuePurges(db, { now: options.now, retentionDays: options.retentionDays, limit });
    for (const [index, claim] of claims.entries()) {
      try {
        const keys = await versionKeys(db, claim.id);
        if (await purgeClaimed(db, storage, claim, keys, { actorId: null, reason: "retention" })) purged++;
      } catch (error) {
        await Promise.all(claims.slice(index + 1).map((rest) => releasePurgeClaim(db, rest).catch(() => {})));
        if (error instanceof DependencyError) return { purged, failed: true };
        throw error;
      }
    }
    if (claims.length < limit) break;
  }
  return { purged, failed: false };
}
