// The storage quota (STORAGE_QUOTA_BYTES, 0 = unlimited): per owner, the bytes of every version
// of every document they own, soft-deleted ones included until purged. The usage is a counter,
// users.storage_used_bytes, changed by the statement that inserts a version row (chargeQuotaCte),
// so it is never summed per request and cannot drift from the rows. Every other check is an early
// refusal before bytes are stored, on a value read in a round trip the request makes anyway; the
// statement's own condition is the exact one.
import { eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { users } from "../db/schema";
import { Failure } from "../lib/failure";

export const fitsQuota = (quotaBytes: number, usedBytes: number, sizeBytes: number): boolean =>
  quotaBytes === 0 || usedBytes + sizeBytes <= quotaBytes;

export function quotaExceeded(quotaBytes: number, usedBytes: number | null, sizeBytes: number): Failure {
  const used = usedBytes === null ? "" : ` (${usedBytes} bytes used)`;
  return new Failure(
    "quota_exceeded",
    `Storing ${sizeBytes} more bytes would pass the owner's storage quota of ${quotaBytes} bytes${used}.`,
  );
}

/** Refuses `sizeBytes` more for an owner who has `usedBytes` stored: the early check, before any byte is stored. */
export function checkQuota(quotaBytes: number, usedBytes: number, sizeBytes: number): void {
  if (!fitsQuota(quotaBytes, usedBytes, sizeBytes)) throw quotaExceeded(quotaBytes, usedBytes, sizeBytes);
}

/**
 * The early check for a streamed upload, whose size is only known at its end: refuses it as soon
 * as the bytes received pass the room left. Undefined when there is no quota.
 */
export function quotaLimit(
  quotaBytes: number,
  usedBytes: number,
): { bytes: number; exceeded: (received: number) => Failure } | undefined {
  if (quotaBytes === 0) return undefined;
  const room = Math.max(0, quotaBytes - usedBytes);
  return {
    bytes: room,
    // The size is not known yet, only that it passes the room: say that, not the bytes read so far.
    exceeded: (received) =>
      new Failure(
        "quota_exceeded",
        `The file passes the owner's storage quota of ${quotaBytes} bytes (${usedBytes} bytes used, ${room} left): ` +
          `refused after its first ${received} bytes.`,
      ),
  };
}

/** An owner's counter. */
export async function storageUsage(db: Database, userId: string): Promise<number> {
  const [row] = await db.select({ used: users.storageUsedBytes }).from(users).where(eq(users.id, userId));
  return Number(row?.used ?? 0);
}

/**
 * The `quota_exceeded` of a statement the quota refused, naming the owner's usage as a fresh read
 * sees it (the statement's own snapshot may predate the upload that took the room). The read only
 * decorates the message: if it fails, the Failure names no usage, since the statement certainly
 * wrote nothing and its caller must still discard the stored bytes.
 */
export async function refusedByQuota(
  db: Database,
  ownerId: string,
  quotaBytes: number,
  sizeBytes: number,
): Promise<Failure> {
  const used = await storageUsage(db, ownerId).catch(() => null);
  return quotaExceeded(quotaBytes, used, sizeBytes);
}

/**
 * A CTE named `charged` that adds a new version's bytes to its document owner's counter only if
 * they fit the quota, returning a row when it did: a version insert that selects `from charged`
 * inserts nothing otherwise. The update's row lock serialises concurrent uploads of one owner: a
 * statement that waited for it re-evaluates the condition on the counter the winner committed
 * (PostgreSQL re-checks locked rows under READ COMMITTED), so no two uploads can both pass a
 * quota only one of them fits. Only an open account is charged: an upload that waited for the
 * lock of an account being closed finds it closed and inserts nothing. `ownerId` is an
 * expression (the owner may be resolved by the same statement).
 */
export const chargeQuotaCte = (ownerId: SQL, sizeBytes: number, quotaBytes: number) => sql`
  charged as (
    update users set storage_used_bytes = storage_used_bytes + ${sizeBytes}::bigint
    where id = ${ownerId} and is_active
      and (${quotaBytes}::bigint = 0 or storage_used_bytes + ${sizeBytes}::bigint <= ${quotaBytes}::bigint)
    returning id
  )`;
