// npm run content:reindex [-- DATABASE_URL]: asks for the text of every live document whose
// current version has no indexed content (never extracted, failed, or extracted before content
// search existed). Node cannot reach the Worker's queue binding, so the command only marks those
// documents `pending` in the database, in batches of 1,000 (keyset on the id, so it can be
// stopped and run again); the Worker's scheduled job (hourly) then sends up to 1,000 of them to
// the content queue, and each one the consumer handles sends the next (src/content/consume.ts).
// Unsupported types (images, ZIP) are left alone: their status would not change. Each batch
// locks its documents first, as a consumer saving one does, and waits for such a consumer.
//
// The database: the argument, else DATABASE_URL. With NEON_HTTP_ENDPOINT set (the local stack
// of `npm run dev`) or a Neon host, queries go over Neon's HTTP API, like the Worker's;
// otherwise over the PostgreSQL protocol (pg).
import { neon, neonConfig } from "@neondatabase/serverless";
import pg from "pg";

const BATCH = 1000;

const MARK = `
  with batch as (
    select d.id, d.current_version from documents d
    where d.deleted_at is null and d.id > $1::uuid
    order by d.id
    limit $2
    -- The documents before their content rows, the order the consumer takes (content.store.ts):
    -- a content row's trigger locks its document, so the other order could deadlock with a
    -- consumer saving one of them (test/node/content-reindex-locks.test.ts).
    for no key update of d
  ),
  marked as (
    insert into document_contents (document_id, version_number, status, updated_at)
    select b.id, b.current_version, 'pending', now() from batch b
    on conflict (document_id) do update set
      version_number = excluded.version_number, status = 'pending', text = null,
      search_vector = ''::tsvector, error = null, queued_at = null, updated_at = now()
    where not (document_contents.version_number = excluded.version_number
               and document_contents.status in ('indexed', 'unsupported', 'pending'))
    returning 1
  )
  select (select id from batch order by id desc limit 1) as last,
         (select count(*) from batch)::int as scanned, (select count(*) from marked)::int as marked`;

type Query = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

async function connect(url: string): Promise<{ query: Query; close: () => Promise<void> }> {
  const endpoint = process.env.NEON_HTTP_ENDPOINT;
  if (endpoint || new URL(url).hostname.endsWith(".neon.tech")) {
    if (endpoint) neonConfig.fetchEndpoint = () => endpoint;
    const sql = neon(url);
    return {
      query: (text, params) => sql.query(text, params) as Promise<Record<string, unknown>[]>,
      close: async () => {},
    };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { query: async (text, params) => (await client.query(text, params)).rows, close: () => client.end() };
}

async function main() {
  const url = process.argv[2] ?? process.env.DATABASE_URL;
  if (!url) {
    console.error("usage: npm run content:reindex -- <DATABASE_URL>   (or set DATABASE_URL)");
    process.exit(2);
  }
  const db = await connect(url);
  try {
    const [{ total }] = (await db.query(
      "select count(*)::int as total from documents where deleted_at is null",
      [],
    )) as [{ total: number }];
    let after = "00000000-0000-0000-0000-000000000000";
    let scanned = 0;
    let marked = 0;
    for (;;) {
      const [row] = (await db.query(MARK, [after, BATCH])) as [
        { last: string | null; scanned: number; marked: number },
      ];
      if (!row.last) break;
      after = row.last;
      scanned += row.scanned;
      marked += row.marked;
      console.log(`scanned ${scanned} of ~${total} documents, ${marked} queued for extraction`);
    }
    const [{ pending }] = (await db.query(
      "select count(*)::int as pending from document_contents where status = 'pending'",
      [],
    )) as [{ pending: number }];
    console.log(
      `done: ${marked} documents marked pending (${pending} pending in all). The Worker's scheduled job sends them ` +
        "to the content queue (up to 1,000 per run, then one more per message handled); content_status turns to " +
        "indexed, unsupported or failed as they finish.",
    );
  } finally {
    await db.close();
  }
}

await main();
