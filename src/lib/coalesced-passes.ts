// Background passes started after a request's change (waitUntil), one at a time per isolate: the
// webhook dispatcher and the live notifier each read the activity log past a position, so a
// request that finds a pass running only asks for one more pass after it (the running one may
// have read before this request's commit) and resolves at once. The running pass is never handed
// to another request: workerd refuses one request's I/O objects (a promise's resolver included)
// in another's ("Cannot perform I/O on behalf of a different request"); the waitUntil of the
// request that started the pass keeps it, and the extra passes, alive.

/**
 * A runner of coalesced passes. `staleAfterMs`: a pass running longer than that is taken for lost
 * (its request's context ended under it) and a new one starts; without it, a pass is waited for
 * however long it runs.
 */
export function coalescedPasses(options: { staleAfterMs?: number } = {}) {
  let running: { since: number } | null = null;
  let again = false;
  return async function runSoon(pass: () => Promise<unknown>): Promise<void> {
    if (running && (options.staleAfterMs === undefined || Date.now() - running.since < options.staleAfterMs)) {
      again = true;
      return;
    }
    const mine = { since: Date.now() };
    running = mine;
    try {
      do {
        again = false;
        await pass();
      } while (again);
    } finally {
      if (running === mine) running = null;
    }
  };
}
