import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { statementRefused } from "../../db/errors";
import { describeError } from "../../lib/logger";

/**
 * Deletes bytes that no row refers to, after the response (waitUntil): the statement that would
 * have referred to them answered and wrote nothing. If this fails too, the scheduled sweeper
 * removes the unreferenced object later.
 */
export function discardObject(c: Context<AppEnv>, key: string): void {
  const storage = c.get("storage");
  const work = storage.delete(key).catch((error) => {
    c.get("logger").warn("could not delete an orphaned object; the sweeper will", describeError(error));
  });
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No execution context (app.request in tests): the promise still runs.
  }
}

/**
 * After the statement that was to refer to `key` failed: deletes the object only when
 * PostgreSQL itself refused the statement, so it certainly wrote nothing. A deadline, a lost
 * connection or a failing endpoint leave the outcome unknown (the statement may still commit,
 * and then this object is a version's bytes), so the object stays for the sweeper, which
 * removes it only once it is old and nothing refers to it.
 */
export function discardAfterFailedWrite(c: Context<AppEnv>, key: string, error: unknown): void {
  if (statementRefused(error)) {
    discardObject(c, key);
    return;
  }
  c.get("logger").warn("database write failed with an unknown outcome; keeping its object for the sweeper", {
    ...describeError(error),
  });
}
