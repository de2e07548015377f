// Stored bytes stay what was verified (issue #12, findings 1, 2 and 8): a presigned PUT replayed
// after `complete`, an upload sent with Content-Encoding, client-set metadata on the staged
// object, concurrent completes, and database writes that commit after their deadline.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it, vi } from "vitest";
import worker from "../../src/index";
import { runScheduledMaintenance } from "../../src/maintenance";
import { newUser, postJson } from "../support/auth";
import { sha256Hex } from "../support/bytes";
import { createDocument, DOCS, multipart, sampleExe, samplePdf } from "../support/documents";
import { keysWithBytes, testConfig, testSql, testStorage } from "../support/stack";

const UPLOADS = "http://api.test/api/v1/uploads";
const sql = testSql();
const storage = testStorage();
type User = Awaited<ReturnType<typeof newUser>>;
type Ticket = { upload_id: string; url: string; method: string; headers: Record<string, string> };
let alice: User;

beforeAll(async () => {
  alice = await newUser("hardening-storage");
});

async function start(body: Record<string, unknown>): Promise<Ticket> {
  const res = await postJson(UPLOADS, body, alice.auth);
  expect(res.status).toBe(201);
  return (await res.json()) as Ticket;
}

function put(ticket: Ticket, bytes: Uint8Array, extraHeaders: Record<string, string> = {}) {
  return fetch(ticket.url, { method: "PUT", headers: { ...ticket.headers, ...extraHeaders }, body: bytes });
}

const complete = (id: string, body: Record<string, unknown> = {}) =>
  postJson(`${UPLOADS}/${id}/complete`, body, alice.auth);

/** The bytes and headers a download of this document's version serves. */
async function downloaded(documentId: string, version?: number) {
  const res = await SELF.fetch(`${DOCS}/${documentId}/download${version ? `?version=${version}` : ""}`, {
    headers: alice.auth,
  });
  expect(res.status).toBe(200);
  const meta = (await res.json()) as { url: string; size_bytes: number };
  const object = await fetch(meta.url);
  expect(object.status).toBe(200);
  return { meta, headers: object.headers, bytes: new Uint8Array(await object.arrayBuffer()) };
}

/** What the staging key of an ended upload holds: an empty marker, no bytes. */
const SEALED = { size: 0, contentType: "application/x-docvault-upload-ended" };

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("a presigned PUT replayed after complete", () => {
  it("cannot change what the version serves (the URL names a staging key)", async () => {
    const bytes = samplePdf("the verified report");
    const ticket = await start({ file_name: "report.pdf", content_type: "application/pdf", size_bytes: bytes.length });
    expect((await put(ticket, bytes)).status).toBe(200);
    const done = await complete(ticket.upload_id);
    expect(done.status).toBe(201);
    const doc = (await done.json()) as { id: string; sha256: string };
    expect(doc.sha256).toBe(await sha256Hex(bytes));

    // The attack: the same URL again, with an executable of the same length. The store refuses
    // it (the signed If-None-Match: *, 412) while the staged object exists, and after it too:
    // `complete` replaces the staged bytes with an empty marker (after the response).
    const exe = new Uint8Array(bytes.length);
    exe.set(sampleExe());
    await vi.waitFor(async () => expect(await storage.head(`uploads/${ticket.upload_id}`)).toMatchObject(SEALED));
    const replay = await put(ticket, exe);
    expect(replay.status).toBe(412);
    await replay.body?.cancel();

    const served = await downloaded(doc.id);
    expect(served.bytes).toEqual(bytes);
    expect(await sha256Hex(served.bytes)).toBe(doc.sha256);
    // The version's key is not the one the URL named, nor derived from the upload's id.
    const [version] = await sql`select storage_key from document_versions where document_id = ${doc.id}`;
    expect(ticket.url).not.toContain(version?.storage_key);

    // The marker stays while the URL lives; once it has expired, the sweeper removes it, and only it.
    await runScheduledMaintenance(testConfig(), "test", { orphanAgeSeconds: 0 });
    expect(await storage.head(`uploads/${ticket.upload_id}`)).toMatchObject(SEALED);
    await sql`update uploads set expires_at = now() - interval '1 second' where id = ${ticket.upload_id}`;
    await runScheduledMaintenance(testConfig(), "test", { orphanAgeSeconds: 0 });
    expect(await storage.head(`uploads/${ticket.upload_id}`)).toBeNull();
    expect((await downloaded(doc.id)).bytes).toEqual(bytes);
  });

  it("after a DELETE or a refused complete stores nothing: the key keeps an empty marker until the URL expires", async () => {
    const usedBefore = (await (
      await SELF.fetch(`${UPLOADS.replace("/uploads", "/auth/me")}`, { headers: alice.auth })
    ).json()) as {
      storage: { used_bytes: number };
    };
    const bytes = samplePdf("abandoned");
    const cases = {
      "deleted before any PUT": async (ticket: Ticket) => {
        expect(
          (await SELF.fetch(`${UPLOADS}/${ticket.upload_id}`, { method: "DELETE", headers: alice.auth })).status,
        ).toBe(204);
      },
      "deleted after its PUT": async (ticket: Ticket) => {
        expect((await put(ticket, bytes)).status).toBe(200);
        expect(
          (await SELF.fetch(`${UPLOADS}/${ticket.upload_id}`, { method: "DELETE", headers: alice.auth })).status,
        ).toBe(204);
      },
      "refused at complete (another type)": async (ticket: Ticket) => {
        const png = new Uint8Array(bytes.length);
        png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        expect((await put(ticket, png)).status).toBe(200);
        expect((await complete(ticket.upload_id)).status).toBe(422);
      },
    };
    for (const [name, end] of Object.entries(cases)) {
      const ticket = await start({ file_name: "a.pdf", content_type: "application/pdf", size_bytes: bytes.length });
      await end(ticket);
      expect(await storage.head(`uploads/${ticket.upload_id}`), name).toMatchObject(SEALED);
      const replay = await put(ticket, bytes);
      expect(replay.status, name).toBe(412);
      await replay.body?.cancel();
      expect(await storage.head(`uploads/${ticket.upload_id}`), name).toMatchObject(SEALED);
      expect((await complete(ticket.upload_id)).status, name).toBe(409);
    }
    const usedAfter = (await (
      await SELF.fetch(`${UPLOADS.replace("/uploads", "/auth/me")}`, { headers: alice.auth })
    ).json()) as {
      storage: { used_bytes: number };
    };
    expect(usedAfter.storage.used_bytes).toBe(usedBefore.storage.used_bytes);
  });

  it("is refused by the store while the staged object exists (If-None-Match: *)", async () => {
    const bytes = samplePdf("staged once");
    const ticket = await start({ file_name: "a.pdf", content_type: "application/pdf", size_bytes: bytes.length });
    expect((await put(ticket, bytes)).status).toBe(200);
    const second = samplePdf("staged 2nd!");
    expect(second.length).toBe(bytes.length);
    const replay = await put(ticket, second);
    expect(replay.status).toBe(412);
    await replay.body?.cancel();
    const done = await complete(ticket.upload_id);
    expect(done.status).toBe(201);
    expect((await downloaded(((await done.json()) as { id: string }).id)).bytes).toEqual(bytes);
  });

  it("is refused a second complete, which changes nothing", async () => {
    const bytes = samplePdf("first");
    const ticket = await start({ file_name: "a.pdf", content_type: "application/pdf", size_bytes: bytes.length });
    await put(ticket, bytes);
    const doc = (await (await complete(ticket.upload_id)).json()) as { id: string };
    const other = samplePdf("other"); // same length
    expect(other.length).toBe(bytes.length);
    await put(ticket, other);
    expect((await complete(ticket.upload_id)).status).toBe(409);
    expect((await downloaded(doc.id)).bytes).toEqual(bytes);
  });

  it("signs If-None-Match and the declared digest into the URL, and asks the client to send them", async () => {
    const bytes = samplePdf();
    const ticket = await start({
      file_name: "a.pdf",
      content_type: "application/pdf",
      size_bytes: bytes.length,
      sha256: await sha256Hex(bytes),
    });
    const digest = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))));
    expect(ticket.headers).toMatchObject({ "If-None-Match": "*", "x-amz-checksum-sha256": digest });
    const signed = new URL(ticket.url).searchParams.get("X-Amz-SignedHeaders")?.split(";");
    expect(signed).toEqual(expect.arrayContaining(["if-none-match", "x-amz-checksum-sha256", "content-length"]));
    const withoutDigest = await start({ file_name: "b.pdf", content_type: "application/pdf", size_bytes: 5 });
    expect(withoutDigest.headers["x-amz-checksum-sha256"]).toBeUndefined();
  });
});

describe("Content-Encoding on the direct PUT", () => {
  it("is refused (422): object deleted, upload aborted, nothing served", async () => {
    // 2 MB of text in ~2 KB of gzip: workerd's fetch would inflate it when read, so the size
    // checked, the digest recorded and the bytes served would each be different things.
    const inflated = new TextEncoder().encode("a".repeat(2_000_000));
    const bomb = await gzip(inflated);
    const ticket = await start({ file_name: "notes.txt", content_type: "text/plain", size_bytes: bomb.length });
    expect((await put(ticket, bomb, { "Content-Encoding": "gzip" })).status).toBe(200);

    const res = await complete(ticket.upload_id, { title: "bomb" });
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await sql`select status from uploads where id = ${ticket.upload_id}`)[0]?.status).toBe("ABORTED");
    expect(await keysWithBytes(`uploads/${ticket.upload_id}`)).toEqual([]);
    expect(await storage.listKeys(`documents/${ticket.upload_id}/`)).toEqual([]);
    expect(await sql`select 1 from documents where title = 'bomb'`).toHaveLength(0);
  });

  it("and other client-set metadata never reach the version's object (served as exact bytes)", async () => {
    const bytes = new TextEncoder().encode("plain notes\n".repeat(100));
    const ticket = await start({ file_name: "notes.txt", content_type: "text/plain", size_bytes: bytes.length });
    const stored = await put(ticket, bytes, {
      "Cache-Control": "public, max-age=31536000, immutable",
      "Content-Disposition": "inline; filename=page.html",
      "Content-Language": "xx",
    });
    expect(stored.status).toBe(200);
    // The staged object carries what the client set…
    // (Read with signed GETs: the local store refuses unsigned requests, as S3 and R2 do.)
    const staged = await storage.get(`uploads/${ticket.upload_id}`);
    await staged?.body?.cancel();
    expect(staged?.headers.get("cache-control")).toContain("immutable");

    const done = await complete(ticket.upload_id);
    expect(done.status).toBe(201);
    const doc = (await done.json()) as { id: string; sha256: string; size_bytes: number; content_type: string };
    // …the version's object only what the service set.
    const [version] = await sql`select storage_key from document_versions where document_id = ${doc.id}`;
    const head = (await storage.get(version?.storage_key)) as Response;
    await head.body?.cancel();
    expect(head.headers.get("cache-control")).toBeNull();
    expect(head.headers.get("content-encoding")).toBeNull();
    expect(head.headers.get("content-language")).toBeNull();
    expect(head.headers.get("content-type")).toBe(doc.content_type);

    const served = await downloaded(doc.id);
    expect(served.headers.get("content-encoding")).toBeNull();
    expect(served.headers.get("cache-control")).toBeNull();
    expect(served.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(served.bytes).toEqual(bytes);
    expect(served.bytes.length).toBe(doc.size_bytes);
    expect(await sha256Hex(served.bytes)).toBe(doc.sha256);
  });
});

describe("concurrent completes of one upload", () => {
  it("make one version; the others are 409 and the served bytes are the recorded ones", async () => {
    const doc = await createDocument(alice.auth);
    const bytes = samplePdf("version two");
    const ticket = await start({
      file_name: "v2.pdf",
      content_type: "application/pdf",
      size_bytes: bytes.length,
      document_id: doc.id,
    });
    await put(ticket, bytes);
    const answers = await Promise.all(Array.from({ length: 6 }, () => complete(ticket.upload_id)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    const versions = await sql`select version_number, sha256 from document_versions where document_id = ${doc.id}`;
    expect(versions.map((v) => v.version_number).sort()).toEqual([1, 2]);
    const served = await downloaded(doc.id, 2);
    expect(served.bytes).toEqual(bytes);
    expect(versions.find((v) => v.version_number === 2)?.sha256).toBe(await sha256Hex(bytes));
  });

  it("make one document; the others are 409", async () => {
    const bytes = samplePdf("new document");
    const ticket = await start({ file_name: "n.pdf", content_type: "application/pdf", size_bytes: bytes.length });
    await put(ticket, bytes);
    const answers = await Promise.all(Array.from({ length: 6 }, () => complete(ticket.upload_id, { title: "once" })));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await sql`select 1 from documents where owner_id = ${alice.id} and title = 'once'`).toHaveLength(1);
  });
});

// A Worker whose writes commit but whose answers arrive after its 300 ms deadline. Another
// database host, so only this Worker's client goes through the delaying proxy.
const SLOW_WRITES = {
  DATABASE_URL: "postgresql://local:local@slow-writes.localhost:5432/docvault",
  NEON_HTTP_ENDPOINT: `${inject("slowWrites")}/delay/1500/sql`,
  DATABASE_TIMEOUT_MS: "300",
};

async function callSlow(request: Request) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Parameters<typeof worker.fetch>[0], { ...env, ...SLOW_WRITES } as Env, ctx);
  await waitOnExecutionContext(ctx); // any clean-up after the response has run
  return res;
}

describe("a write that commits after its deadline", () => {
  it("keeps a new document's bytes: 503, yet the row committed and its download works", async () => {
    const bytes = samplePdf("committed late");
    const title = `late-${crypto.randomUUID()}`;
    const res = await callSlow(
      new Request(DOCS, { method: "POST", headers: alice.auth, body: multipart({ bytes, fields: { title } }) }),
    );
    expect(res.status).toBe(503);
    await vi.waitFor(async () => expect(await sql`select id from documents where title = ${title}`).toHaveLength(1));
    const [row] = await sql`select id from documents where title = ${title}`;
    const served = await downloaded(row?.id);
    expect(served.bytes).toEqual(bytes);
  });

  it("keeps a new version's bytes", async () => {
    const doc = await createDocument(alice.auth);
    const bytes = samplePdf("version committed late");
    const res = await callSlow(
      new Request(`${DOCS}/${doc.id}/upload-version`, {
        method: "POST",
        headers: alice.auth,
        body: multipart({ bytes }),
      }),
    );
    expect(res.status).toBe(503);
    await vi.waitFor(async () =>
      expect(await sql`select 1 from document_versions where document_id = ${doc.id}`).toHaveLength(2),
    );
    expect((await downloaded(doc.id, 2)).bytes).toEqual(bytes);
  });

  it("keeps a direct upload's copied bytes; the sweeper later clears only the staging object", async () => {
    const doc = await createDocument(alice.auth);
    const bytes = samplePdf("direct version committed late");
    const ticket = await start({
      file_name: "late.pdf",
      content_type: "application/pdf",
      size_bytes: bytes.length,
      document_id: doc.id,
    });
    await put(ticket, bytes);
    const res = await callSlow(
      new Request(`${UPLOADS}/${ticket.upload_id}/complete`, {
        method: "POST",
        headers: { ...alice.auth, "content-type": "application/json" },
        body: "{}",
      }),
    );
    expect(res.status).toBe(503);
    await vi.waitFor(async () =>
      expect((await sql`select status from uploads where id = ${ticket.upload_id}`)[0]?.status).toBe("COMPLETED"),
    );
    expect((await downloaded(doc.id, 2)).bytes).toEqual(bytes);

    // The staged bytes are left (the answer was lost before the seal): while the URL lives the
    // sweeper puts the empty marker in their place, once it has expired it removes the key.
    expect(await storage.head(`uploads/${ticket.upload_id}`)).toMatchObject({ size: bytes.length });
    await runScheduledMaintenance(testConfig(), "test", { orphanAgeSeconds: 0 });
    expect(await storage.head(`uploads/${ticket.upload_id}`)).toMatchObject(SEALED);
    await sql`update uploads set expires_at = now() - interval '1 second' where id = ${ticket.upload_id}`;
    await runScheduledMaintenance(testConfig(), "test", { orphanAgeSeconds: 0 });
    expect(await storage.head(`uploads/${ticket.upload_id}`)).toBeNull();
    expect((await downloaded(doc.id, 2)).bytes).toEqual(bytes);
  });

  it("still deletes the copy when PostgreSQL refused the statement (nothing was written)", async () => {
    const bytes = samplePdf("refused");
    const ticket = await start({ file_name: "r.pdf", content_type: "application/pdf", size_bytes: bytes.length });
    await put(ticket, bytes);
    const before = await storage.listKeys(`documents/${ticket.upload_id}/`);
    expect(before).toEqual([]);
    const res = await complete(ticket.upload_id, { description: "a\u0000b" });
    expect(res.status).toBe(422);
    await vi.waitFor(async () => expect(await storage.listKeys(`documents/${ticket.upload_id}/`)).toEqual([]));
    // The upload stays open with its staged bytes, so a corrected `complete` succeeds.
    expect((await sql`select status from uploads where id = ${ticket.upload_id}`)[0]?.status).toBe("PENDING");
    expect((await complete(ticket.upload_id, { description: "ok" })).status).toBe(201);
  });
});
