// Readiness: whether the database and the object storage answer, each within a deadline, so a
// hung dependency makes the probe fail instead of hang.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { describeError, type Logger } from "../lib/logger";
import type { ObjectStorage } from "../storage/object-storage";

const CHECK_TIMEOUT_MS = 3000;

export type CheckStatus = "ok" | "error";

async function check(name: string, run: (signal: AbortSignal) => Promise<unknown>, logger: Logger) {
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  try {
    await Promise.race([
      run(signal),
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("timed out")))),
    ]);
    return "ok" as const;
  } catch (error) {
    logger.warn("health check failed", { check: name, ...describeError(error) });
    return "error" as const;
  }
}

/** `select 1` on the database and a HEAD on the bucket, in parallel. */
export async function checkDependencies(services: {
  db: Database;
  storage: ObjectStorage;
  logger: Logger;
}): Promise<{ database: CheckStatus; storage: CheckStatus }> {
  const [database, storage] = await Promise.all([
    check("database", () => services.db.execute(sql`select 1`), services.logger),
    check("storage", (signal) => services.storage.checkBucket(signal), services.logger),
  ]);
  return { database, storage };
}
