// The HTTP side of discarding orphaned bytes (src/documents/discard.ts): the request's storage
// and logger, and its execution context to keep the deletion running after the response.
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import * as discard from "../../documents/discard";

/** waitUntil of this request, so work outlives the response. */
export function backgroundOf(c: Context<AppEnv>): discard.Background {
  return (work) => {
    try {
      c.executionCtx.waitUntil(work);
    } catch {
      // No execution context (app.request in tests): the promise still runs.
    }
  };
}

export const discardingOf = (c: Context<AppEnv>): discard.Discarding => ({
  storage: c.get("storage"),
  logger: c.get("logger"),
  background: backgroundOf(c),
});

export const discardObject = (c: Context<AppEnv>, key: string): void => discard.discardObject(discardingOf(c), key);

export const discardAfterFailedWrite = (c: Context<AppEnv>, key: string, error: unknown): void =>
  discard.discardAfterFailedWrite(discardingOf(c), key, error);
