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
/**
 * The title prefix of every document a bench run writes (bench/callers.ts removes them when the
 * run ends). The seed check leaves them out of its count: a run in progress, or one stopped before
 * its cleanup, must not make another process seed the database again.
 */
export const BENCH_TITLE = "bench run:";
/** What the seed writes; a database seeded by an older seed is seeded again. */
const SEED_VERSION = "docvault bench seed 2 (heavy users, content)";

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
    const counts = await client.query(
      `select (select count(*) from users where email like '%@bench.example')::int as users,
              (select count(*) from documents where title not like '${BENCH_TITLE}%')::int as documents,
              shobj_description((select oid from pg_database where datname = current_database()), 'pg_database') as seed`,
    );
    const have = counts.rows[0] as SeedSize & { seed: string | null };
    if (have.users === size.users && have.documents === size.documents && have.seed === SEED_VERSION) {
      // A migration may have rewritten rows (a backfill): measure the vacuumed state a live
      // database is in, not its dead tuples and cleared visibility map.
      if (applied > 0) {
        log(`bench database ${name}: vacuum analyze after ${applied} migration(s)`);
        await client.query("vacuum analyze");
      }
      log(`bench database ${name} ready: ${have.users} users, ${have.documents} documents (reused)`);
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
    await client.query(`comment on database ${name} is '${SEED_VERSION}'`);
  } finally {
    await client.end();
  }
  return url;
}
