// Each test file starts from an empty database (schema kept) and an empty bucket.
import { beforeAll } from "vitest";
import { testSql, testStorage } from "./stack";

beforeAll(async () => {
  const sql = testSql();
  const tables = await sql`select quote_ident(tablename) as name from pg_tables where schemaname = 'public'`;
  if (tables.length > 0) {
    await sql.query(`TRUNCATE ${tables.map((t) => t.name).join(", ")} CASCADE`);
  }
  const storage = testStorage();
  for (const key of await storage.listKeys()) await storage.delete(key);
});
