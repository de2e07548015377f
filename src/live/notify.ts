// After a change commits: the live dispatcher pushes it to the connected readers' objects and
// closes presence sockets of users who lost access. It runs in waitUntil after each request that
// may have recorded a change (the same requests that trigger the webhook dispatcher), coalesced
// per isolate, and every minute from the Cron Trigger in case a Worker died between a commit
// and its notification (a client then still gets the change, later; and can always catch up
// from GET /changes with the last cursor it saw).

import { type PassEnd, passUntilReleased } from "../changes/held-back";
import type { Database } from "../db/client";
import { coalescedPasses } from "../lib/coalesced-passes";
import { connectionsOf, forgetConnection, nextLiveBatch, startLivePosition } from "./live.store";
import type { DocumentPresence, UserEvents } from "./objects";
import { CLOSE_ACCOUNT_CLOSED, CLOSE_REVOKED } from "./protocol";

export type LiveBindings = {
  USER_EVENTS?: DurableObjectNamespace<UserEvents>;
  DOCUMENT_PRESENCE?: DurableObjectNamespace<DocumentPresence>;
};

const STATEMENTS_PER_RUN = 10;
const ROWS_PER_STATEMENT = 500;

export const userEvents = (live: LiveBindings, userId: string) => live.USER_EVENTS?.getByName(userId);
export const documentPresence = (live: LiveBindings, documentId: string) =>
  live.DOCUMENT_PRESENCE?.getByName(documentId);

/**
 * Pushes what committed since the last pass; answers how many objects were called. While
 * committed changes are held back by an older open transaction, it tries again until it has passed
 * them, for a while (src/changes/held-back.ts), so they still reach their sockets within seconds.
 */
export async function notifyLive(db: Database, live: LiveBindings): Promise<number> {
  if (!live.USER_EVENTS || !live.DOCUMENT_PRESENCE) return 0;
  let called = 0;
  await passUntilReleased(async () => {
    const pass = await notifyPass(db, live);
    called += pass.called;
    return pass;
  });
  return called;
}

async function notifyPass(db: Database, live: LiveBindings): Promise<PassEnd & { called: number }> {
  let called = 0;
  let end: PassEnd = { position: "0:0", heldUpTo: null };
  for (let i = 0; i < STATEMENTS_PER_RUN; i++) {
    const batch = await nextLiveBatch(db);
    if (!batch.positioned) {
      await startLivePosition(db);
      continue;
    }
    await Promise.all([
      ...batch.pushes.map(async ({ userId, connectedAt, changes }) => {
        const stub = userEvents(live, userId);
        if (!stub) return;
        called++;
        const sockets = await stub.push(changes);
        if (sockets === 0) await forgetConnection(db, { kind: "events", objectId: userId, userId, connectedAt });
      }),
      ...batch.evictions.map(async ({ documentId, userIds }) => {
        const stub = documentPresence(live, documentId);
        if (!stub) return;
        called++;
        await stub.closeUsers(userIds, CLOSE_REVOKED, "access to the document ended");
      }),
    ]);
    end = { position: batch.position, heldUpTo: batch.heldUpTo };
    if (batch.scanned < ROWS_PER_STATEMENT) break;
  }
  return { ...end, called };
}

/** A closed account: every socket of it, events and presence, ends with 4401. */
export async function closeAccountSockets(db: Database, live: LiveBindings, userId: string): Promise<void> {
  const connections = await connectionsOf(db, userId);
  await Promise.all(
    connections.map(async (c) => {
      const stub = c.kind === "events" ? userEvents(live, c.objectId) : documentPresence(live, c.objectId);
      await stub?.closeUsers([userId], CLOSE_ACCOUNT_CLOSED, "account closed");
    }),
  );
}

// Passes started by requests of this isolate run one at a time (src/lib/coalesced-passes.ts).
const notifyPasses = coalescedPasses();

/** For waitUntil after a change: a notification pass now, or one more after the pass running. */
export function notifyLiveSoon(db: Database, live: LiveBindings, onError: (error: unknown) => void): Promise<void> {
  return notifyPasses(() => notifyLive(db, live).catch(onError));
}
