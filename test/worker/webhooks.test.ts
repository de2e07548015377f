// Webhooks end to end: a change commits, the dispatcher (waitUntil) queues it, the Worker's own
// queue() consumer POSTs it to the test receiver. Signatures are checked with an independent
// implementation; filters, visibility, the test event, the deliveries page, CRUD and ownership.
// Retries, timeouts, 410, the scheduled safety net and the URL policy: webhooks.delivery.test.ts
// and webhooks.url-policy.test.ts.
import { SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { newUser, postJson } from "../support/auth";
import { createDocument, DOCS, indexingFinished } from "../support/documents";
import { databaseSnapshot, testSql } from "../support/stack";
import { createWebhook, received, receiverUrl, verifySignature, WEBHOOKS } from "../support/webhooks";

const sql = testSql();
/** How long side effects of the queue may take on a loaded machine. */
const WAIT = { timeout: 8000, interval: 100 };
type User = Awaited<ReturnType<typeof newUser>>;

const retitle = (auth: Record<string, string>, id: string, title: string) =>
  SELF.fetch(`${DOCS}/${id}`, {
    method: "PUT",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ title }),
  });

async function grant(docId: string, by: User, who: User, role: string) {
  expect((await postJson(`${DOCS}/${docId}/permissions`, { user_id: who.id, role }, by.auth)).status).toBe(201);
}

const waitForRequests = (key: string, n: number, timeout = 8000) =>
  vi.waitFor(
    async () => {
      const got = await received(key);
      if (got.length < n) throw new Error(`${got.length} of ${n} requests`);
      return got;
    },
    { timeout, interval: 100 },
  );

type Event = { id: string; type: string; timestamp: string; data: Record<string, unknown> };

describe("delivery", () => {
  it("POSTs each change, signed per Standard Webhooks, within seconds of its commit", async () => {
    const alice = await newUser("hook-alice");
    const { url, key } = receiverUrl("ok");
    const hook = await createWebhook(alice.auth, { url });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(hook.secret.slice(6)).length).toBe(32);
    const committed = Date.now();
    const doc = await createDocument(alice.auth);
    const [request] = await waitForRequests(key, 1);
    expect(request?.at ?? 0).toBeLessThan(committed + 5000);
    expect(request?.method).toBe("POST");
    expect(request?.headers["content-type"]).toBe("application/json");
    const event = JSON.parse(request?.body ?? "{}") as Event;
    expect(event.type).toBe("document.created");
    expect(event.id).toBe(request?.headers["webhook-id"]);
    expect(event.data).toMatchObject({ action: "document.created", document_id: doc.id, actor_id: alice.id });
    expect(typeof event.data.cursor).toBe("string");
    expect(event.timestamp).toBe(event.data.created_at);
    const ts = Number(request?.headers["webhook-timestamp"]);
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(30);
    expect(await verifySignature(hook.secret, request?.headers ?? {}, request?.body ?? "")).toBe(true);
    // Another secret, or a changed body, does not verify.
    const other = await createWebhook(alice.auth, { url: receiverUrl("ok").url });
    expect(await verifySignature(other.secret, request?.headers ?? {}, request?.body ?? "")).toBe(false);
    expect(await verifySignature(hook.secret, request?.headers ?? {}, `${request?.body} `)).toBe(false);

    // The Change delivered is the one the feed lists, cursor included.
    const feed = (await (await SELF.fetch(`${BASE_CHANGES}?limit=1000`, { headers: alice.auth })).json()) as {
      items: Record<string, unknown>[];
    };
    expect(feed.items.find((c) => c.id === event.data.id)).toEqual(event.data);

    // Then the upload's text is indexed in the background: that change is delivered too, by no one.
    await indexingFinished(alice.auth, doc.id);
    const [, indexed] = await waitForRequests(key, 2);
    const second = JSON.parse(indexed?.body ?? "{}") as Event;
    expect(second.data).toMatchObject({ action: "content.indexed", document_id: doc.id, actor_id: null });
    expect(await verifySignature(hook.secret, indexed?.headers ?? {}, indexed?.body ?? "")).toBe(true);

    // The deliveries page shows both delivered, attempted once, newest first.
    const page = await SELF.fetch(`${WEBHOOKS}/${hook.id}/deliveries`, { headers: alice.auth });
    expect(page.status).toBe(200);
    await vi.waitFor(async () => {
      const again = (await (await SELF.fetch(`${WEBHOOKS}/${hook.id}/deliveries`, { headers: alice.auth })).json()) as {
        items: Record<string, unknown>[];
        total: number;
      };
      expect(again.total).toBe(2);
      expect(again.items.map((d) => [d.event_id, d.type])).toEqual([
        [second.id, "content.indexed"],
        [event.id, "document.created"],
      ]);
      for (const item of again.items) {
        expect(item).toMatchObject({ attempts: 1, last_status: 200, next_attempt_at: null, ended_reason: null });
        expect(item.delivered_at).toEqual(expect.any(String));
      }
    }, WAIT);
  });

  it("filters by event and by document", async () => {
    const bob = await newUser("hook-bob");
    const first = await createDocument(bob.auth);
    const second = await createDocument(bob.auth);
    const third = await createDocument(bob.auth);
    // Their texts' indexing (content.indexed) is done before the webhooks exist.
    for (const doc of [first, second, third]) await indexingFinished(bob.auth, doc.id);
    const updates = receiverUrl("ok");
    const onlyFirst = receiverUrl("ok");
    const everything = receiverUrl("ok");
    await createWebhook(bob.auth, { url: updates.url, events: ["document.updated"] });
    await createWebhook(bob.auth, { url: onlyFirst.url, document_id: first.id });
    await createWebhook(bob.auth, { url: everything.url });
    await retitle(bob.auth, first.id, "first 2");
    await retitle(bob.auth, second.id, "second 2");
    // (Deleting `second` itself could overtake the delivery of its update, which the owner could then no
    // longer read: that update would rightly not be sent. webhooks.delivery.test.ts tests that case.)
    await SELF.fetch(`${DOCS}/${third.id}`, { method: "DELETE", headers: bob.auth });
    const all = await waitForRequests(everything.key, 3);
    expect(all.map((r) => (JSON.parse(r.body) as Event).type)).toEqual([
      "document.updated",
      "document.updated",
      "document.deleted",
    ]);
    const types = (await waitForRequests(updates.key, 2)).map((r) => JSON.parse(r.body) as Event);
    expect(types.map((e) => [e.type, e.data.document_id])).toEqual([
      ["document.updated", first.id],
      ["document.updated", second.id],
    ]);
    const firsts = (await waitForRequests(onlyFirst.key, 1)).map((r) => JSON.parse(r.body) as Event);
    // Give the others time to arrive if they wrongly were to.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await received(updates.key)).length).toBe(2);
    expect((await received(onlyFirst.key)).map((r) => (JSON.parse(r.body) as Event).data.document_id)).toEqual([
      first.id,
    ]);
    expect(firsts[0]?.type).toBe("document.updated");
    // Changes made before a webhook existed are not sent to it.
    expect(all.some((r) => (JSON.parse(r.body) as Event).type === "document.created")).toBe(false);
  });

  it("sends only what the owner can read: a shared document's changes, until access ends with the revocation", async () => {
    const owner = await newUser("hook-owner");
    const reader = await newUser("hook-reader");
    const doc = await createDocument(owner.auth);
    const stranger = await createDocument(owner.auth);
    for (const d of [doc, stranger]) await indexingFinished(owner.auth, d.id);
    const { url, key } = receiverUrl("ok");
    await createWebhook(reader.auth, { url });
    await grant(doc.id, owner, reader, "READ");
    await retitle(owner.auth, doc.id, "while shared");
    await retitle(owner.auth, stranger.id, "never shared");
    // Delivered before the revocation (an update still queued when access ends is not sent: see
    // webhooks.delivery.test.ts).
    await waitForRequests(key, 2);
    const revoked = await SELF.fetch(`${DOCS}/${doc.id}/permissions/${reader.id}`, {
      method: "DELETE",
      headers: owner.auth,
    });
    expect(revoked.status).toBe(204);
    await retitle(owner.auth, doc.id, "after the revocation");
    const got = await waitForRequests(key, 3);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const events = (await received(key)).map((r) => JSON.parse(r.body) as Event);
    expect(got.length).toBe(3);
    expect(events.map((e) => [e.type, e.data.document_id])).toEqual([
      ["permission.granted", doc.id],
      ["document.updated", doc.id],
      ["permission.revoked", doc.id],
    ]);
  });

  it("a document filter needs READ on the document (404 otherwise); a stranger's webhook is not found", async () => {
    const carol = await newUser("hook-carol");
    const dave = await newUser("hook-dave");
    const doc = await createDocument(carol.auth);
    const before = await databaseSnapshot();
    const refused = await postJson(WEBHOOKS, { url: receiverUrl("ok").url, document_id: doc.id }, dave.auth);
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { code: string }).code).toBe("document_not_found");
    // Any id spelled as a UUID is an unknown document (404), whatever its version digits.
    const unknown = await postJson(
      WEBHOOKS,
      { url: receiverUrl("ok").url, document_id: "11111111-1111-1111-1111-111111111111" },
      dave.auth,
    );
    expect(((await unknown.json()) as { code: string }).code).toBe("document_not_found");
    expect(unknown.status).toBe(404);
    expect(await databaseSnapshot()).toEqual(before);
    const hook = await createWebhook(carol.auth, { url: receiverUrl("ok").url, document_id: doc.id });
    for (const [method, path] of [
      ["GET", ""],
      ["DELETE", ""],
      ["POST", "/test"],
      ["GET", "/deliveries"],
    ] as const) {
      const res = await SELF.fetch(`${WEBHOOKS}/${hook.id}${path}`, { method, headers: dave.auth });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe("webhook_not_found");
    }
    const list = (await (await SELF.fetch(WEBHOOKS, { headers: dave.auth })).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
  });
});

const BASE_CHANGES = WEBHOOKS.replace("/webhooks", "/changes");

describe("CRUD and the test event", () => {
  it("creates, lists, reads, tests and deletes; the secret is shown only once and stored encrypted", async () => {
    const erin = await newUser("hook-erin");
    const { url, key } = receiverUrl("ok");
    const hook = await createWebhook(erin.auth, { url, events: ["document.updated", "document.updated"] });
    expect(hook).toMatchObject({
      url,
      events: ["document.updated"],
      document_id: null,
      disabled_at: null,
      failure_count: 0,
    });
    const got = await SELF.fetch(`${WEBHOOKS}/${hook.id}`, { headers: erin.auth });
    const { secret: _, ...shown } = hook;
    expect(await got.json()).toEqual(shown);
    const list = (await (await SELF.fetch(`${WEBHOOKS}?limit=10`, { headers: erin.auth })).json()) as {
      items: unknown[];
      total: number;
      page: number;
      limit: number;
    };
    expect(list).toEqual({ items: [shown], total: 1, total_relation: "eq", page: 1, limit: 10 });
    const [row] = await sql`select secret_ciphertext from webhooks where id = ${hook.id}`;
    expect(String(row?.secret_ciphertext)).toMatch(/^v1\./);
    expect(String(row?.secret_ciphertext)).not.toContain(hook.secret.slice(6, 20));

    const test = await SELF.fetch(`${WEBHOOKS}/${hook.id}/test`, { method: "POST", headers: erin.auth });
    expect(test.status).toBe(202);
    const { event_id } = (await test.json()) as { event_id: string };
    const [request] = await waitForRequests(key, 1);
    const event = JSON.parse(request?.body ?? "{}") as Event;
    // `data` has a Change's shape (the contract: `data` is the Change), with the feed's "now" as its cursor.
    expect(event).toMatchObject({
      id: event_id,
      type: "webhook.test",
      data: {
        id: event_id,
        action: "webhook.test",
        actor_id: erin.id,
        document_id: null,
        details: { webhook_id: hook.id },
      },
    });
    const data = (event as unknown as { data: { cursor: string; created_at: string } }).data;
    expect(Object.keys(data).sort()).toEqual(
      ["action", "actor_id", "created_at", "cursor", "details", "document_id", "id"].sort(),
    );
    const resumed = await SELF.fetch(`http://api.test/api/v1/changes?cursor=${data.cursor}`, { headers: erin.auth });
    expect(resumed.status).toBe(200);
    expect(await verifySignature(hook.secret, request?.headers ?? {}, request?.body ?? "")).toBe(true);

    expect((await SELF.fetch(`${WEBHOOKS}/${hook.id}`, { method: "DELETE", headers: erin.auth })).status).toBe(204);
    expect((await SELF.fetch(`${WEBHOOKS}/${hook.id}`, { headers: erin.auth })).status).toBe(404);
    expect((await sql`select count(*)::int as n from webhook_deliveries where webhook_id = ${hook.id}`)[0]?.n).toBe(0);
  });

  it.each([
    [{}, "body.url"],
    [{ url: 42 }, "body.url"],
    [{ url: "https://hooks.example.com/x", events: [] }, "body.events"],
    [{ url: "https://hooks.example.com/x", events: ["document.exploded"] }, "body.events.0"],
    [{ url: "https://hooks.example.com/x", document_id: "not-a-uuid" }, "body.document_id"],
    [{ url: `https://hooks.example.com/${"x".repeat(2000)}` }, "body.url"],
  ])("refuses %j with 422 naming %s, storing nothing", async (body, path) => {
    const frank = await newUser("hook-frank");
    const before = await databaseSnapshot();
    const res = await postJson(WEBHOOKS, body, frank.auth);
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { code: string; errors: { path: string }[] };
    expect(problem.code).toBe("validation_failed");
    expect(problem.errors.map((e) => e.path)).toContain(path);
    expect(await databaseSnapshot()).toEqual(before);
    expect((await sql`select count(*)::int as n from webhooks where owner_id = ${frank.id}`)[0]?.n).toBe(0);
  });

  // A Webhook shows "all" as null; a client that sends back what it read gets the same webhook.
  it("takes null events and document_id as absent: every action, every document", async () => {
    const hana = await newUser("hook-hana");
    const { url } = receiverUrl("ok");
    const hook = await createWebhook(hana.auth, { url, events: null, document_id: null });
    expect(hook).toMatchObject({ url, events: null, document_id: null });
    const [row] = await sql`select events, document_id from webhooks where id = ${hook.id}`;
    expect(row).toEqual({ events: null, document_id: null });
    const empty = await postJson(WEBHOOKS, { url, events: [] }, hana.auth);
    expect(empty.status).toBe(422);
  });

  it("a malformed body is 400; ids that are not UUIDs are 422", async () => {
    const gina = await newUser("hook-gina");
    const bad = await SELF.fetch(WEBHOOKS, {
      method: "POST",
      headers: { ...gina.auth, "Content-Type": "application/json" },
      body: "{",
    });
    expect(bad.status).toBe(400);
    expect((await SELF.fetch(`${WEBHOOKS}/nope`, { headers: gina.auth })).status).toBe(422);
  });
});
