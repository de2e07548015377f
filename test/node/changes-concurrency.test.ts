// The changes feed's cursor under concurrent writers, on real PostgreSQL (DEV_POSTGRES_URL; PGlite
// runs one statement at a time, so it cannot commit out of order). Writers are transactions held
// open with `pg`, so row numbers are taken in one order and commits happen in another; the feed's
// own statement (src/changes/feed.store.ts) is read through the local Neon endpoint, as the Worker
// reads it, while they commit. Every change must be read exactly once.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { neon } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../devstack/stack.ts";
import { decodeCursor, type Position, START } from "../../src/changes/cursor.ts";
import { changesAfter } from "../../src/changes/feed.store.ts";
import { useEndpointFor } from "../../src/db/neon-endpoint.ts";
import * as schema from "../../src/db/schema.ts";
import { createScratchDatabase, type ScratchDatabase } from "../support/scratch-database.ts";

const serverUrl = process.env.DEV_POSTGRES_URL;

describe.skipIf(!serverUrl)("changes feed under concurrent writers (real PostgreSQL)", () => {
  let scratch: ScratchDatabase | undefined;
  let dbUrl: string;
  let dir: string;
  let stack: LocalStack;
  let db: ReturnType<typeof drizzle<typeof schema>>;
  let userId: string;
  let docIds: string[];
  const clients: pg.Client[] = [];

  async function client(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase(serverUrl as string, "docvault_changes");
    dbUrl = scratch.url;
    dir = await mkdtemp(join(tmpdir(), "docvault-changes-"));
    stack = await startLocalStack({ postgresUrl: dbUrl, s3Directory: dir });
    useEndpointFor(stack.bindings.DATABASE_URL as string, stack.bindings.NEON_HTTP_ENDPOINT as string);
    db = drizzle({ client: neon(stack.bindings.DATABASE_URL as string), schema });
    const setup = await client();
    const user = await setup.query(
      `insert into users (email, password_hash) values ('writer@example.com', 'x') returning id`,
    );
    userId = user.rows[0].id;
    const docs = await setup.query(
      `insert into documents (owner_id, title) select $1, 'doc ' || i from generate_series(1, 4) i returning id`,
      [userId],
    );
    docIds = docs.rows.map((r) => r.id);
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await stack?.close();
    await scratch?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const insertChange = (c: pg.Client, doc: string, label: string) =>
    c.query<{ id: string; seq: string }>(
      `insert into activity_logs (document_id, actor_id, action, details)
       values ($1, $2, 'document.updated', jsonb_build_object('label', $3::text)) returning id, seq`,
      [doc, userId, label],
    );

  async function readAll(after: Position, limit = 1000) {
    return changesAfter(db, { userId, after, limit });
  }

  it("holds back a change committed after a later one instead of skipping it", async () => {
    const a = await client();
    const b = await client();
    const start = await readAll(START);
    const from = start.items.length > 0 ? decodeCursor(start.items.at(-1)?.cursor as string) : START;
    await a.query("begin");
    const rowA = await insertChange(a, docIds[0] as string, "A"); // lower seq, lower xid
    await b.query("begin");
    const rowB = await insertChange(b, docIds[1] as string, "B");
    await b.query("commit"); // B commits first
    expect(BigInt(rowA.rows[0]?.seq as string)).toBeLessThan(BigInt(rowB.rows[0]?.seq as string));

    // The naive reading (highest sequence number seen) would now move past A for ever:
    const seen = await (await client()).query(`select id from activity_logs where seq > $1 order by seq`, [
      rowA.rows[0]?.seq,
    ]);
    expect(seen.rows.map((r) => r.id)).toEqual([rowB.rows[0]?.id]);

    // The feed serves neither while A's transaction is open: B is held back, not served early.
    const whileOpen = await readAll(from);
    expect(whileOpen.items.map((i) => i.id)).toEqual([]);
    await a.query("commit");
    const after = await readAll(from);
    expect(after.items.map((i) => i.id)).toEqual([rowA.rows[0]?.id, rowB.rows[0]?.id]);
  });

  it("many writers committing in random order, read while they commit: every change once", async () => {
    const WRITERS = 8;
    const ROUNDS = 12;
    const writers = await Promise.all(Array.from({ length: WRITERS }, () => client()));
    const written: string[] = [];
    let done = false;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    const writing = Promise.all(
      writers.map(async (c, w) => {
        for (let round = 0; round < ROUNDS; round++) {
          await c.query("begin");
          const ids: string[] = [];
          // One or two rows per transaction, on any of the documents, with pauses in between so
          // that sequence numbers interleave across transactions.
          for (let k = 0; k < 1 + (round % 2); k++) {
            const row = await insertChange(c, docIds[(w + round + k) % docIds.length] as string, `${w}.${round}.${k}`);
            ids.push(row.rows[0]?.id as string);
            await sleep(Math.random() * 30);
          }
          await sleep(Math.random() * 60);
          await c.query("commit");
          written.push(...ids);
        }
      }),
    ).finally(() => {
      done = true;
    });

    // The reader follows the feed with small pages while the writers commit.
    const read: string[] = [];
    let cursor = START;
    let outOfOrderCommits = 0;
    for (;;) {
      const finished = done;
      const page = await readAll(cursor, 7);
      for (const item of page.items) read.push(item.id);
      const last = page.items.at(-1);
      if (last) cursor = decodeCursor(last.cursor);
      if (finished && !page.has_more && page.items.length === 0) break;
      await sleep(5);
    }
    await writing;

    // The writers did commit out of sequence order (the situation a plain sequence cursor breaks in).
    const order = await (await client()).query<{ seq: string; xact: string }>(
      `select seq::text, xact_id::text as xact from activity_logs where details ? 'label' order by xact_id, seq`,
    );
    for (let i = 1; i < order.rows.length; i++) {
      if (BigInt(order.rows[i]?.seq as string) < BigInt(order.rows[i - 1]?.seq as string)) outOfOrderCommits++;
    }
    expect(outOfOrderCommits).toBeGreaterThan(0);

    const readOfThisTest = read.filter((id) => written.includes(id));
    expect(new Set(readOfThisTest).size).toBe(readOfThisTest.length); // none twice
    expect(readOfThisTest.sort()).toEqual([...written].sort()); // none skipped
  }, 120_000);
});
