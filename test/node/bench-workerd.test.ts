// The benchmark's workerd harness (bench/workerd.ts, bench/harness.ts). `npm run bench` is not
// part of CI (minutes of load on a seeded database), so its moving parts are checked here: the
// generated config delivers bindings, subrequests reach loopback servers directly (no Miniflare
// interceptor adding CF-Worker), the service bundle starts with wrangler.toml's compatibility
// settings, and disposing stops the process; and the database ceiling's pieces: statements
// captured by the local Neon endpoint, replayed straight on PostgreSQL, and the cleanup that keeps
// the seeded database as seeded.
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { neon } from "@neondatabase/serverless";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BENCH_TITLE, pickCallers, undoBenchWrites } from "../../bench/callers.ts";
import { type CpuSplit, cpuMark, cpuSplit, cpuTotal } from "../../bench/cpu.ts";
import { databaseCeiling } from "../../bench/db-ceiling.ts";
import { bundleWorker, startWorker, wranglerCompatibility } from "../../bench/harness.ts";
import { HEAVY_USERS } from "../../bench/seed.ts";
import { type RunningWorker, startWorkerd, workerdConfig } from "../../bench/workerd.ts";
import { migrate } from "../../devstack/migrate.ts";
import { type NeonHttpServer, startNeonHttpServer } from "../../devstack/neon-http-server.ts";
import { PgliteBackend, PostgresBackend, type SqlBackend } from "../../devstack/sql-backend.ts";
import { useEndpointFor } from "../../src/db/neon-endpoint.ts";
import { createScratchDatabase, type ScratchDatabase } from "../support/scratch-database.ts";

// Connection strings the Neon driver is pointed at the local endpoints by (their hosts select it).
const CAPTURE_DATABASE_URL = "postgresql://u:p@capture.bench.invalid:5432/x";
const REPLAY_DATABASE_URL = "postgresql://u:p@replay.bench.invalid:5432/x";

let dir: string;
let upstream: Server;
let upstreamUrl: string;
const seenHeaders: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "docvault-bench-workerd-"));
  upstream = createServer((req, res) => {
    seenHeaders.push(req.headers);
    res.end("from upstream");
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise((resolve) => upstream.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const probeWorker = `export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/env") return Response.json({ greeting: env.GREETING, tricky: env.TRICKY });
    if (path === "/limit") return Response.json(env.RATE_LIMIT_TEST ? await env.RATE_LIMIT_TEST.limit({ key: "k" }) : null);
    const res = await fetch(env.UPSTREAM);
    return new Response(await res.text());
  },
};`;

describe("bench workerd harness", () => {
  let worker: RunningWorker;

  beforeAll(async () => {
    const script = join(dir, "probe.js");
    await writeFile(script, probeWorker);
    worker = await startWorkerd(
      script,
      {
        GREETING: "hello",
        TRICKY: 'quotes " and back\\slashes',
        UPSTREAM: upstreamUrl,
      },
      { rateLimits: ["RATE_LIMIT_TEST"] },
    );
  });

  afterAll(async () => {
    await worker.dispose();
  });

  it("passes text bindings through the generated config unchanged", async () => {
    const res = await fetch(`${worker.url}/env`);
    expect(await res.json()).toEqual({ greeting: "hello", tricky: 'quotes " and back\\slashes' });
  });

  it("sends subrequests straight to loopback servers, with no interceptor headers", async () => {
    const res = await fetch(`${worker.url}/upstream`);
    expect(await res.text()).toBe("from upstream");
    const headers = seenHeaders.at(-1) ?? {};
    expect(headers["cf-worker"]).toBeUndefined();
  });

  it("reports workerd's CPU time, which grows with the work it does", async () => {
    const before = worker.cpuMs();
    expect(before).toEqual(expect.any(Number));
    // /proc counts in clock ticks (10 ms here): send requests until at least one tick passes.
    const deadline = Date.now() + 10_000;
    while (worker.cpuMs() === before && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 50 }, async () => (await fetch(`${worker.url}/env`)).arrayBuffer()));
    }
    expect(worker.cpuMs()).toBeGreaterThan(before as number);
  });

  it("serves Rate Limiting bindings from a stub in the Worker's own isolate, allowing every request", async () => {
    const res = await fetch(`${worker.url}/limit`);
    expect(await res.json()).toEqual({ success: true });
    // A wrapped binding (an extension module), not a second Worker reached over RPC.
    const config = workerdConfig({
      script: "w.js",
      bindings: {},
      compatibilityDate: "2026-11-01",
      compatibilityFlags: [],
      rateLimits: ["RATE_LIMIT_TEST"],
    });
    expect(config).toContain('wrapped = (moduleName = "docvault-bench:ratelimit")');
    expect(config).not.toMatch(/service = "ratelimit"/);
  });

  // PostgreSQL's processes are on this machine in the PostgreSQL pass (DEV_POSTGRES_URL).
  it.skipIf(!process.env.DEV_POSTGRES_URL)(
    "splits CPU per request by part: this process and PostgreSQL's processes are read, and grow with work, also a backend's that exited",
    async () => {
      // A backend alive at the first reading, working, then gone before the second: its CPU must
      // still count (the postmaster's reaped children), not drop out of the sum.
      const client = new pg.Client({ connectionString: process.env.DEV_POSTGRES_URL });
      await client.connect();
      const backend = (await client.query("select pg_backend_pid() as pid")).rows[0]?.pid as number;
      const before = cpuMark(() => worker.cpuMs());
      expect(before.postgres).toEqual(expect.any(Number));
      // Enough work in PostgreSQL and here for several clock ticks of each.
      await client.query("select count(*) from generate_series(1, 3000000)");
      let spin = 0;
      for (let i = 0; i < 3e7; i++) spin += i;
      await client.end();
      for (let waited = 0; existsSync(`/proc/${backend}`) && waited < 5000; waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(existsSync(`/proc/${backend}`)).toBe(false);
      const split = cpuSplit(
        before,
        cpuMark(() => worker.cpuMs()),
        10,
      );
      expect(spin).toBeGreaterThan(0);
      // generate_series of 3,000,000 rows: well over 50 ms of the backend's CPU.
      expect(split?.postgres).toBeGreaterThan(50 / 10);
      expect(split?.node).toBeGreaterThan(0);
      expect(cpuTotal(split as CpuSplit)).toBeCloseTo(
        (split?.workerd ?? 0) + (split?.node ?? 0) + (split?.postgres ?? 0),
      );
      expect(cpuSplit(before, before, 0)).toBeNull();
    },
  );

  it("refuses binding values it cannot write as capnp text", () => {
    expect(() =>
      workerdConfig({
        script: "x.js",
        bindings: { A: "snow ☃" },
        compatibilityDate: "2026-11-01",
        compatibilityFlags: [],
      }),
    ).toThrow(/printable ASCII/);
  });

  it("stops workerd on dispose", async () => {
    const script = join(dir, "short-lived.js");
    await writeFile(script, probeWorker);
    const shortLived = await startWorkerd(script, { UPSTREAM: upstreamUrl });
    await shortLived.dispose();
    expect(() => process.kill(shortLived.pid, 0)).toThrow();
  });
});

describe("bench harness with the service bundle", () => {
  it("reads wrangler.toml's compatibility settings", () => {
    expect(wranglerCompatibility()).toEqual({
      compatibilityDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      compatibilityFlags: expect.arrayContaining(["nodejs_compat"]),
    });
  });

  it("bundles the service and serves /health/live from workerd", async () => {
    const script = await bundleWorker("src/index.ts", dir);
    const service = await startWorker(script, {
      DATABASE_URL: "postgresql://u:p@db.invalid:5432/x",
      S3_ENDPOINT: "http://127.0.0.1:9",
      S3_BUCKET: "documents",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "secret",
      // Test-only (openssl rand -base64 32): the Worker refuses typed-in secrets.
      JWT_SECRET: "b24eTTFil0lmUVztN1afPumdRgUgzBR+UprAOQggz1s=",
      PASSWORD_PEPPER: "aTjMob1aMT5rmiWIgvr4Wzr6PbRy2CosPRL+x/d4KP5=",
      WEBHOOK_SECRET_KEY: "Hx7Kq2Lm9Np4Rs1Tv6Wy3Za8Bc5De0Fg2Hj7Km4Np9Q=",
      LOG_LEVEL: "error",
    });
    try {
      const res = await fetch(`${service.url}/health/live`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok" });
    } finally {
      await service.dispose();
    }
  });
});

// The database ceiling (bench/db-ceiling.ts): the local Neon endpoint records the statements a
// request sent, exactly as the driver sent them, and the bench replays them straight on
// PostgreSQL. Recording works on any engine; replaying needs a real server (DEV_POSTGRES_URL).
describe("bench statement capture (local Neon endpoint)", () => {
  let backend: PgliteBackend;
  let server: NeonHttpServer;

  beforeAll(async () => {
    backend = await PgliteBackend.open();
    server = await startNeonHttpServer(backend);
    useEndpointFor(CAPTURE_DATABASE_URL, server.url);
  });

  afterAll(async () => {
    await server.close();
    await backend.close();
  });

  it("records each round trip's statements and parameters as the driver sent them, only while capturing", async () => {
    const sql = neon(CAPTURE_DATABASE_URL);
    await sql.query("select 'before' as t");
    const stop = server.capture();
    const also = server.capture();
    const at = new Date("2026-01-02T03:04:05.000Z");
    await sql.query("select $1::text[] as tags, $2::timestamptz as at, $3::int as n", [["a", "b c"], at, 7]);
    await sql.transaction([sql`select ${"x"}::text as one`, sql`select ${2}::int as two`], {
      isolationLevel: "RepeatableRead",
      readOnly: true,
    });
    const captured = stop();
    await sql.query("select 'after' as t");
    expect(captured).toHaveLength(2);
    const [single, batch] = captured;
    expect(single).toEqual({
      queries: [{ query: "select $1::text[] as tags, $2::timestamptz as at, $3::int as n", params: expect.any(Array) }],
    });
    // The driver's own serialisation (array literal, ISO-like timestamp): what a replay must send.
    const [tags, when, n] = single?.queries[0]?.params ?? [];
    expect(String(tags)).toMatch(/^\{.*"b c".*\}$/);
    expect(new Date(String(when)).toISOString()).toBe(at.toISOString());
    expect(String(n)).toBe("7");
    expect(batch?.queries.map((q) => q.params)).toEqual([["x"], ["2"]]);
    expect(batch?.batch).toMatchObject({ isolationLevel: "RepeatableRead", readOnly: true });
    // A second capture open at the same time saw the same round trips, and the one after them.
    expect(also()).toHaveLength(3);
  });

  it("counts the round trips still being answered, which the bench waits out before its probes", async () => {
    // An engine that answers when the test says so (PGlite would block the thread for a pg_sleep).
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const held: SqlBackend = {
      name: "held",
      query: async (q) => {
        await gate;
        if (q.query === "fail") throw Object.assign(new Error("boom"), { code: "22012" });
        return { command: "SELECT", rowCount: 0, fields: [], rows: [] };
      },
      batch: async () => [],
      close: async () => {},
    };
    const slow = await startNeonHttpServer(held);
    try {
      const post = (query: string) =>
        fetch(slow.url, { method: "POST", body: JSON.stringify({ query, params: [] }) }).then((r) => r.status);
      expect(slow.inFlight()).toBe(0);
      const answers = [post("select 1"), post("fail")];
      for (let i = 0; i < 50 && slow.inFlight() < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(slow.inFlight()).toBe(2);
      expect(slow.roundTrips()).toBe(2);
      open();
      expect(await Promise.all(answers)).toEqual([200, 400]);
      expect(slow.inFlight()).toBe(0);
    } finally {
      await slow.close();
    }
  });
});

const serverUrl = process.env.DEV_POSTGRES_URL;

describe.skipIf(!serverUrl)("bench database ceiling and cleanup (real PostgreSQL)", () => {
  let scratch: ScratchDatabase | undefined;
  let dbUrl: string;
  let client: pg.Client;
  let backend: PostgresBackend;
  let server: NeonHttpServer;

  beforeAll(async () => {
    scratch = await createScratchDatabase(serverUrl as string, "docvault_bench_test");
    dbUrl = scratch.url;
    client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    backend = new PostgresBackend(dbUrl, 2);
    server = await startNeonHttpServer(backend);
    useEndpointFor(REPLAY_DATABASE_URL, server.url);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await backend?.close();
    await client?.end();
    await scratch?.drop();
  });

  it("replays the captured statements with their parameters, rotating, each request's round trips in order", async () => {
    await client.query("create table hits (k text primary key, n int not null default 0, at timestamptz)");
    await client.query("insert into hits (k) values ('x'), ('y'), ('b')");
    const sql = neon(REPLAY_DATABASE_URL);
    const stop = server.capture();
    await sql.query("update hits set n = n + 1, at = $2 where k = any($1::text[])", [
      ["x", "y"],
      new Date("2026-01-02T03:04:05Z"),
    ]);
    const first = stop();
    const stopSecond = server.capture();
    await sql.transaction([
      sql`update hits set n = n + 1 where k = ${"b"}`,
      sql`update hits set n = n + 1 where k = ${"b"}`,
    ]);
    const second = stopSecond();
    await client.query("update hits set n = 0, at = null");

    const result = await databaseCeiling(dbUrl, [first, second], { connections: 3, seconds: 1, warmupSeconds: 0.2 });
    const rows = Object.fromEntries(
      (await client.query<{ k: string; n: number; at: Date | null }>("select k, n, at from hits")).rows.map((r) => [
        r.k,
        r,
      ]),
    );
    expect(result.requests).toBeGreaterThan(10);
    expect(result.rps).toBe(result.requests);
    expect(result.parameterSets).toBe(2);
    expect(result.p99).toBeGreaterThanOrEqual(result.p50);
    // Every measured request really ran (warm-up and the requests still running at the end ran too).
    const firsts = rows.x?.n as number;
    const seconds = (rows.b?.n as number) / 2;
    expect(firsts + seconds).toBeGreaterThanOrEqual(result.requests);
    expect(rows.y?.n).toBe(firsts);
    expect(rows.x?.at?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
    // Both captured requests in turn; the batch's two statements each time.
    expect(Math.abs(firsts - seconds)).toBeLessThanOrEqual(1);
    expect((rows.b?.n as number) % 2).toBe(0);
  });

  it("fails rather than counting a statement that fails, and refuses to measure nothing", async () => {
    const failing = [{ queries: [{ query: "select 1 / $1::int", params: ["0"] }] }];
    await expect(databaseCeiling(dbUrl, [failing], { connections: 2, seconds: 0.2, warmupSeconds: 0 })).rejects.toThrow(
      /division by zero/,
    );
    await expect(databaseCeiling(dbUrl, [[]], { connections: 2, seconds: 0.2, warmupSeconds: 0 })).rejects.toThrow(
      /no statements/,
    );
  });

  it("removes what bench runs wrote for the given owners and nothing else, and picks the callers", async () => {
    await migrate(backend);
    // Ids chosen so that the heavy users (the first HEAVY_USERS by id) are user3…user6, every user
    // from the middle one on: the typical caller must wrap round to user1 (random ids made this
    // case, and the failure it caught, one run in fifteen).
    const users = (
      await client.query<{ id: string; email: string }>(
        `insert into users (id, email, password_hash)
         select ('00000000-0000-4000-8000-' || lpad(((g + 3) % 6 + 1)::text, 12, '0'))::uuid,
                'user' || g || '@bench.example', 'x'
         from generate_series(1, 6) g
         returning id, email`,
      )
    ).rows;
    const picked = await pickCallers(client, { users: 6, documents: 600 });
    const byId = [...users].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(picked.heavy.email).toBe(byId[0]?.email);
    const heavyEmails = byId.slice(0, HEAVY_USERS).map((u) => u.email);
    expect(heavyEmails).toEqual([
      "user3@bench.example",
      "user4@bench.example",
      "user5@bench.example",
      "user6@bench.example",
    ]);
    expect(picked.typical.email).toBe("user1@bench.example");
    expect(heavyEmails).not.toContain(picked.typical.email);
    const typical = picked.typical.userId;
    const other = users.find((u) => u.id !== typical && u.id !== picked.heavy.userId)?.id as string;

    const doc = async (owner: string, title: string, sizes: number[], trashed = false) => {
      const id = (
        await client.query<{ id: string }>(
          `insert into documents (owner_id, title, current_version, deleted_at) values ($1, $2, $3, $4) returning id`,
          [owner, title, sizes.length, trashed ? new Date() : null],
        )
      ).rows[0]?.id as string;
      for (const [i, size] of sizes.entries()) {
        await client.query(
          `insert into document_versions (document_id, version_number, storage_key, file_name, content_type, size_bytes, sha256, created_by)
           values ($1, $2, gen_random_uuid()::text, 'f.pdf', 'application/pdf', $3, repeat('a', 64), $4)`,
          [id, i + 1, size, owner],
        );
      }
      await client.query("insert into document_tags (document_id, tag) values ($1, 'budget')", [id]);
      await client.query(
        "insert into activity_logs (document_id, actor_id, action) values ($1, $2, 'document.created')",
        [id, owner],
      );
      await client.query(
        "insert into document_contents (document_id, version_number, status) values ($1, $2, 'pending')",
        [id, sizes.length],
      );
      return id;
    };
    const seeded = await doc(typical, "Budget report 1", [1000]);
    await doc(typical, `${BENCH_TITLE} upload`, [100, 200]);
    await doc(typical, `${BENCH_TITLE} trashed 1`, [50], true);
    const othersBenchTitled = await doc(other, `${BENCH_TITLE} upload`, [7]);
    await client.query("update users set storage_used_bytes = $2 where id = $1", [typical, 1350]);
    await client.query(
      `insert into refresh_tokens (user_id, chain_id, token_hash, expires_at)
       select u, gen_random_uuid(), sha256(u::text::bytea), now() + interval '1 day' from unnest($1::uuid[]) u`,
      [[typical, picked.heavy.userId, other]],
    );

    const undone = await undoBenchWrites(client, [typical], [typical, picked.heavy.userId]);
    expect(undone).toEqual({ documents: 2, versions: 3, activity: 2, refreshTokens: 2 });
    const left = await client.query<{ id: string }>("select id from documents order by title");
    expect(left.rows.map((r) => r.id).sort()).toEqual([seeded, othersBenchTitled].sort());
    const count = async (table: string) =>
      (await client.query<{ n: number }>(`select count(*)::int as n from ${table}`)).rows[0]?.n;
    expect(await count("document_versions")).toBe(2);
    expect(await count("document_tags")).toBe(2);
    expect(await count("activity_logs")).toBe(2);
    // Each remaining change keeps its audience (its owner); the removed ones' audiences are gone.
    expect(await count("change_audience")).toBe(2);
    expect(await count("document_contents")).toBe(2);
    const tokens = await client.query<{ user_id: string }>("select user_id from refresh_tokens");
    expect(tokens.rows.map((r) => r.user_id)).toEqual([other]);
    const storage = await client.query<{ n: string }>("select storage_used_bytes as n from users where id = $1", [
      typical,
    ]);
    expect(Number(storage.rows[0]?.n)).toBe(1000);
    // Nothing left to undo: a second pass changes nothing.
    expect(await undoBenchWrites(client, [typical], [typical])).toEqual({
      documents: 0,
      versions: 0,
      activity: 0,
      refreshTokens: 0,
    });
  });
});
