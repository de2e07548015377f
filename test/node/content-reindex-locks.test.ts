// `npm run content:reindex` against a content consumer saving a document it is marking, on real
// PostgreSQL (DEV_POSTGRES_URL; PGlite runs one statement at a time, so nothing can interleave).
// The consumer locks the document, then writes its content row (src/content/content.store.ts);
// the content row's trigger locks the document too (migration 0014). The command must take the
// same order, or the two wait for each other and PostgreSQL kills one ("deadlock detected").
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../devstack/migrate.ts";
import { PostgresBackend } from "../../devstack/sql-backend.ts";
import { createScratchDatabase, type ScratchDatabase } from "../support/scratch-database.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const serverUrl = process.env.DEV_POSTGRES_URL;

function reindex(url: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      "npm",
      ["run", "--silent", "content:reindex", "--", url],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: "", NEON_HTTP_ENDPOINT: "" } },
      (error, stdout, stderr) => done({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(!serverUrl)("content:reindex beside a consumer (real PostgreSQL)", () => {
  let scratch: ScratchDatabase | undefined;
  let admin: pg.Client;
  let consumer: pg.Client;
  let docId: string;

  beforeAll(async () => {
    scratch = await createScratchDatabase(serverUrl as string, "docvault_reindex");
    const backend = new PostgresBackend(scratch.url, 2);
    await migrate(backend);
    await backend.close();
    admin = new pg.Client({ connectionString: scratch.url });
    consumer = new pg.Client({ connectionString: scratch.url });
    await admin.connect();
    await consumer.connect();
    const user = await admin.query(
      "insert into users (email, password_hash) values ('locks@example.com', 'x') returning id",
    );
    const docs = await admin.query(
      `insert into documents (owner_id, title, current_version)
       select $1::uuid, 'doc ' || n, 1 from generate_series(1, 50) n returning id`,
      [user.rows[0].id],
    );
    docId = docs.rows[25].id;
  }, 120_000);

  afterAll(async () => {
    await admin?.end();
    await consumer?.end();
    await scratch?.drop();
  });

  it("waits for a consumer holding a document it marks, instead of deadlocking with it", async () => {
    // The consumer's order: the document first (FOR NO KEY UPDATE), then its content row.
    await consumer.query("begin");
    await consumer.query("select 1 from documents where id = $1 for no key update", [docId]);
    const run = reindex(scratch?.url as string);
    // The command's statement is waiting for a lock the consumer holds.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const waiting = await admin.query(
        "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      );
      if (waiting.rowCount) break;
      if (Date.now() > deadline) throw new Error("content:reindex never waited for the consumer's lock");
      await new Promise((r) => setTimeout(r, 50));
    }
    await consumer.query(
      `insert into document_contents (document_id, version_number, status, text, search_vector, updated_at)
       values ($1, 1, 'indexed', 'okapi field notes', to_tsvector('english', 'okapi field notes'), now())
       on conflict (document_id) do update set status = excluded.status, text = excluded.text,
         search_vector = excluded.search_vector, updated_at = excluded.updated_at`,
      [docId],
    );
    await consumer.query("commit");
    const result = await run;
    expect(result.stderr).not.toMatch(/deadlock/);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("done: 49 documents marked pending");
    // The consumer's text stands, and the document's match vector carries it.
    const [row] = (
      await admin.query(
        `select c.status, d.match_vector @@ to_tsquery('english', 'okapi') as matches
         from document_contents c join documents d on d.id = c.document_id where c.document_id = $1`,
        [docId],
      )
    ).rows;
    expect(row).toEqual({ status: "indexed", matches: true });
  }, 60_000);
});
