// Direct uploads: a presigned PUT straight to storage, then `complete`, which checks the stored
// object before it becomes a document or a version.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { newUser, postJson } from "../support/auth";
import { sha256Hex } from "../support/bytes";
import { createDocument, DOCS, samplePdf, samplePng } from "../support/documents";
import { keysWithBytes, testSql, testStorage } from "../support/stack";

const UPLOADS = "http://api.test/api/v1/uploads";
const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;
let alice: User;
let bob: User;

beforeAll(async () => {
  alice = await newUser("direct-alice");
  bob = await newUser("direct-bob");
});

type Ticket = { upload_id: string; url: string; method: string; headers: Record<string, string>; expires_at: string };

async function start(user: User, body: Record<string, unknown>) {
  const res = await postJson(UPLOADS, body, user.auth);
  return { res, ticket: res.status === 201 ? ((await res.clone().json()) as Ticket) : null };
}

async function putBytes(ticket: Ticket, bytes: Uint8Array) {
  const res = await fetch(ticket.url, { method: ticket.method, headers: ticket.headers, body: bytes });
  expect(res.status).toBe(200);
}

/** A direct upload of `bytes` (a PDF) as the next version of `documentId`, its bytes in place. */
async function stagedVersion(user: User, documentId: string, bytes: Uint8Array): Promise<Ticket> {
  const { res, ticket } = await start(user, {
    file_name: "v2.pdf",
    content_type: "application/pdf",
    size_bytes: bytes.byteLength,
    document_id: documentId,
  });
  expect(res.status).toBe(201);
  await putBytes(ticket as Ticket, bytes);
  return ticket as Ticket;
}

const complete = (user: User, id: string, body: Record<string, unknown> = {}) =>
  postJson(`${UPLOADS}/${id}/complete`, body, user.auth);

describe("direct uploads", () => {
  it("turn a presigned PUT into a new document with the exact bytes", async () => {
    const bytes = samplePdf("direct upload");
    const { res, ticket } = await start(alice, {
      file_name: "Big report.pdf",
      content_type: "application/pdf",
      size_bytes: bytes.byteLength,
      sha256: (await sha256Hex(bytes)).toUpperCase(),
    });
    expect(res.status).toBe(201);
    expect(ticket?.method).toBe("PUT");
    // The digest and "no second write" are signed, and handed to the client to send.
    expect(ticket?.headers).toEqual({
      "Content-Type": "application/pdf",
      "If-None-Match": "*",
      "x-amz-checksum-sha256": btoa(
        String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))),
      ),
    });
    const signed = new URL(ticket?.url as string).searchParams;
    expect(signed.get("X-Amz-SignedHeaders")).toBe(
      "content-length;content-type;host;if-none-match;x-amz-checksum-sha256",
    );
    expect(new URL(ticket?.url as string).pathname).toMatch(new RegExp(`/uploads/${ticket?.upload_id}$`));
    expect(signed.get("X-Amz-Expires")).toBe("900");

    await putBytes(ticket as Ticket, bytes);
    const done = await complete(alice, ticket?.upload_id as string, { title: "Annual", tags: "Finance, 2026" });
    expect(done.status).toBe(201);
    const doc = (await done.json()) as { id: string } & Record<string, unknown>;
    expect(doc).toMatchObject({
      title: "Annual",
      tags: ["2026", "finance"],
      file_name: "Big report.pdf",
      content_type: "application/pdf",
      size_bytes: bytes.byteLength,
      sha256: await sha256Hex(bytes),
      current_version: 1,
      my_role: "OWNER",
    });
    const dl = (await (await SELF.fetch(`${DOCS}/${doc.id}/download`, { headers: alice.auth })).json()) as {
      url: string;
    };
    expect(new Uint8Array(await (await fetch(dl.url)).arrayBuffer())).toEqual(bytes);

    // A second complete is a conflict, and changes nothing.
    const again = await complete(alice, ticket?.upload_id as string);
    expect(again.status).toBe(409);
    const [row] = await sql`select count(*)::int as n from documents where id = ${doc.id}`;
    expect(row?.n).toBe(1);
  });

  it("turn an upload for a document into its next version", async () => {
    const doc = await createDocument(alice.auth);
    const bytes = samplePdf("version two via direct upload");
    const ticket = await stagedVersion(alice, doc.id, bytes);
    const done = await complete(alice, ticket?.upload_id as string, { comment: "from the scanner" });
    expect(done.status).toBe(201);
    expect(await done.json()).toMatchObject({
      version_number: 2,
      comment: "from the scanner",
      sha256: await sha256Hex(bytes),
    });
    const current = (await (await SELF.fetch(`${DOCS}/${doc.id}`, { headers: alice.auth })).json()) as {
      current_version: number;
    };
    expect(current.current_version).toBe(2);
  });

  it("can only be completed by the user who started them", async () => {
    const bytes = samplePdf();
    const { ticket } = await start(alice, {
      file_name: "a.pdf",
      content_type: "application/pdf",
      size_bytes: bytes.byteLength,
    });
    await putBytes(ticket as Ticket, bytes);
    expect((await complete(bob, ticket?.upload_id as string)).status).toBe(404);
    expect((await complete(alice, ticket?.upload_id as string)).status).toBe(201);
  });

  async function expectRejected(ticket: Ticket, status: number, path?: string) {
    const res = await complete(alice, ticket.upload_id);
    expect(res.status).toBe(status);
    // A 422 names the announced field the stored bytes disagree with.
    if (path)
      expect(((await res.json()) as { errors?: { path: string }[] }).errors?.map((e) => e.path)).toEqual([path]);
    // The upload ended (its record stays, for GET /uploads/{id})…
    const [row] = await sql`select status from uploads where id = ${ticket.upload_id}`;
    expect(row?.status).toBe("ABORTED");
    // …and so are the bytes, staged or copied.
    expect(await keysWithBytes(`uploads/${ticket.upload_id}`)).toEqual([]);
    expect(await testStorage().listKeys(`documents/${ticket.upload_id}/`)).toEqual([]);
  }

  it("delete the object and answer 422 when the size differs", async () => {
    const { ticket } = await start(alice, { file_name: "a.pdf", content_type: "application/pdf", size_bytes: 10 });
    // The length is signed, so the store refuses a longer body (as S3 and R2 do)…
    const refused = await fetch((ticket as Ticket).url, {
      method: "PUT",
      headers: (ticket as Ticket).headers,
      body: samplePdf("longer"),
    });
    expect(refused.status).toBe(403);
    // …and complete still checks the size, should a store keep a wrong one.
    await testStorage().put(`uploads/${ticket?.upload_id}`, samplePdf("longer"), { contentType: "application/pdf" });
    await expectRejected(ticket as Ticket, 422, "upload.size_bytes");
  });

  it("delete the object and answer 422 when the SHA-256 differs", async () => {
    const bytes = samplePdf();
    const { ticket } = await start(alice, {
      file_name: "a.pdf",
      content_type: "application/pdf",
      size_bytes: bytes.byteLength,
      sha256: "0".repeat(64),
    });
    // The declared digest is signed into the URL, so the store refuses other bytes (S3: BadDigest)…
    const refused = await fetch((ticket as Ticket).url, {
      method: "PUT",
      headers: (ticket as Ticket).headers,
      body: bytes,
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("BadDigest");
    // …and complete still checks the digest, should a store keep such bytes.
    await testStorage().put(`uploads/${ticket?.upload_id}`, bytes, { contentType: "application/pdf" });
    await expectRejected(ticket as Ticket, 422, "upload.sha256");
  });

  it("delete the object when its bytes are not the announced type (422) or not allowed (415)", async () => {
    const png = samplePng();
    const wrong = await start(alice, {
      file_name: "a.pdf",
      content_type: "application/pdf",
      size_bytes: png.byteLength,
    });
    await putBytes(wrong.ticket as Ticket, png);
    await expectRejected(wrong.ticket as Ticket, 422, "upload.content_type");

    const exe = new Uint8Array([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0]);
    const disguised = await start(alice, {
      file_name: "a.pdf",
      content_type: "application/pdf",
      size_bytes: exe.byteLength,
    });
    await putBytes(disguised.ticket as Ticket, exe);
    await expectRejected(disguised.ticket as Ticket, 415);
  });

  it("answer 422 while nothing was uploaded, keeping the upload open", async () => {
    const { ticket } = await start(alice, { file_name: "a.pdf", content_type: "application/pdf", size_bytes: 5 });
    const res = await complete(alice, ticket?.upload_id as string);
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: "upload_not_received", errors: [{ path: "upload" }] });
    const [row] = await sql`select status from uploads where id = ${ticket?.upload_id}`;
    expect(row?.status).toBe("PENDING");
  });

  it("refuse sizes over the limit (413), types off the allow-list (415) and bad input (422)", async () => {
    expect(
      (await start(alice, { file_name: "a.pdf", content_type: "application/pdf", size_bytes: 6 * 1024 ** 3 })).res
        .status,
    ).toBe(413);
    expect(
      (await start(alice, { file_name: "a.exe", content_type: "application/x-msdownload", size_bytes: 10 })).res.status,
    ).toBe(415);
    for (const body of [
      {},
      { file_name: "a.pdf", content_type: "application/pdf", size_bytes: -1 },
      { file_name: "a.pdf", content_type: "application/pdf", size_bytes: 1.5 },
      { file_name: "a.pdf", content_type: "application/pdf", size_bytes: 10, sha256: "xyz" },
      { file_name: "", content_type: "application/pdf", size_bytes: 10 },
      { file_name: "a.pdf", content_type: "application/pdf", size_bytes: 10, document_id: "nope" },
    ]) {
      expect((await start(alice, body)).res.status, JSON.stringify(body)).toBe(422);
    }
  });

  it("for another user's document are 404, and READ-only is not enough", async () => {
    const doc = await createDocument(alice.auth);
    const res = (
      await start(bob, { file_name: "a.pdf", content_type: "application/pdf", size_bytes: 10, document_id: doc.id })
    ).res;
    expect(res.status).toBe(404);
  });

  it("of a version are 403 at complete for a holder demoted to READ since the start, 404 once removed, and stay pending", async () => {
    const doc = await createDocument(alice.auth);
    const permissions = `${DOCS}/${doc.id}/permissions`;
    expect((await postJson(permissions, { user_id: bob.id, role: "EDIT" }, alice.auth)).status).toBe(201);
    const bytes = samplePdf("a version from a holder demoted meanwhile");
    const ticket = await stagedVersion(bob, doc.id, bytes);
    const setRole = async (role: string) =>
      expect(
        (
          await SELF.fetch(`${permissions}/${bob.id}`, {
            method: "PUT",
            headers: { ...alice.auth, "content-type": "application/json" },
            body: JSON.stringify({ role }),
          })
        ).status,
      ).toBe(200);
    await setRole("READ");
    const demoted = await complete(bob, ticket?.upload_id as string);
    expect(demoted.status).toBe(403);
    expect(((await demoted.json()) as { code: string }).code).toBe("role_too_low");
    const untouched = async () => {
      const [row] = await sql`select status from uploads where id = ${ticket?.upload_id}`;
      expect(row?.status).toBe("PENDING");
      const [current] = await sql`select current_version from documents where id = ${doc.id}`;
      expect(current?.current_version).toBe(1);
      expect(await testStorage().listKeys(`uploads/${ticket?.upload_id}`)).toEqual([`uploads/${ticket?.upload_id}`]);
    };
    await untouched();
    expect((await SELF.fetch(`${permissions}/${bob.id}`, { method: "DELETE", headers: alice.auth })).status).toBe(204);
    const removed = await complete(bob, ticket?.upload_id as string);
    expect(removed.status).toBe(404);
    expect(((await removed.json()) as { code: string }).code).toBe("document_not_found");
    await untouched();
    // EDIT again: the same upload completes.
    expect((await postJson(permissions, { user_id: bob.id, role: "EDIT" }, alice.auth)).status).toBe(201);
    const done = await complete(bob, ticket?.upload_id as string);
    expect(done.status).toBe(201);
    expect(await done.json()).toMatchObject({ version_number: 2, sha256: await sha256Hex(bytes) });
  });

  it("of an empty file complete like any other (an empty object has no first bytes to range over)", async () => {
    const bytes = new Uint8Array();
    const { ticket } = await start(alice, { file_name: "empty.txt", content_type: "text/plain", size_bytes: 0 });
    await putBytes(ticket as Ticket, bytes);
    const done = await complete(alice, ticket?.upload_id as string);
    expect(done.status).toBe(201);
    const doc = (await done.json()) as { id: string; size_bytes: number; sha256: string; file_name: string };
    expect(doc).toMatchObject({ size_bytes: 0, sha256: await sha256Hex(bytes), file_name: "empty.txt" });
    const dl = (await (await SELF.fetch(`${DOCS}/${doc.id}/download`, { headers: alice.auth })).json()) as {
      url: string;
    };
    expect((await (await fetch(dl.url)).arrayBuffer()).byteLength).toBe(0);
    // The same empty file through the API is stored the same way.
    const form = new FormData();
    form.append("file", new Blob([bytes], { type: "text/plain" }), "empty.txt");
    const api = await SELF.fetch(DOCS, { method: "POST", headers: alice.auth, body: form });
    expect(api.status).toBe(201);
    expect(await api.json()).toMatchObject({
      size_bytes: 0,
      content_type: (doc as unknown as { content_type: string }).content_type,
    });
  });

  it("answer 404 for unknown ids and 409 once expired", async () => {
    expect((await complete(alice, crypto.randomUUID())).status).toBe(404);
    const { ticket } = await start(alice, { file_name: "a.pdf", content_type: "application/pdf", size_bytes: 5 });
    await sql`update uploads set expires_at = now() - interval '1 minute' where id = ${ticket?.upload_id}`;
    expect((await complete(alice, ticket?.upload_id as string)).status).toBe(409);
  });
});
