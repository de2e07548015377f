import { neon } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import type { Config } from "../config";
import { retryConflictsEverywhere } from "./conflict-retry";
import { useEndpointFor } from "./neon-endpoint";
import * as schema from "./schema";

export function createDatabase(config: Config) {
  // Neon's driver posts each query to an HTTP endpoint derived from the connection string's
  // host; NEON_HTTP_ENDPOINT points that host at a Neon-compatible endpoint (the local stack).
  if (config.NEON_HTTP_ENDPOINT) useEndpointFor(config.DATABASE_URL, config.NEON_HTTP_ENDPOINT);
  // A transaction rolled back by a deadlock or a serialization failure is sent again (conflict-retry.ts).
  retryConflictsEverywhere();
  // Each query gets its own deadline: a database that stops answering becomes a 503, not a hang.
  const timeout = config.DATABASE_TIMEOUT_MS;
  const client = neon(config.DATABASE_URL, {
    fetchOptions: {
      get signal() {
        return AbortSignal.timeout(timeout);
      },
    },
  });
  return drizzle({ client, schema });
}

export type Database = ReturnType<typeof createDatabase>;
