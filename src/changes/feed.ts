// GET /changes: one page after a cursor, held open up to `wait` seconds while there is nothing
// new (long-poll). While waiting it polls the database every POLL_MS, a cheap index-backed
// statement; a waiting request sleeps between polls, so it costs no Worker CPU time, only
// wall-clock time, and counts once against its user's request budget.
import type { Database } from "../db/client";
import { decodeCursor, encodeCursor, type Position, START } from "./cursor";
import { type ChangeView, changesAfter, latestPosition } from "./feed.store";

/** A change committed during a wait is answered within this (plus one round trip). */
export const POLL_MS = 400;

export type ChangesPage = { items: ChangeView[]; next_cursor: string; has_more: boolean };

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

export async function readChanges(
  db: Database,
  input: { userId: string; cursor?: string; limit: number; waitSeconds: number; signal?: AbortSignal },
): Promise<ChangesPage> {
  // Validated before any query: an invalid cursor is 422 whatever else is wrong.
  const after: Position = input.cursor === undefined ? START : decodeCursor(input.cursor);
  const requestCursor = input.cursor ?? encodeCursor(START);
  const deadline = Date.now() + input.waitSeconds * 1000;
  for (;;) {
    const { items, hasMore } = await changesAfter(db, { userId: input.userId, after, limit: input.limit });
    const left = deadline - Date.now();
    if (items.length > 0 || left <= 0 || input.signal?.aborted) {
      return { items, has_more: hasMore, next_cursor: items.at(-1)?.cursor ?? requestCursor };
    }
    await sleep(Math.min(POLL_MS, left), input.signal);
  }
}

export async function latestCursor(db: Database, userId: string): Promise<string> {
  return encodeCursor(await latestPosition(db, userId));
}
