import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import type { Config } from "../config";
import * as schema from "./schema";

export function createDatabase(config: Config) {
  // Neon's driver posts each query to an HTTP endpoint derived from the connection string's
  // host; NEON_HTTP_ENDPOINT points it at a Neon-compatible endpoint instead (the local stack).
  if (config.NEON_HTTP_ENDPOINT) neonConfig.fetchEndpoint = config.NEON_HTTP_ENDPOINT;
  return drizzle({ client: neon(config.DATABASE_URL), schema });
}

export type Database = ReturnType<typeof createDatabase>;
