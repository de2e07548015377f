// Neon's HTTP query function resolved its connection string again for every query: two URL parses
// and a promise per connection parameter, about a fifth of a get document's CPU in the Worker
// (bench: 0.57-0.74 ms of workerd CPU per request before, 0.47-0.53 after, same machine).
// patches/@neondatabase+serverless+1.2.0.patch (applied by `npm ci`'s postinstall) resolves a
// string connection string once and reuses the answer. This fails if the patch stops applying (a
// driver upgrade) or is dropped, and checks that the cache never answers one connection string
// with another's resolution.
import { neon, neonConfig } from "@neondatabase/serverless";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const NativeURL = globalThis.URL;
// The driver's own settings, put back after each test (fetchEndpoint's default derives Neon's URL).
const { fetchEndpoint, fetchFunction } = neonConfig;
let parses = 0;
const sent: { endpoint: string; connection: string | null }[] = [];

beforeEach(() => {
  parses = 0;
  sent.length = 0;
  globalThis.URL = new Proxy(NativeURL, {
    construct(target, args) {
      parses += 1;
      return Reflect.construct(target, args);
    },
  });
  neonConfig.fetchEndpoint = (host) => `http://${host}/sql`;
  neonConfig.fetchFunction = async (endpoint: string, init: RequestInit) => {
    sent.push({ endpoint, connection: new Headers(init.headers).get("Neon-Connection-String") });
    return Response.json({ fields: [{ name: "n", dataTypeID: 23 }], rows: [["1"]], command: "SELECT", rowCount: 1 });
  };
});

afterEach(() => {
  globalThis.URL = NativeURL;
  neonConfig.fetchFunction = fetchFunction;
  neonConfig.fetchEndpoint = fetchEndpoint;
});

describe("Neon's HTTP driver, patched", () => {
  it("parses a connection string once, not on every query", async () => {
    const sql = neon("postgresql://app:secret@db-one.example/docvault");
    await sql.query("select 1 as n");
    const afterFirst = parses;
    for (let i = 0; i < 5; i++) expect(await sql.query("select 1 as n")).toEqual([{ n: 1 }]);
    expect(afterFirst).toBeGreaterThan(0);
    expect(parses).toBe(afterFirst);
    expect(sent).toHaveLength(6);
  });

  it("sends each client's queries with its own connection string and to its own host", async () => {
    const one = neon("postgresql://app:secret@db-one.example/docvault");
    const two = neon("postgresql://other:pw@db-two.example/elsewhere");
    await Promise.all([one.query("select 1 as n"), two.query("select 1 as n"), one.query("select 1 as n")]);
    await two.query("select 1 as n");
    const byHost = (host: string) => sent.filter((request) => request.endpoint === `http://${host}/sql`);
    expect(byHost("db-one.example")).toHaveLength(2);
    expect(byHost("db-two.example")).toHaveLength(2);
    for (const request of byHost("db-one.example"))
      expect(request.connection).toMatch(/^postgresql:\/\/app:secret@db-one\.example\/docvault\?/);
    for (const request of byHost("db-two.example"))
      expect(request.connection).toMatch(/^postgresql:\/\/other:pw@db-two\.example\/elsewhere\?/);
  });

  it("still resolves per query when a connection parameter is given per query", async () => {
    const sql = neon("postgresql://app:secret@db-one.example/docvault");
    await sql.query("select 1 as n", [], { user: "someone" } as never);
    await sql.query("select 1 as n");
    expect(sent.map((request) => request.connection)).toEqual([
      expect.stringMatching(/^postgresql:\/\/someone:secret@db-one\.example\/docvault\?/),
      expect.stringMatching(/^postgresql:\/\/app:secret@db-one\.example\/docvault\?/),
    ]);
  });
});
