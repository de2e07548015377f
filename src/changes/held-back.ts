// Passes over the activity log (the webhook dispatcher, the live notifier) advance only over rows
// whose transaction is below the snapshot's xmin, so that a change committing late is never passed
// over (src/changes/feed.store.ts). A change that commits while an older transaction is still open
// (any transaction of the database server, another database's included) is held back until that
// one ends, and the pass that followed its commit leaves it behind: nothing would take it before
// the next change or the minute's Cron Trigger, where the contract asks for seconds. So a pass
// that finds committed changes held back runs again, after a growing pause, until its position
// has passed the last of them (changes committed later have passes of their own), for a while.
import { type SQL, sql } from "drizzle-orm";

/** How long a pass keeps waiting for held-back changes (waitUntil allows 30 s after a response). */
export const HELD_BACK_WAIT_MS = 20_000;
const FIRST_PAUSE_MS = 100;
const LONGEST_PAUSE_MS = 2_000;

/** Where a pass stopped, and the last committed change it found held back after there ("xact:seq"). */
export type PassEnd = { position: string; heldUpTo: string | null };

const before = (a: string, b: string) => {
  const [ax = "0", as = "0"] = a.split(":");
  const [bx = "0", bs = "0"] = b.split(":");
  return BigInt(ax) < BigInt(bx) || (BigInt(ax) === BigInt(bx) && BigInt(as) < BigInt(bs));
};

/** Runs `pass` until it has passed what its first run found held back, or the wait is over. */
export async function passUntilReleased(pass: () => Promise<PassEnd>, waitMs = HELD_BACK_WAIT_MS): Promise<void> {
  let end = await pass();
  const target = end.heldUpTo;
  if (target === null) return;
  const deadline = Date.now() + waitMs;
  let pause = FIRST_PAUSE_MS;
  while (before(end.position, target) && Date.now() + pause < deadline) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(LONGEST_PAUSE_MS, pause * 2);
    end = await pass();
  }
}

/**
 * The last committed activity row after position `pos` (a CTE or alias with `xact` and `seq`) that
 * is held back by a transaction still open (its transaction id at or above the snapshot's xmin),
 * as "xact:seq", or null.
 */
export const heldBackUpTo = (pos: SQL) => sql`(
  select held.xact_id::text || ':' || held.seq::text from activity_logs held, ${pos}
  where (held.xact_id, held.seq) > (${pos}.xact, ${pos}.seq) and held.xact_id >= pg_snapshot_xmin(pg_current_snapshot())
  order by held.xact_id desc, held.seq desc limit 1)`;

/** The position a pass's statement leaves: its batch's last row, or `pos` when the batch is empty. */
export const positionAfter = (batch: SQL, pos: SQL) => sql`coalesce(
  (select xact_id::text || ':' || seq::text from ${batch} order by xact_id desc, seq desc limit 1),
  (select ${pos}.xact::text || ':' || ${pos}.seq::text from ${pos}))`;
