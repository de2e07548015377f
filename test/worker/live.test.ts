// Live events and presence (src/live/): tickets (missing, reused, expired, forged, another
// user's), Changes pushed with the feed's cursor, visibility, hibernation, presence join/leave and
// revocation (4403), account closure (4401), garbage and floods, and no object call for a user
// with no socket open.
import {
  createExecutionContext,
  env,
  evictDurableObject,
  runInDurableObject,
  SELF,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, inject, it, vi } from "vitest";
import { createDatabase } from "../../src/db/client";
import worker from "../../src/index";
import { type LiveBindings, notifyLive } from "../../src/live/notify";
import { runScheduledMaintenance } from "../../src/maintenance";
import { AUTH, BASE, login, newUser, PASSWORD, postJson, register, uniqueEmail } from "../support/auth";
import { changes, latest } from "../support/changes";
import { DOCS, indexingFinished, createDocument as upload } from "../support/documents";
import { testConfig, testSql } from "../support/stack";

type User = Awaited<ReturnType<typeof newUser>>;
const sql = testSql();
const EVENTS = `${BASE}/api/v1/events`;
const live = env as unknown as LiveBindings & Env;

async function ticketFor(user: User): Promise<string> {
  const res = await SELF.fetch(`${EVENTS}/ticket`, { method: "POST", headers: user.auth });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { ticket: string; expires_at: string };
  const ttl = Date.parse(body.expires_at) - Date.now();
  expect(ttl).toBeGreaterThan(50_000);
  expect(ttl).toBeLessThanOrEqual(61_000);
  return body.ticket;
}

type Socket = {
  ws: WebSocket;
  messages: unknown[];
  closed: Promise<{ code: number; reason: string }>;
  closeInfo?: { code: number; reason: string };
};

async function connect(url: string): Promise<Socket> {
  const res = await SELF.fetch(url, { headers: { Upgrade: "websocket" } });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade answered ${res.status}: ${await res.text()}`);
  const ws = res.webSocket;
  const socket: Socket = { ws, messages: [], closed: Promise.resolve({ code: 0, reason: "" }) };
  socket.closed = new Promise((resolve) => {
    ws.addEventListener("close", (event) => {
      socket.closeInfo = { code: event.code, reason: event.reason };
      resolve(socket.closeInfo);
    });
  });
  ws.addEventListener("message", (event) => {
    // The runtime's "pong" is the only text that is not JSON.
    if (event.data !== "pong") socket.messages.push(JSON.parse(event.data as string));
  });
  ws.accept();
  return socket;
}

const openEvents = async (user: User) => connect(`${EVENTS}?ticket=${await ticketFor(user)}`);
const openPresence = async (user: User, docId: string) =>
  connect(`${DOCS}/${docId}/presence?ticket=${await ticketFor(user)}`);

async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

const retitle = (auth: Record<string, string>, id: string, title: string) =>
  SELF.fetch(`${DOCS}/${id}`, {
    method: "PUT",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ title }),
  });

async function grant(docId: string, by: User, who: User, role = "READ") {
  expect((await postJson(`${DOCS}/${docId}/permissions`, { user_id: who.id, role }, by.auth)).status).toBe(201);
}

/**
 * A document whose text the content queue has finished: its `content.indexed` change (pushed like
 * any other) is then never among the pushes a test counts.
 */
async function createDocument(auth: Record<string, string>) {
  const doc = await upload(auth);
  await indexingFinished(auth, doc.id);
  return doc;
}

type Pushed = { action: string; document_id: string; cursor: string; details: Record<string, unknown> };
type Presence = { type: string; users: { user_id: string; full_name: string | null; since: string }[] };

const upgrade = (url: string) => SELF.fetch(url, { headers: { Upgrade: "websocket" } });

describe("tickets", () => {
  it("refuses a missing, forged, reused, expired or closed account's ticket with 401 before upgrading", async () => {
    const alice = await newUser("live-ticket");
    await problem(await upgrade(EVENTS), 401, "ticket_missing");
    const missing = await upgrade(EVENTS);
    // The ticket is a bearer token (in the query): Bearer challenges of its own realm, as on every 401.
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="docvault live events"');
    const forged = await upgrade(`${EVENTS}?ticket=${"A".repeat(43)}`);
    expect(forged.headers.get("www-authenticate")).toMatch(
      /^Bearer realm="docvault live events", error="invalid_token", error_description="[^"]+"$/,
    );
    await problem(await upgrade(`${EVENTS}?ticket=${"A".repeat(43)}`), 401, "ticket_invalid");
    await problem(await upgrade(`${EVENTS}?ticket=not-a-ticket`), 401, "ticket_invalid");
    // An access token is not a ticket.
    await problem(await upgrade(`${EVENTS}?ticket=${alice.tokens.access_token}`), 401, "ticket_invalid");

    const ticket = await ticketFor(alice);
    const first = await connect(`${EVENTS}?ticket=${ticket}`);
    await problem(await upgrade(`${EVENTS}?ticket=${ticket}`), 401, "ticket_invalid");
    first.ws.close(1000);

    const stale = await ticketFor(alice);
    await sql`update event_tickets set expires_at = now() - interval '1 second'`;
    await problem(await upgrade(`${EVENTS}?ticket=${stale}`), 401, "ticket_expired");
    // Used up by the expired attempt too.
    expect((await sql`select count(*)::int as n from event_tickets`)[0]?.n).toBe(0);
  });

  it("sweeps tickets that expired unused in the hourly housekeeping, and keeps live ones", async () => {
    const alice = await newUser("live-sweep");
    await ticketFor(alice);
    await ticketFor(alice);
    await sql`update event_tickets set expires_at = now() - interval '2 minutes' where user_id = ${alice.id}`;
    const fresh = await ticketFor(alice);
    await runScheduledMaintenance(testConfig(), "17 * * * *");
    expect(await sql`select count(*)::int as n from event_tickets where user_id = ${alice.id}`).toEqual([{ n: 1 }]);
    const socket = await connect(`${EVENTS}?ticket=${fresh}`);
    socket.ws.close(1000);
  });

  it("uses a ticket once under concurrency, and not at all for a request without Upgrade (426)", async () => {
    const alice = await newUser("live-race");
    const ticket = await ticketFor(alice);
    const plain = await SELF.fetch(`${EVENTS}?ticket=${ticket}`);
    await problem(plain, 426, "websocket_upgrade_required");
    const answers = await Promise.all(Array.from({ length: 5 }, () => upgrade(`${EVENTS}?ticket=${ticket}`)));
    expect(answers.map((r) => r.status).sort()).toEqual([101, 401, 401, 401, 401]);
    for (const r of answers) {
      if (r.webSocket) {
        r.webSocket.accept();
        r.webSocket.close(1000);
      } else await r.body?.cancel();
    }
  });

  it("binds a ticket to its user: another user's ticket connects as that user, and needs a token to issue", async () => {
    const alice = await newUser("live-own");
    const bob = await newUser("live-other");
    const doc = await createDocument(alice.auth);
    // Bob's ticket cannot open presence on Alice's document: it is Bob's, and Bob cannot read it.
    await problem(
      await upgrade(`${DOCS}/${doc.id}/presence?ticket=${await ticketFor(bob)}`),
      404,
      "document_not_found",
    );
    await problem(await SELF.fetch(`${EVENTS}/ticket`, { method: "POST" }), 401, "token_missing");
    // Bob's events socket does not receive Alice's changes.
    const bobs = await openEvents(bob);
    const alices = await openEvents(alice);
    expect((await retitle(alice.auth, doc.id, "private")).status).toBe(200);
    await vi.waitFor(() => expect(alices.messages.length).toBe(1), { timeout: 2000 });
    expect(bobs.messages).toEqual([]);
    bobs.ws.close(1000);
    alices.ws.close(1000);
  });

  it("never logs the ticket (the access log writes the path without its query)", async () => {
    const alice = await newUser("live-log");
    const lines: string[] = [];
    const record = (line: unknown) => {
      lines.push(String(line));
    };
    const spy = vi.spyOn(console, "log").mockImplementation(record);
    const spyInfo = vi.spyOn(console, "info").mockImplementation(record);
    const ticket = await ticketFor(alice);
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${EVENTS}?ticket=${ticket}`) as Parameters<typeof worker.fetch>[0],
      { ...env, LOG_LEVEL: "info" } as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    spy.mockRestore();
    spyInfo.mockRestore();
    expect(res.status).toBe(426);
    expect(lines.join("\n")).toContain("/api/v1/events");
    expect(lines.join("\n")).not.toContain(ticket);
  });
});

describe("events", () => {
  it("pushes each Change within a second, equal to what /changes lists, cursor included", async () => {
    const alice = await newUser("live-push");
    const bob = await newUser("live-reader");
    const doc = await createDocument(alice.auth);
    await grant(doc.id, alice, bob);
    const from = await latest(bob.auth);
    const socket = await openEvents(bob);
    const started = Date.now();
    expect((await retitle(alice.auth, doc.id, "pushed")).status).toBe(200);
    await vi.waitFor(() => expect(socket.messages.length).toBe(1), { timeout: 1000, interval: 20 });
    expect(Date.now() - started).toBeLessThan(1000);
    const listed = await changes(bob.auth, { cursor: from });
    expect(socket.messages).toEqual(listed.items);
    expect((socket.messages[0] as Pushed).action).toBe("document.updated");
    expect(typeof (socket.messages[0] as Pushed).cursor).toBe("string");
    socket.ws.close(1000);
  });

  // PGlite runs one statement at a time: the open transaction below would hold the change itself up.
  it.skipIf(inject("databaseEngine") === "pglite")(
    "pushes a change held back by an older open transaction once that one ends, with no other change (PostgreSQL)",
    async () => {
      const alice = await newUser("live-held");
      const doc = await createDocument(alice.auth);
      const socket = await openEvents(alice);
      // A transaction with an id (taken before the sleep), open for 3 s: the change after it commits but waits behind it.
      const holding = sql`select pg_current_xact_id(), pg_sleep(3)`.then((rows) => rows);
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      expect((await retitle(alice.auth, doc.id, "held back")).status).toBe(200);
      await vi.waitFor(() => expect(socket.messages.length).toBe(1), { timeout: 10_000, interval: 50 });
      expect((socket.messages[0] as Pushed).action).toBe("document.updated");
      expect(Date.now() - started).toBeLessThan(6000);
      await holding;
      socket.ws.close(1000);
    },
    20_000,
  );

  // A change made just before its document went to the trash, both held back until after the
  // trash: pushed as the feed lists it (the reader could read the document when the change was
  // made). Deciding when pushing sent only the deletion, and a client reconnecting from that
  // cursor never got the edit.
  it.skipIf(inject("databaseEngine") === "pglite")(
    "pushes what the feed lists: an edit made just before a trash, sent after it (PostgreSQL)",
    async () => {
      const alice = await newUser("live-audience-a");
      const bob = await newUser("live-audience-b");
      const doc = await createDocument(alice.auth);
      await grant(doc.id, alice, bob);
      const from = await latest(bob.auth);
      const socket = await openEvents(bob);
      const holding = sql`select pg_current_xact_id(), pg_sleep(3)`.then((rows) => rows);
      await new Promise((r) => setTimeout(r, 300));
      expect((await retitle(alice.auth, doc.id, "just before the trash")).status).toBe(200);
      expect((await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: alice.auth })).status).toBe(204);
      await holding;
      await vi.waitFor(() => expect(socket.messages.length).toBe(2), { timeout: 10_000, interval: 50 });
      expect((socket.messages as Pushed[]).map((c) => c.action)).toEqual(["document.updated", "document.deleted"]);
      expect(socket.messages).toEqual((await changes(bob.auth, { cursor: from })).items);
      socket.ws.close(1000);
    },
    20_000,
  );

  it("never sends a change of a document the user cannot read, and sends the one ending their access", async () => {
    const alice = await newUser("live-vis-a");
    const bob = await newUser("live-vis-b");
    const shared = await createDocument(alice.auth);
    const secret = await createDocument(alice.auth);
    await grant(shared.id, alice, bob);
    const socket = await openEvents(bob);
    expect((await retitle(alice.auth, secret.id, "hidden")).status).toBe(200);
    expect(
      (await SELF.fetch(`${DOCS}/${shared.id}/permissions/${bob.id}`, { method: "DELETE", headers: alice.auth }))
        .status,
    ).toBe(204);
    expect((await retitle(alice.auth, shared.id, "after revocation")).status).toBe(200);
    expect((await retitle(alice.auth, secret.id, "still hidden")).status).toBe(200);
    await vi.waitFor(() => expect(socket.messages.length).toBeGreaterThanOrEqual(1), { timeout: 2000 });
    // Let any stray push arrive before looking.
    await new Promise((r) => setTimeout(r, 500));
    const pushed = socket.messages as Pushed[];
    expect(pushed.map((c) => c.action)).toEqual(["permission.revoked"]);
    expect(pushed[0]?.document_id).toBe(shared.id);
    expect(pushed.some((c) => c.document_id === secret.id)).toBe(false);
    socket.ws.close(1000);
  });

  it("keeps sockets through hibernation: after eviction a change still reaches the socket", async () => {
    const alice = await newUser("live-hib");
    const doc = await createDocument(alice.auth);
    const socket = await openEvents(alice);
    const stub = live.USER_EVENTS.getByName(alice.id);
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as { marker?: number }).marker = 1;
    });
    // Eviction waits for whatever the object is still doing: nothing is pending once a socket is
    // open (no timer, no query), so it is immediate.
    const evicting = Date.now();
    await evictDurableObject(stub);
    expect(Date.now() - evicting).toBeLessThan(2000);
    expect((await retitle(alice.auth, doc.id, "after eviction")).status).toBe(200);
    await vi.waitFor(() => expect(socket.messages.length).toBe(1), { timeout: 2000 });
    expect((socket.messages[0] as Pushed).details).toMatchObject({ title: { to: "after eviction" } });
    const after = await runInDurableObject(stub, (instance, state) => ({
      marker: (instance as unknown as { marker?: number }).marker,
      sockets: state.getWebSockets().length,
    }));
    // A new instance (the marker is gone) holding the same socket.
    expect(after).toEqual({ marker: undefined, sockets: 1 });
    socket.ws.close(1000);
  });

  it("calls no object for a change when no reader is connected (the registry says so)", async () => {
    const alice = await newUser("live-cost-a");
    const bob = await newUser("live-cost-b");
    const doc = await createDocument(alice.auth);
    await grant(doc.id, alice, bob);
    const quiet = { ...env, USER_EVENTS: undefined, DOCUMENT_PRESENCE: undefined } as unknown as Env;
    const db = createDatabase(testConfig());
    const change = async (title: string) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${DOCS}/${doc.id}`, {
          method: "PUT",
          headers: { ...alice.auth, "Content-Type": "application/json" },
          body: JSON.stringify({ title }),
        }) as Parameters<typeof worker.fetch>[0],
        quiet,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(200);
    };
    await notifyLive(db, live); // whatever earlier tests left
    await change("nobody listens");
    expect(await sql`select * from live_connections where user_id in (${alice.id}, ${bob.id})`).toEqual([]);
    expect(await notifyLive(db, live)).toBe(0);

    const socket = await openEvents(bob);
    expect(await sql`select kind, object_id from live_connections where user_id = ${bob.id}`).toEqual([
      { kind: "events", object_id: bob.id },
    ]);
    await change("bob listens");
    // One object called: Bob's; Alice (the owner, not connected) costs nothing.
    expect(await notifyLive(db, live)).toBe(1);
    await vi.waitFor(() => expect(socket.messages.length).toBe(1), { timeout: 1000 });
    socket.ws.close(1000);
    await vi.waitFor(async () =>
      expect(await sql`select * from live_connections where user_id = ${bob.id}`).toEqual([]),
    );
    await change("bob left");
    expect(await notifyLive(db, live)).toBe(0);
  });

  it("forgets a connection whose object lost its sockets without closing (a row left by a crash)", async () => {
    const alice = await newUser("live-stale");
    const doc = await createDocument(alice.auth);
    await sql`insert into live_connections (kind, object_id, user_id, connected_at) values ('events', ${alice.id}, ${alice.id}, now())`;
    expect((await retitle(alice.auth, doc.id, "to nobody")).status).toBe(200);
    await vi.waitFor(
      async () => expect(await sql`select * from live_connections where user_id = ${alice.id}`).toEqual([]),
      {
        timeout: 2000,
      },
    );
  });
});

describe("without the Durable Object bindings (the benchmark's workerd)", () => {
  it("answers the routes 500 service_misconfigured and still serves changes without notifying", async () => {
    const alice = await newUser("live-unbound");
    const doc = await createDocument(alice.auth);
    const unbound = { ...env, USER_EVENTS: undefined, DOCUMENT_PRESENCE: undefined } as unknown as Env;
    const call = async (request: Request) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(request as Parameters<typeof worker.fetch>[0], unbound, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const upgradeHeaders = { Upgrade: "websocket" };
    await problem(
      await call(new Request(`${EVENTS}?ticket=${await ticketFor(alice)}`, { headers: upgradeHeaders })),
      500,
      "service_misconfigured",
    );
    await problem(
      await call(
        new Request(`${DOCS}/${doc.id}/presence?ticket=${await ticketFor(alice)}`, { headers: upgradeHeaders }),
      ),
      500,
      "service_misconfigured",
    );
    const put = await call(
      new Request(`${DOCS}/${doc.id}`, {
        method: "PUT",
        headers: { ...alice.auth, "Content-Type": "application/json" },
        body: JSON.stringify({ title: "unbound" }),
      }),
    );
    expect(put.status).toBe(200);
  });
});

describe("presence", () => {
  it("sends who is present on every join and leave", async () => {
    const aliceEmail = uniqueEmail("live-pres-a");
    await register(aliceEmail, PASSWORD, "Alice Presence");
    const aliceTokens = await login(aliceEmail);
    const aliceMe = (await (
      await SELF.fetch(`${AUTH}/me`, { headers: { Authorization: `Bearer ${aliceTokens.access_token}` } })
    ).json()) as { id: string };
    const alice = {
      id: aliceMe.id,
      tokens: aliceTokens,
      auth: { Authorization: `Bearer ${aliceTokens.access_token}` },
    } as unknown as User;
    const bob = await newUser("live-pres-b");
    const doc = await createDocument(alice.auth);
    await grant(doc.id, alice, bob);

    // Who else has it open: each socket's list leaves its own user out.
    const a = await openPresence(alice, doc.id);
    await vi.waitFor(() => expect(a.messages.length).toBe(1));
    expect(a.messages[0]).toEqual({ type: "presence", users: [] });
    const b = await openPresence(bob, doc.id);
    await vi.waitFor(() => expect(a.messages.length).toBe(2));
    await vi.waitFor(() => expect(b.messages.length).toBe(1));
    expect(a.messages[1]).toMatchObject({ type: "presence", users: [{ user_id: bob.id }] });
    expect(b.messages[0]).toMatchObject({
      type: "presence",
      users: [{ user_id: alice.id, full_name: "Alice Presence" }],
    });
    expect((a.messages[1] as Presence).users).toHaveLength(1);
    expect((b.messages[0] as Presence).users).toHaveLength(1);
    expect(Date.parse((b.messages[0] as Presence).users[0]?.since ?? "")).not.toBeNaN();
    // Alice's second tab: Bob sees her once, with her first socket's time; she sees only Bob.
    const a2 = await openPresence(alice, doc.id);
    await vi.waitFor(() => expect(b.messages.length).toBe(2));
    await vi.waitFor(() => expect(a2.messages.length).toBe(1));
    expect((b.messages[1] as Presence).users).toEqual((b.messages[0] as Presence).users);
    expect((a2.messages[0] as Presence).users.map((u) => u.user_id)).toEqual([bob.id]);
    a2.ws.close(1000);
    await vi.waitFor(() => expect(b.messages.length).toBe(3));
    b.ws.close(1000);
    await vi.waitFor(() => expect(a.messages.length).toBe(5));
    expect(a.messages[4]).toEqual({ type: "presence", users: [] });
    a.ws.close(1000);
  });

  it("needs READ: no access is 404, and a bad id 422", async () => {
    const alice = await newUser("live-pres-404");
    const bob = await newUser("live-pres-404b");
    const doc = await createDocument(alice.auth);
    await problem(
      await upgrade(`${DOCS}/${doc.id}/presence?ticket=${await ticketFor(bob)}`),
      404,
      "document_not_found",
    );
    await problem(
      await upgrade(`${DOCS}/${crypto.randomUUID()}/presence?ticket=${await ticketFor(alice)}`),
      404,
      "document_not_found",
    );
    await problem(
      await upgrade(`${DOCS}/not-a-uuid/presence?ticket=${await ticketFor(alice)}`),
      422,
      "validation_failed",
    );
    await problem(await upgrade(`${DOCS}/${doc.id}/presence`), 401, "ticket_missing");
  });

  it("closes with 4403 when the user's permission is revoked or the document is deleted; others stay", async () => {
    const alice = await newUser("live-rev-a");
    const bob = await newUser("live-rev-b");
    const doc = await createDocument(alice.auth);
    await grant(doc.id, alice, bob);
    const a = await openPresence(alice, doc.id);
    const b = await openPresence(bob, doc.id);
    await vi.waitFor(() => expect(a.messages.length).toBe(2));
    const started = Date.now();
    expect(
      (await SELF.fetch(`${DOCS}/${doc.id}/permissions/${bob.id}`, { method: "DELETE", headers: alice.auth })).status,
    ).toBe(204);
    expect((await b.closed).code).toBe(4403);
    expect(Date.now() - started).toBeLessThan(1500);
    // Bob has left Alice's list (her own user is never in it).
    await vi.waitFor(() => expect((a.messages.at(-1) as Presence).users).toEqual([]));
    expect(a.closeInfo).toBeUndefined();

    // Deleting the document closes the owner's own socket too (it is in the trash).
    expect((await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: alice.auth })).status).toBe(204);
    expect((await a.closed).code).toBe(4403);
  });

  it("closes every socket of a closed account with 4401 (events and presence)", async () => {
    const alice = await newUser("live-close-a");
    const bob = await newUser("live-close-b");
    const doc = await createDocument(alice.auth);
    await grant(doc.id, alice, bob);
    const bobEvents = await openEvents(bob);
    const bobEvents2 = await openEvents(bob);
    const bobPresence = await openPresence(bob, doc.id);
    const alicePresence = await openPresence(alice, doc.id);
    const res = await SELF.fetch(`${AUTH}/me`, {
      method: "DELETE",
      headers: { ...bob.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ password: PASSWORD }),
    });
    expect(res.status).toBe(204);
    for (const s of [bobEvents, bobEvents2, bobPresence]) expect((await s.closed).code).toBe(4401);
    await vi.waitFor(() => expect((alicePresence.messages.at(-1) as Presence).users).toEqual([]));
    expect(alicePresence.closeInfo).toBeUndefined();
    alicePresence.ws.close(1000);
  });
});

describe("bad clients", () => {
  it("closes a socket that sends garbage (1008) or too much (1009); the object and its other sockets carry on", async () => {
    const alice = await newUser("live-garbage");
    const doc = await createDocument(alice.auth);
    const good = await openEvents(alice);
    const garbage = await openEvents(alice);
    const big = await openEvents(alice);
    garbage.ws.send("\u0000\u00ff not json {");
    big.ws.send("x".repeat(64 * 1024));
    expect((await garbage.closed).code).toBe(1008);
    expect((await big.closed).code).toBe(1009);
    // Pings are answered without waking the object.
    const pong = new Promise((resolve) => good.ws.addEventListener("message", (e) => resolve(e.data), { once: true }));
    good.messages.length = 0;
    good.ws.send("ping");
    expect(await pong).toBe("pong");
    good.messages.length = 0;
    expect((await retitle(alice.auth, doc.id, "still served")).status).toBe(200);
    await vi.waitFor(() => expect(good.messages.length).toBe(1), { timeout: 2000 });
    good.ws.close(1000);
  });

  it("closes a flooding socket at once while another keeps working", async () => {
    const alice = await newUser("live-flood");
    const doc = await createDocument(alice.auth);
    const good = await openPresence(alice, doc.id);
    const flood = await openPresence(alice, doc.id);
    for (let i = 0; i < 500; i++) {
      try {
        flood.ws.send(JSON.stringify({ type: "cursor", i }));
      } catch {
        break;
      }
    }
    expect((await flood.closed).code).toBe(1008);
    // Alice's sockets list only others: the good one still hears who joins.
    const other = await newUser("live-flood-b");
    await grant(doc.id, alice, other);
    const joined = await openPresence(other, doc.id);
    await vi.waitFor(() => expect((good.messages.at(-1) as Presence).users).toHaveLength(1));
    joined.ws.close(1000);
    good.ws.close(1000);
  });
});
