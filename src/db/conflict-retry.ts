// A transaction PostgreSQL aborted to break a deadlock (40P01), or for a serialization failure
// (40001), wrote nothing, and run again it usually succeeds: the other side has committed by
// then. Each HTTP request to Neon's endpoint is one statement or one batch run as one
// transaction, so the request is what is sent again, whatever domain code built it. Two writers
// that lock the same rows in opposite orders cannot always be avoided: closing an account locks
// its user row, then its documents; a new version locks its document, then the owner's row (the
// storage counter). On PostgreSQL the two deadlocked and one answered 500
// (account-closure.test.ts races them).
import { neonConfig } from "@neondatabase/serverless";
import { pgErrorOf } from "./errors";

/** SQLSTATEs of a transaction that was rolled back only because of another's timing. */
const RETRIED_CODES = new Set(["40P01", "40001"]);
/** Attempts in all; a third conflict in a row is answered as the error it is. */
export const CONFLICT_ATTEMPTS = 3;

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/**
 * `send`, sent again (after a short random pause, so two victims do not collide again) while the
 * endpoint answers that the transaction was rolled back for a conflict. The body is the same
 * string each time; the request's deadline (its signal) covers every attempt.
 */
export function retryingConflicts(send: Fetch): Fetch {
  return async (input, init) => {
    for (let attempt = 1; ; attempt++) {
      const res = await send(input, init);
      // Neon's endpoint answers a PostgreSQL error with 400 and its fields, `code` among them.
      if (res.status !== 400 || attempt >= CONFLICT_ATTEMPTS) return res;
      const error = await res
        .clone()
        .json()
        .catch(() => null);
      if (!RETRIED_CODES.has(pgErrorOf(error)?.code ?? "")) return res;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
    }
  };
}

let installed = false;

/** Makes every Neon HTTP query of this isolate retry conflicts (the driver's fetch is one global setting). */
export function retryConflictsEverywhere(): void {
  if (installed) return;
  installed = true;
  const previous = neonConfig.fetchFunction as Fetch | undefined;
  // The global fetch is looked up per request, not captured: a test may replace it.
  neonConfig.fetchFunction = retryingConflicts((input, init) => (previous ?? fetch)(input, init));
}
