// The `content.indexed` activity (issue #20): the consumer's write of a finished version records one
// row (actor_id null) in the same statement, once per version and outcome, whatever the queue does
// (redeliveries, consumers racing on one version, stale messages, dead letters), and nothing for a
// pending attempt or a trashed document; the change reaches the feed, webhooks and live sockets
// within seconds, through the dispatch the consumer starts itself.
import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  SELF,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { BASE, newUser, postJson } from "../support/auth";
import { type Change, changes, drain, latest } from "../support/changes";
import { DOCS, multipart, samplePdf, samplePng, type Upload, uploadVersion } from "../support/documents";
import { testSql } from "../support/stack";
import { createWebhook, received, receiverUrl } from "../support/webhooks";

const sql = testSql();
const EVENTS = `${BASE}/api/v1/events`;
type User = Awaited<ReturnType<typeof newUser>>;
type Bindings = Partial<Record<keyof Env, string>>;

/** A content queue that drops what it is sent: the test delivers the messages itself. */
const silentQueue = { send: async () => {}, sendBatch: async () => {} };

/** The Worker with the content queue silenced, its background work awaited. */
async function unindexed(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    request as Parameters<typeof worker.fetch>[0],
    { ...env, CONTENT_QUEUE: silentQueue } as unknown as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

/** A document whose version 1 no consumer has seen yet. */
async function uploadUnindexed(user: User, upload: Upload): Promise<string> {
  const res = await unindexed(new Request(DOCS, { method: "POST", headers: user.auth, body: multipart(upload) }));
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function versionUnindexed(user: User, id: string, upload: Upload) {
  const res = await unindexed(
    new Request(`${DOCS}/${id}/upload-version`, { method: "POST", headers: user.auth, body: multipart(upload) }),
  );
  expect(res.status, await res.clone().text()).toBe(201);
}

let messageCount = 0;
/** Hands messages to the Worker's queue() as the runtime would; answers acks and retries. */
async function deliver(
  queue: "docvault-content" | "docvault-content-dlq",
  bodies: { document_id: string; version_number: number }[],
  bindings: Bindings = {},
) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body) => ({ id: `m${++messageCount}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...bindings } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return getQueueResult(batch, ctx);
}

/** The document's content.indexed rows, oldest first, straight from the table. */
const recorded = async (id: string) =>
  (await sql`select actor_id, details, host(ip_address) as ip, user_agent from activity_logs
             where document_id = ${id} and action = 'content.indexed' order by seq`) as {
    actor_id: string | null;
    details: Record<string, unknown>;
    ip: string | null;
    user_agent: string | null;
  }[];

const statusOf = async (id: string) =>
  (await sql`select version_number, status from document_contents where document_id = ${id}`)[0];

type Activity = { action: string; actor_id: string | null; document_id: string; details: Record<string, unknown> };

async function activityOf(user: User, id: string): Promise<Activity[]> {
  const res = await SELF.fetch(`${DOCS}/${id}/activity?limit=100`, { headers: user.auth });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Activity[] }).items;
}

/** The document once a consumer has finished its current version. */
async function settled(user: User, id: string) {
  return vi.waitFor(
    async () => {
      const doc = (await (await SELF.fetch(`${DOCS}/${id}`, { headers: user.auth })).json()) as {
        content_status: string;
      };
      if (doc.content_status === "pending") throw new Error("still pending");
      return doc;
    },
    { timeout: 15_000, interval: 100 },
  );
}

describe("what is recorded", () => {
  it("one row per finished version, by no one, with its status and (indexed) its size", async () => {
    const owner = await newUser("indexed-owner");
    const text = "the pangolin rolls into a ball";
    const upload = await SELF.fetch(DOCS, {
      method: "POST",
      headers: owner.auth,
      body: multipart({ bytes: text, name: "pangolin.txt" }),
    });
    const doc = (await upload.json()) as { id: string };
    await settled(owner, doc.id);
    const [indexed, ...rest] = (await activityOf(owner, doc.id)).filter((a) => a.action === "content.indexed");
    expect(rest).toEqual([]);
    expect(indexed).toMatchObject({ actor_id: null, document_id: doc.id });
    expect(indexed?.details).toEqual({
      version_number: 1,
      status: "indexed",
      characters: text.length,
      truncated: false,
    });
    // No client did it: no address or user agent kept either.
    expect(await recorded(doc.id)).toEqual([expect.objectContaining({ actor_id: null, ip: null, user_agent: null })]);

    // A new version is recorded once more, under its number.
    expect((await uploadVersion(owner.auth, doc.id, { bytes: "a second text", name: "v2.txt" })).status).toBe(201);
    await vi.waitFor(async () => expect(await recorded(doc.id)).toHaveLength(2), { timeout: 15_000, interval: 100 });
    expect((await recorded(doc.id))[1]?.details).toEqual({
      version_number: 2,
      status: "indexed",
      characters: 13,
      truncated: false,
    });

    // Unsupported and failed versions: their status only.
    const image = await uploadUnindexed(owner, { bytes: samplePng(), name: "dot.png" });
    const damaged = await uploadUnindexed(owner, { bytes: samplePdf(), name: "damaged.pdf" });
    await deliver("docvault-content", [
      { document_id: image, version_number: 1 },
      { document_id: damaged, version_number: 1 },
    ]);
    expect((await recorded(image)).map((r) => r.details)).toEqual([{ version_number: 1, status: "unsupported" }]);
    expect((await recorded(damaged)).map((r) => r.details)).toEqual([{ version_number: 1, status: "failed" }]);
  });

  it("says when the text was cut at CONTENT_MAX_CHARS, and counts characters, not UTF-16 units", async () => {
    const owner = await newUser("indexed-cut");
    const long = await uploadUnindexed(owner, { bytes: "abcdefghij".repeat(150), name: "long.txt" });
    const exact = await uploadUnindexed(owner, { bytes: "abcdefghij".repeat(100), name: "exact.txt" });
    // 5 astral characters (2 UTF-16 units each) and 10 others: 15 characters, 20 units.
    const astral = await uploadUnindexed(owner, { bytes: `${"é".repeat(10)}${"😀".repeat(5)}`, name: "astral.txt" });
    await deliver(
      "docvault-content",
      [long, exact, astral].map((id) => ({ document_id: id, version_number: 1 })),
      { CONTENT_MAX_CHARS: "1000" },
    );
    expect((await recorded(long))[0]?.details).toEqual({
      version_number: 1,
      status: "indexed",
      characters: 1000,
      truncated: true,
    });
    // Exactly at the bound: nothing was cut.
    expect((await recorded(exact))[0]?.details).toEqual({
      version_number: 1,
      status: "indexed",
      characters: 1000,
      truncated: false,
    });
    expect((await recorded(astral))[0]?.details).toMatchObject({ characters: 15, truncated: false });
  });
});

describe("once per version and outcome", () => {
  it("a redelivered message, a re-extraction and a late dead letter add nothing", async () => {
    const owner = await newUser("indexed-again");
    const text = await uploadUnindexed(owner, { bytes: "the binturong smells of popcorn", name: "b.txt" });
    const damaged = await uploadUnindexed(owner, { bytes: samplePdf(), name: "damaged.pdf" });
    const both = [text, damaged].map((id) => ({ document_id: id, version_number: 1 }));
    await deliver("docvault-content", both);
    expect(await recorded(text)).toHaveLength(1);
    expect(await recorded(damaged)).toHaveLength(1);

    // The same messages again: the failed file is extracted again (a failure is retried when
    // asked) and fails the same way; the indexed one is skipped.
    const again = await deliver("docvault-content", both);
    expect(again.explicitAcks).toHaveLength(2);
    // What `npm run content:reindex` does to an indexed row, then its message: extracted again.
    await sql`update document_contents set status = 'pending', text = null, search_vector = ''::tsvector
              where document_id = ${text}`;
    await deliver("docvault-content", [{ document_id: text, version_number: 1 }]);
    expect(await statusOf(text)).toEqual({ version_number: 1, status: "indexed" });
    // Dead letters of both, arriving late: the indexed text stays indexed.
    await deliver("docvault-content-dlq", both);
    expect(await statusOf(text)).toEqual({ version_number: 1, status: "indexed" });
    expect(await statusOf(damaged)).toEqual({ version_number: 1, status: "failed" });

    expect((await recorded(text)).map((r) => r.details.status)).toEqual(["indexed"]);
    expect((await recorded(damaged)).map((r) => r.details.status)).toEqual(["failed"]);
  });

  it("a pending attempt records nothing; the dead letter records failed, a later success indexed", async () => {
    const owner = await newUser("indexed-retry");
    const text = "the aye-aye taps on wood";
    const id = await uploadUnindexed(owner, { bytes: text, name: "aye.txt" });
    const message = { document_id: id, version_number: 1 };
    const down = await deliver("docvault-content", [message], {
      S3_ENDPOINT: "http://127.0.0.1:9",
      STORAGE_TIMEOUT_MS: "500",
    });
    expect(down.retryMessages).toHaveLength(1);
    expect(await statusOf(id)).toEqual({ version_number: 1, status: "pending" });
    expect(await recorded(id)).toEqual([]);

    await deliver("docvault-content-dlq", [message]);
    await deliver("docvault-content", [message]);
    expect((await recorded(id)).map((r) => r.details)).toEqual([
      { version_number: 1, status: "failed" },
      { version_number: 1, status: "indexed", characters: text.length, truncated: false },
    ]);
  });

  it("a stale version's message, or a trashed or purged document, records nothing", async () => {
    const owner = await newUser("indexed-stale");
    const id = await uploadUnindexed(owner, { bytes: "version one", name: "v1.txt" });
    await versionUnindexed(owner, id, { bytes: "version two", name: "v2.txt" });
    await deliver("docvault-content", [{ document_id: id, version_number: 1 }]);
    await deliver("docvault-content-dlq", [{ document_id: id, version_number: 1 }]);
    expect(await recorded(id)).toEqual([]);
    await deliver("docvault-content", [{ document_id: id, version_number: 2 }]);
    expect((await recorded(id)).map((r) => r.details.version_number)).toEqual([2]);

    const trashed = await uploadUnindexed(owner, { bytes: "into the trash", name: "t.txt" });
    expect((await SELF.fetch(`${DOCS}/${trashed}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    await deliver("docvault-content", [{ document_id: trashed, version_number: 1 }]);
    await deliver("docvault-content-dlq", [{ document_id: trashed, version_number: 1 }]);
    expect(await recorded(trashed)).toEqual([]);
    expect(
      (await SELF.fetch(`${BASE}/api/v1/trash/${trashed}`, { method: "DELETE", headers: owner.auth })).status,
    ).toBe(204);
    await deliver("docvault-content", [{ document_id: trashed, version_number: 1 }]);
    await deliver("docvault-content-dlq", [{ document_id: trashed, version_number: 1 }]);
    expect(await recorded(trashed)).toEqual([]);
    expect(await statusOf(trashed)).toBeUndefined();
  });

  // On PostgreSQL the consumers really run at once (PGlite runs one statement at a time, though
  // the consumers' steps still interleave there). A message seen alone is skipped once its version
  // is indexed, so a second row for a text could only come from consumers that both read the
  // version before either wrote it; the failed files are extracted by every consumer.
  it("consumers racing on one version record it once", async () => {
    const owner = await newUser("indexed-race");
    const texts = await Promise.all(
      Array.from({ length: 8 }, (_, i) => uploadUnindexed(owner, { bytes: `racing text ${i}`, name: `r${i}.txt` })),
    );
    const damaged = await Promise.all(
      Array.from({ length: 3 }, (_, i) => uploadUnindexed(owner, { bytes: samplePdf(`d${i}`), name: `d${i}.pdf` })),
    );
    await Promise.all([
      ...[...texts, ...damaged].flatMap((id) =>
        Array.from({ length: 4 }, () => deliver("docvault-content", [{ document_id: id, version_number: 1 }])),
      ),
      ...damaged.map((id) => deliver("docvault-content-dlq", [{ document_id: id, version_number: 1 }])),
    ]);
    for (const id of texts) expect((await recorded(id)).map((r) => r.details.status)).toEqual(["indexed"]);
    for (const id of damaged) expect((await recorded(id)).map((r) => r.details.status)).toEqual(["failed"]);
  });
});

type Socket = { ws: WebSocket; messages: Change[] };

async function openEvents(user: User): Promise<Socket> {
  const ticket = await SELF.fetch(`${EVENTS}/ticket`, { method: "POST", headers: user.auth });
  expect(ticket.status).toBe(201);
  const res = await SELF.fetch(`${EVENTS}?ticket=${((await ticket.json()) as { ticket: string }).ticket}`, {
    headers: { Upgrade: "websocket" },
  });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade answered ${res.status}`);
  const socket: Socket = { ws: res.webSocket, messages: [] };
  socket.ws.addEventListener("message", (event) => {
    if (event.data !== "pong") socket.messages.push(JSON.parse(event.data as string));
  });
  socket.ws.accept();
  return socket;
}

describe("every channel gets it", () => {
  it("the feed lists it to readers only; a content.indexed webhook and a live socket get it within seconds", async () => {
    const owner = await newUser("indexed-chan-owner");
    const reader = await newUser("indexed-chan-reader");
    const stranger = await newUser("indexed-chan-stranger");
    const first = await SELF.fetch(DOCS, {
      method: "POST",
      headers: owner.auth,
      body: multipart({ bytes: "first text", name: "v1.txt" }),
    });
    const doc = (await first.json()) as { id: string };
    expect(
      (await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: reader.id, role: "READ" }, owner.auth)).status,
    ).toBe(201);
    await settled(owner, doc.id);

    const { url, key } = receiverUrl("ok");
    await createWebhook(owner.auth, { url, events: ["content.indexed"] });
    const socket = await openEvents(reader);
    const readerFrom = await latest(reader.auth);
    const strangerFrom = await latest(stranger.auth);

    // A new version through the real queue: nothing but its consumer triggers a dispatch from here
    // on (the polls below are reads), so what arrives was sent by the consumer's own kick.
    const committed = Date.now();
    expect((await uploadVersion(owner.auth, doc.id, { bytes: "second text!", name: "v2.txt" })).status).toBe(201);
    // Cursors and a webhook's start are snapshot-xmin based: on PostgreSQL with other transactions
    // running, version 1's indexing (committed just before) may come too. It is left out below.
    const version1 = (c: Pick<Change, "action" | "details">) =>
      c.action === "content.indexed" && c.details.version_number === 1;
    const events = async () =>
      (await received(key)).map((r) => ({ at: r.at, ...(JSON.parse(r.body) as { type: string; data: Change }) }));
    const event = await vi.waitFor(
      async () => {
        const found = (await events()).find((e) => !version1(e.data));
        if (!found) throw new Error("nothing received");
        return found;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(event.at).toBeLessThan(committed + 8000);
    expect(event.type).toBe("content.indexed");
    expect(event.data).toMatchObject({
      action: "content.indexed",
      actor_id: null,
      document_id: doc.id,
      details: { version_number: 2, status: "indexed", characters: 12, truncated: false },
    });

    // The reader's feed lists the version and its indexing; the stranger's nothing.
    const feed = (await drain(reader.auth, readerFrom)).items.filter((c) => !version1(c));
    expect(feed.map((c) => c.action)).toEqual(["version.created", "content.indexed"]);
    expect(feed[1]).toEqual(event.data);
    expect((await changes(stranger.auth, { cursor: strangerFrom })).items).toEqual([]);

    // The reader's socket got both, exactly as the feed lists them.
    const pushed = () => socket.messages.filter((m) => !version1(m));
    await vi.waitFor(() => expect(pushed().map((m) => m.action)).toEqual(["version.created", "content.indexed"]), {
      timeout: 10_000,
      interval: 100,
    });
    expect(pushed()).toEqual(feed);
    socket.ws.close(1000);

    // The filtered webhook got that event once, and no version.created.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await events()).filter((e) => !version1(e.data)).map((e) => e.data.id)).toEqual([event.data.id]);
    expect((await events()).every((e) => e.type === "content.indexed")).toBe(true);
  });
});
