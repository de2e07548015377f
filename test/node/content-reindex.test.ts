// `npm run content:reindex`: marks every live document without indexed content pending, in
// batches, with progress, through the same Neon HTTP protocol the Worker uses (here the local
// endpoint over PGlite, with the committed migrations).
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../devstack/migrate.ts";
import { type NeonHttpServer, startNeonHttpServer } from "../../devstack/neon-http-server.ts";
import { PgliteBackend } from "../../devstack/sql-backend.ts";
import { LOCAL_DATABASE_URL } from "../../devstack/stack.ts";

const ROOT = resolve(import.meta.dirname, "../..");
let server: NeonHttpServer;
let backend: PgliteBackend;

/** The command, run asynchronously: the database endpoint answers from this process. */
function reindex(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      "npm",
      ["run", "--silent", "content:reindex", "--", ...args],
      { cwd: ROOT, env: { ...process.env, ...env } },
      (error, stdout, stderr) => done({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const q = async (query: string, params: unknown[] = []) => (await backend.query({ query, params })).rows;

beforeAll(async () => {
  backend = await PgliteBackend.open();
  await migrate(backend);
  server = await startNeonHttpServer(backend);
  const [[user]] = (await q("insert into users (email, password_hash) values ('r@example.com', 'x') returning id")) as [
    [string],
  ];
  // 2,500 documents (three batches): 2,497 without content, one indexed, one unsupported, one
  // indexed for an older version, and a trashed one.
  await q(
    `insert into documents (owner_id, title, current_version)
     select $1::uuid, 'doc ' || n, case when n = 3 then 2 else 1 end from generate_series(1, 2501) n`,
    [user],
  );
  await q("update documents set deleted_at = now() where title = 'doc 2501'");
  await q(`insert into document_contents (document_id, version_number, status, text)
    select id, 1, case title when 'doc 1' then 'indexed' when 'doc 2' then 'unsupported' else 'indexed' end, 't'
    from documents where title in ('doc 1', 'doc 2', 'doc 3')`);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await backend?.close();
});

describe("npm run content:reindex", () => {
  it("marks the documents without indexed content pending, with progress, and is idempotent", async () => {
    const run = () => reindex([LOCAL_DATABASE_URL], { NEON_HTTP_ENDPOINT: server.url, DATABASE_URL: "" });
    const first = await run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/scanned 1000 of ~2500 documents/);
    expect(first.stdout).toMatch(/scanned 2500 of ~2500 documents, 2498 queued/);
    expect(first.stdout).toMatch(/done: 2498 documents marked pending/);
    const second = await run();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/done: 0 documents marked pending \(2498 pending in all\)/);
  });

  it("leaves indexed and unsupported current versions alone; an older version's text is dropped", async () => {
    const rows = (await q(`select d.title, c.status, c.version_number, c.text from documents d
      join document_contents c on c.document_id = d.id where d.title in ('doc 1', 'doc 2', 'doc 3', 'doc 2501')
      order by d.title`)) as string[][];
    expect(rows).toEqual([
      ["doc 1", "indexed", "1", "t"],
      ["doc 2", "unsupported", "1", "t"],
      ["doc 3", "pending", "2", null],
    ]);
  });

  it("says how to call it without a database", async () => {
    const run = await reindex([], { DATABASE_URL: "" });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/usage: npm run content:reindex/);
  });
});
