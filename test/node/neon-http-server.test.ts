// The local Neon endpoint's own edges, spoken to in raw HTTP: what the driver never sends but a
// broken client might.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NeonHttpServer, startNeonHttpServer } from "../../devstack/neon-http-server.ts";
import { beginStatement, PgliteBackend } from "../../devstack/sql-backend.ts";

let server: NeonHttpServer;
let backend: PgliteBackend;

beforeAll(async () => {
  backend = await PgliteBackend.open();
  server = await startNeonHttpServer(backend);
});

afterAll(async () => {
  await server.close();
  await backend.close();
});

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(server.url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

describe("local Neon HTTP endpoint", () => {
  it("answers a query in Neon's array-mode text format", async () => {
    const res = await post(JSON.stringify({ query: "select $1::int + 1 as n, null as z", params: ["41"] }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      command: "SELECT",
      rowCount: 1,
      fields: [
        { name: "n", dataTypeID: 23 },
        { name: "z", dataTypeID: 25 },
      ],
      rows: [["42", null]],
    });
  });

  it("rejects bodies that are not a query with 400", async () => {
    for (const body of [
      "not json",
      "{}",
      JSON.stringify({ query: 1 }),
      JSON.stringify({ query: "select 1", params: {} }),
    ]) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { message: string }).message).toBeTruthy();
    }
  });

  it("rejects an unknown isolation level with 400 before running anything", async () => {
    const res = await post(JSON.stringify({ queries: [{ query: "select 1", params: [] }] }), {
      "neon-batch-isolation-level": "Whatever; drop table x",
    });
    expect(res.status).toBe(400);
  });

  it("answers only POST /sql", async () => {
    expect((await fetch(server.url)).status).toBe(404);
    expect((await fetch(server.url.replace("/sql", "/other"), { method: "POST", body: "{}" })).status).toBe(404);
  });

  it("counts round trips", async () => {
    const before = server.roundTrips();
    await post(JSON.stringify({ query: "select 1", params: [] }));
    await post(JSON.stringify({ queries: [{ query: "select 1" }, { query: "select 2" }] }));
    expect(server.roundTrips() - before).toBe(2);
  });
});

describe("beginStatement", () => {
  it("builds BEGIN from Neon's batch options", () => {
    expect(beginStatement({})).toBe("BEGIN");
    expect(beginStatement({ isolationLevel: "RepeatableRead", readOnly: true, deferrable: false })).toBe(
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY NOT DEFERRABLE",
    );
    expect(() => beginStatement({ isolationLevel: "Bogus" })).toThrow(/isolation level/);
  });
});
