// A database of its own on a real PostgreSQL server (DEV_POSTGRES_URL), for a test run or a test
// file, dropped afterwards even with connections still open. Node only (global setup, test/node).
import pg from "pg";

export type ScratchDatabase = { url: string; drop(): Promise<void> };

/** Creates `<prefix>_<pid>_<time>` on the server at `serverUrl`; `url` connects to it. */
export async function createScratchDatabase(serverUrl: string, prefix = "docvault_test"): Promise<ScratchDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
