// Applies the committed migrations (migrations/, written by `drizzle-kit generate`) to a local
// backend, each migration as one transaction. The journal table is drizzle-kit's own
// (drizzle.__drizzle_migrations), so local databases and Neon (migrated by `drizzle-kit migrate`
// in the release job) record the same history.
import { fileURLToPath } from "node:url";
import { readMigrationFiles } from "drizzle-orm/migrator";
import type { SqlBackend } from "./sql-backend.ts";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../migrations", import.meta.url));

export async function migrate(backend: SqlBackend, log: (line: string) => void = () => {}): Promise<number> {
  const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  await backend.query({ query: "CREATE SCHEMA IF NOT EXISTS drizzle", params: [] });
  await backend.query({
    query:
      "CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)",
    params: [],
  });
  const last = await backend.query({
    query: "select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1",
    params: [],
  });
  const lastMillis = last.rows[0]?.[0] ? Number(last.rows[0][0]) : -1;
  let applied = 0;
  for (const migration of migrations) {
    if (migration.folderMillis <= lastMillis) continue;
    const statements = migration.sql.map((s) => s.trim()).filter(Boolean);
    await backend.batch(
      [
        ...statements.map((query) => ({ query, params: [] })),
        {
          query: "insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)",
          params: [migration.hash, String(migration.folderMillis)],
        },
      ],
      {},
    );
    applied++;
    log(`applied migration ${migration.folderMillis} (${statements.length} statements)`);
  }
  return applied;
}

/** Tables the application owns, for resetting state between test files. */
export async function truncateAll(backend: SqlBackend): Promise<void> {
  const tables = await backend.query({
    query: "select quote_ident(tablename) from pg_tables where schemaname = 'public'",
    params: [],
  });
  const names = tables.rows.map((r) => r[0]).join(", ");
  if (names) await backend.query({ query: `TRUNCATE ${names} RESTART IDENTITY CASCADE`, params: [] });
}
