// Direct access to the local stack from tests running inside workerd: SQL through the same Neon
// driver the Worker uses, and the object store through the service's own storage module.

import { env } from "cloudflare:test";
import { neon } from "@neondatabase/serverless";
import { useEndpointFor } from "../../src/db/neon-endpoint";
import { ObjectStorage } from "../../src/storage/object-storage";

export function testSql() {
  useEndpointFor(env.DATABASE_URL, env.NEON_HTTP_ENDPOINT);
  return neon(env.DATABASE_URL);
}

export function testStorage() {
  return new ObjectStorage(env);
}
