// Bytes in storage that no row will refer to, because the statement that was to refer to them
// answered and wrote nothing. Deleting them must not hold up the answer, so the deletion is
// handed to `background` (the Worker's waitUntil, supplied by the HTTP layer); if it fails, the
// scheduled sweeper removes the unreferenced object later.
import { statementRefused } from "../db/errors";
import { describeError, type Logger } from "../lib/logger";
import type { ObjectStorage } from "../storage/object-storage";

/** Keeps work running after the response has gone; the domain only hands the promise over. */
export type Background = (work: Promise<unknown>) => void;

export type Discarding = { storage: ObjectStorage; logger: Logger; background: Background };

/** Storage work after the response; a failure is only logged, since the sweeper will redo it. */
function afterResponse({ logger, background }: Discarding, work: Promise<unknown>, failure: string): void {
  background(work.catch((error) => logger.warn(failure, describeError(error))));
}

/** Deletes bytes that no row refers to, after the response. */
export function discardObject(discarding: Discarding, key: string): void {
  afterResponse(discarding, discarding.storage.delete(key), "could not delete an orphaned object; the sweeper will");
}

/**
 * After the statement that was to refer to `key` failed: deletes the object only when
 * PostgreSQL itself refused the statement, so it certainly wrote nothing. A deadline, a lost
 * connection or a failing endpoint leave the outcome unknown (the statement may still commit,
 * and then this object is a version's bytes), so the object stays for the sweeper, which
 * removes it only once it is old and nothing refers to it.
 */
export function discardAfterFailedWrite(discarding: Discarding, key: string, error: unknown): void {
  if (statementRefused(error)) {
    discardObject(discarding, key);
    return;
  }
  discarding.logger.warn("database write failed with an unknown outcome; keeping its object for the sweeper", {
    ...describeError(error),
  });
}

/**
 * The content type of the empty object that takes an ended upload's place at its staging key
 * (`uploads/{id}`). A presigned PUT can be replayed until its URL expires; it is signed with
 * `If-None-Match: *`, so storage refuses it (412) while any object is at the key, and a deleted
 * staging object would let a replay store bytes again, outside every quota. Not a type an upload
 * can declare, so a client cannot forge it; the sweeper removes the marker once its URL has
 * expired (uploads.store.ts, keyUses; src/maintenance.ts).
 */
export const SEALED_UPLOAD_TYPE = "application/x-docvault-upload-ended";

/** Replaces an ended upload's staged bytes (if any) with the empty marker above. */
export function sealStagingKey(storage: ObjectStorage, key: string): Promise<unknown> {
  return storage.put(key, new Uint8Array(0), { contentType: SEALED_UPLOAD_TYPE, contentLength: 0 });
}

/** sealStagingKey after the response; if it fails, the sweeper removes the staged bytes later. */
export function sealInBackground(discarding: Discarding, key: string): void {
  afterResponse(
    discarding,
    sealStagingKey(discarding.storage, key),
    "could not seal an ended upload's staging key; the sweeper will clear it",
  );
}
