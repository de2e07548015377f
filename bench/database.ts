// The benchmark database: a dedicated database on the PostgreSQL server named by
// DEV_POSTGRES_URL (default: this machine's server), migrated with the project's migrations and
// seeded once; later runs reuse it while its size matches.
import pg from "pg";
import { migrate } from "../devstack/migrate.ts";
import { PostgresBackend } from "../devstack/sql-backend.ts";
import { type SeedSize, seed } from "./seed.ts";

export const SERVER_URL = process.env.DEV_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/test";
// BENCH_DATABASE: another prefix, so that branches with different migrations do not share one.
// Each data-set size has its own database (docvault_bench_1000000, …), seeded once and reused.
const PREFIX = process.env.BENCH_DATABASE || "docvault_bench";
if (!/^[a-z_][a-z0-9_]*$/.test(PREFIX)) throw new Error("BENCH_DATABASE must be a plain lower-case identifier");
/** What the seed writes; a database seeded by an older seed is seeded again. */
const SEED_VERSION = "docvault bench seed 3 (heavy users, content, change audiences)";

/** The data set's size: DOCS documents (default 1,000,000) and USERS users (default DOCS / 100). */
export function benchSize(documents = Number(process.env.DOCS ?? 1_000_000)): SeedSize {
  return { users: Number(process.env.USERS ?? Math.max(10, Math.round(documents / 100))), documents };
}

export const benchDatabaseName = (size: SeedSize) => `${PREFIX}_${size.documents}`;

export function benchDatabaseUrl(size: SeedSize): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${benchDatabaseName(size)}`;
  return url.toString();
}

export async function prepareBenchDatabase(size: SeedSize, log: (line: string) => void = console.log): Promise<string> {
  const name = benchDatabaseName(size);
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  const exists = await admin.query("select 1 from pg_database where datname = $1", [name]);
  if (exists.rowCount === 0) await admin.query(`create database ${name}`);
  await admin.end();

  const url = benchDatabaseUrl(size);
  const backend = new PostgresBackend(url, 2);
  const applied = await migrate(backend, log);
  await backend.close();

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // The seed's marker names what it wrote; counting rows instead would reseed after every run,
    // since the upload scenarios add documents.
    const marker = `${SEED_VERSION}: ${size.users} users, ${size.documents} documents`;
    const seeded = await client.query(
      "select shobj_description((select oid from pg_database where datname = current_database()), 'pg_database') as seed",
    );
    if (seeded.rows[0]?.seed === marker) {
      // A migration may have rewritten rows (a backfill): measure the vacuumed state a live
      // database is in, not its dead tuples and cleared visibility map.
      if (applied > 0) {
        log(`bench database ${name}: vacuum analyze after ${applied} migration(s)`);
        await client.query("vacuum analyze");
      }
      log(`bench database ${name} ready: ${size.users} users, ${size.documents} documents (reused)`);
      return url;
    }
    log(`bench database ${name}: seeding (once; later runs reuse it)`);
    const tables = await client.query("select quote_ident(tablename) as t from pg_tables where schemaname = 'public'");
    await client.query(`truncate ${tables.rows.map((r) => r.t).join(", ")} cascade`);
    await seed(client, size, log, async () => {
      const extra = new pg.Client({ connectionString: url });
      await extra.connect();
      return extra;
    });
    await client.query(`comment on database ${name} is '${marker}'`);
  } finally {
    await client.end();
  }
  return url;
}
