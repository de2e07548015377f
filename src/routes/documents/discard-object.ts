import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { describeError } from "../../lib/logger";

/**
 * Deletes bytes whose database row was never written, after the response (waitUntil). If this
 * fails too, the scheduled sweeper removes the unreferenced object later.
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
