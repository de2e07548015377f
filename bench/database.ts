// The benchmark database: a dedicated database on the PostgreSQL server named by
// DEV_POSTGRES_URL (default: this machine's server), migrated with the project's migrations and
// seeded once; later runs reuse it while its size matches.
import pg from "pg";
import { migrate } from "../devstack/migrate.ts";
import { PostgresBackend } from "../devstack/sql-backend.ts";
import { type SeedSize, seed, seedActivity, seedContent } from "./seed.ts";

export const SERVER_URL = process.env.DEV_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/test";
// BENCH_DATABASE: another name, so that branches with different migrations do not share one.
const DATABASE = process.env.BENCH_DATABASE || "docvault_bench";
if (!/^[a-z_][a-z0-9_]*$/.test(DATABASE)) throw new Error("BENCH_DATABASE must be a plain lower-case identifier");

export function benchDatabaseUrl(): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${DATABASE}`;
  return url.toString();
}

export async function prepareBenchDatabase(size: SeedSize, log: (line: string) => void = console.log): Promise<string> {
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  const exists = await admin.query("select 1 from pg_database where datname = $1", [DATABASE]);
  if (exists.rowCount === 0) await admin.query(`create database ${DATABASE}`);
  await admin.end();

  const url = benchDatabaseUrl();
  const backend = new PostgresBackend(url, 2);
  await migrate(backend, log);
  await backend.close();

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const counts = await client.query(
      "select (select count(*) from users where email like '%@bench.example')::int as users, (select count(*) from documents)::int as documents",
    );
    const have = counts.rows[0] as SeedSize;
    if (have.users === size.users && have.documents === size.documents) {
      // A data set seeded before content search: its documents get their text now.
      const contents = await client.query("select count(*)::int as n from document_contents");
      if (contents.rows[0]?.n === 0) await seedContent(client, log);
      // A database seeded before the seed wrote activity gets it now.
      const activity = await client.query("select exists (select 1 from activity_logs) as some");
      if (!activity.rows[0]?.some) {
        await seedActivity(client, log);
        await client.query("vacuum analyze activity_logs");
      }
      log(`bench database ready: ${have.users} users, ${have.documents} documents (reused)`);
      return url;
    }
    log("bench database: resetting");
    const tables = await client.query("select quote_ident(tablename) as t from pg_tables where schemaname = 'public'");
    await client.query(`truncate ${tables.rows.map((r) => r.t).join(", ")} cascade`);
    await seed(client, size, log);
  } finally {
    await client.end();
  }
  return url;
}
