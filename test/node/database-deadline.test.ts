// A database round trip past DATABASE_TIMEOUT_MS is a 503 `database_unavailable`, wherever the
// deadline falls: before the endpoint answers (the driver wraps the failed fetch in a NeonDbError)
// or while its answer's body is still being read (the abort's TimeoutError comes out bare, under
// Drizzle's wrapping), which answered 500 `internal_error` under load.
import { neon, neonConfig } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../../src/db/errors";

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** Answers after `headersAfterMs` with headers, then sends its body only when `bodyAfterMs` has passed; honours the abort like fetch. */
const slowEndpoint =
  (headersAfterMs: number, bodyAfterMs: number): Fetch =>
  (_input, init) =>
    new Promise((resolve, reject) => {
      const signal = init.signal as AbortSignal;
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            const timer = setTimeout(() => {
              controller.enqueue(new TextEncoder().encode(JSON.stringify({ fields: [], rows: [], command: "SELECT" })));
              controller.close();
            }, bodyAfterMs);
            signal.addEventListener("abort", () => {
              clearTimeout(timer);
              controller.error(signal.reason);
            });
          },
        });
        resolve(new Response(body, { status: 200, headers: { "Content-Type": "application/json" } }));
      }, headersAfterMs);
    });

async function failureOf(fetchFunction: Fetch): Promise<unknown> {
  // The driver's fetch is one global setting (as src/db/conflict-retry.ts sets it).
  const previous = neonConfig.fetchFunction;
  let called = false;
  neonConfig.fetchFunction = (input: string, init: RequestInit) => {
    called = true;
    return fetchFunction(input, init);
  };
  const client = neon("postgres://user:password@db.example.test/app", {
    fetchOptions: { signal: AbortSignal.timeout(50) },
  });
  try {
    await drizzle({ client }).execute(sql`select 1`);
  } catch (error) {
    expect(called).toBe(true);
    return error;
  } finally {
    neonConfig.fetchFunction = previous;
  }
  throw new Error("the query did not fail");
}

describe("a database deadline", () => {
  it("before the endpoint answers: unavailable", async () => {
    expect(isDatabaseUnavailable(await failureOf(slowEndpoint(1_000, 0)))).toBe(true);
  });

  it("while the answer's body is read: unavailable (was an unclassified TimeoutError)", async () => {
    const error = await failureOf(slowEndpoint(0, 1_000));
    expect(String((error as { cause?: unknown }).cause ?? error)).toMatch(/timeout|abort/i);
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it("a query PostgreSQL refused is not a failing database", async () => {
    const refusing: Fetch = async () =>
      new Response(JSON.stringify({ message: "syntax error", code: "42601" }), { status: 400 });
    expect(isDatabaseUnavailable(await failureOf(refusing))).toBe(false);
  });
});
