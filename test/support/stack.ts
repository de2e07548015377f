// Direct access to the local stack from tests running inside workerd: SQL through the same Neon
// driver the Worker uses, and the object store through the service's own storage module.

import { env } from "cloudflare:test";
import { neon } from "@neondatabase/serverless";
import { type Config, loadConfig } from "../../src/config";
import { useEndpointFor } from "../../src/db/neon-endpoint";
import { SEALED_UPLOAD_TYPE } from "../../src/documents/discard";
import { ObjectStorage } from "../../src/storage/object-storage";

export function testSql() {
  useEndpointFor(env.DATABASE_URL, env.NEON_HTTP_ENDPOINT);
  return neon(env.DATABASE_URL);
}

export function testStorage() {
  return new ObjectStorage(env);
}

/** The Worker's configuration as the tests' bindings give it (what `runScheduledMaintenance` and friends take). */
export function testConfig(): Config {
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(loaded.problems.join("; "));
  return loaded.config;
}

/**
 * Row counts of every table a refused request must leave alone, and the sum of document
 * revisions (a refused update changes no count but would bump a revision). Activity rows of
 * `content.indexed` are left out, as document_contents is: the content queue's consumer writes
 * them in the background whenever an earlier upload's text is done, never a request, so they may
 * land between two snapshots.
 */
export async function databaseSnapshot(): Promise<Record<string, number>> {
  const [row] = await testSql()`select
    (select count(*) from users)::int as users, (select count(*) from documents)::int as documents,
    (select count(*) from document_versions)::int as versions, (select count(*) from document_tags)::int as tags,
    (select count(*) from document_permissions)::int as permissions, (select count(*) from refresh_tokens)::int as tokens,
    (select count(*) from activity_logs where action <> 'content.indexed')::int as activity, (select count(*) from uploads)::int as uploads,
    (select coalesce(sum(revision), 0))::int as revisions from documents`;
  return row as Record<string, number>;
}

/** The keys of stored objects under `prefix`, sorted. */
export async function storedKeys(prefix = "documents/"): Promise<string[]> {
  return (await testStorage().listKeys(prefix)).sort();
}

/**
 * Keys under `prefix` that hold bytes: the empty marker an ended upload leaves at its staging key
 * (so that a replayed presigned PUT stores nothing: src/documents/discard.ts) is not counted.
 */
export async function keysWithBytes(prefix: string): Promise<string[]> {
  const keys = await storedKeys(prefix);
  const heads = await Promise.all(keys.map((key) => testStorage().head(key)));
  return keys.filter((_, i) => !(heads[i]?.size === 0 && heads[i]?.contentType === SEALED_UPLOAD_TYPE));
}
