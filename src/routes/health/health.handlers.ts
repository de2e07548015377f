import { sql } from "drizzle-orm";
import type { AppRouteHandler } from "../../app-env";
import { describeError } from "../../lib/logger";
import type { health, live } from "./health.routes";

const CHECK_TIMEOUT_MS = 3000;

async function check(name: string, run: (signal: AbortSignal) => Promise<unknown>, log: (f: object) => void) {
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  try {
    await Promise.race([
      run(signal),
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("timed out")))),
    ]);
    return "ok" as const;
  } catch (error) {
    log({ check: name, ...describeError(error) });
    return "error" as const;
  }
}

export const healthHandler: AppRouteHandler<typeof health> = async (c) => {
  const log = (fields: object) => c.get("logger").warn("health check failed", fields as Record<string, unknown>);
  const [database, storage] = await Promise.all([
    check("database", () => c.get("db").execute(sql`select 1`), log),
    check("storage", (signal) => c.get("storage").checkBucket(signal), log),
  ]);
  const checks = { database, storage };
  if (database === "ok" && storage === "ok") return c.json({ status: "ok" as const, checks }, 200);
  return c.json({ status: "error" as const, checks }, 503);
};

export const liveHandler: AppRouteHandler<typeof live> = (c) => c.json({ status: "ok" as const }, 200);
