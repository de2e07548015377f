// Passes over the activity log (the webhook dispatcher, the live notifier) advance only over rows
// whose transaction is below the snapshot's xmin, so that a change committing late is never passed
// over (src/changes/feed.store.ts). A change that commits while an older transaction is still open
// (any transaction of the database server, another database's included) is held back until that
// one ends, and the pass that followed its commit leaves it behind: nothing would take it before
// the next change or the minute's Cron Trigger, where the contract asks for seconds. So a pass
// that reports a committed change held back runs again, after a growing pause, for a while.
import { type SQL, sql } from "drizzle-orm";

/** How long a pass keeps waiting for held-back changes (waitUntil allows 30 s after a response). */
export const HELD_BACK_WAIT_MS = 20_000;
const FIRST_PAUSE_MS = 100;
const LONGEST_PAUSE_MS = 2_000;

/** Runs `pass` (answering whether a committed change was held back) until none is, or the wait is over. */
export async function passUntilNoneHeldBack(pass: () => Promise<boolean>, waitMs = HELD_BACK_WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  let pause = FIRST_PAUSE_MS;
  while ((await pass()) && Date.now() + pause < deadline) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(LONGEST_PAUSE_MS, pause * 2);
  }
}

/**
 * Whether a committed activity row after position `pos` (a CTE or alias with `xact` and `seq`) is
 * held back by a transaction still open: its transaction id is at or above the snapshot's xmin.
 */
export const heldBackAfter = (pos: SQL) => sql`exists (
  select 1 from activity_logs held, ${pos}
  where (held.xact_id, held.seq) > (${pos}.xact, ${pos}.seq) and held.xact_id >= pg_snapshot_xmin(pg_current_snapshot()))`;
