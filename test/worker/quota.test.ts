// The storage quota (STORAGE_QUOTA_BYTES): every version of every document a user owns counts
// against it; over it is 507 quota_exceeded with nothing stored (no row, no object, the counter
// unchanged), for uploads, versions (the owner's quota, whoever uploads) and direct uploads (at
// start and at complete). The Worker is called with the quota as a binding, and each call waits
// for its background work (the deletion of refused bytes) before the test looks at the bucket.
// The concurrent cases race for real only on PostgreSQL (DEV_POSTGRES_URL); PGlite runs one
// query at a time, and they must hold there too.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { createDatabase } from "../../src/db/client";
import { createDocument as createDocumentRow } from "../../src/documents/documents.store";
import { addVersion } from "../../src/documents/versions.store";
import worker from "../../src/index";
import { Failure } from "../../src/lib/failure";
import { AUTH, newUser, postJson } from "../support/auth";
import { createDocument, DOCS, multipart, sampleExe, samplePdf } from "../support/documents";
import { databaseSnapshot, keysWithBytes, storedKeys, testConfig, testSql } from "../support/stack";

const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;
const UPLOADS = "http://api.test/api/v1/uploads";
/** Where the store-level test's versions say their bytes are: nothing is stored there. */
const UNSTORED = "documents/unstored/";

/** One bindings object per quota, so the Worker parses its configuration once per quota. */
const bindingsByQuota = new Map<number, Env>();
function withQuota(quota: number): Env {
  let bindings = bindingsByQuota.get(quota);
  if (!bindings) {
    bindings = { ...env, STORAGE_QUOTA_BYTES: String(quota) } as Env;
    bindingsByQuota.set(quota, bindings);
  }
  return bindings;
}

/** The Worker with `quota`, waiting for the request's background work (discarded bytes). */
async function call(quota: number, url: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(url, init) as Parameters<typeof worker.fetch>[0];
  const res = await worker.fetch(request, withQuota(quota), ctx);
  const body = await res.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return new Response(body, res);
}

const postDocument = (quota: number, user: User, bytes: Uint8Array | string, name = "report.pdf") =>
  call(quota, DOCS, { method: "POST", headers: user.auth, body: multipart({ bytes, name }) });

const postVersion = (quota: number, user: User, id: string, bytes: Uint8Array) =>
  call(quota, `${DOCS}/${id}/upload-version`, { method: "POST", headers: user.auth, body: multipart({ bytes }) });

const json = (body: unknown, auth: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { ...auth, "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

async function used(user: User): Promise<number> {
  const [row] = await sql`select storage_used_bytes from users where id = ${user.id}`;
  return Number(row?.storage_used_bytes);
}

/** What the counter must equal: the sizes of every version of every document the user owns. */
async function versionBytes(user: User): Promise<number> {
  const [row] = await sql`
    select coalesce(sum(v.size_bytes), 0) as bytes
    from document_versions v join documents d on d.id = v.document_id
    where d.owner_id = ${user.id}`;
  return Number(row?.bytes);
}

async function meStorage(quota: number, user: User) {
  const res = await call(quota, `${AUTH}/me`, { headers: user.auth });
  expect(res.status).toBe(200);
  return ((await res.json()) as { storage: { used_bytes: number; quota_bytes: number } }).storage;
}

/** Everything a refused upload must leave as it was. */
async function state(...users: User[]) {
  return {
    rows: await databaseSnapshot(),
    documentKeys: await storedKeys("documents/"),
    uploadKeys: await keysWithBytes("uploads/"),
    counters: await Promise.all(users.map(used)),
  };
}

async function expectQuotaExceeded(res: Response) {
  expect(res.status).toBe(507);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const problem = (await res.json()) as { code: string; title: string; detail: string };
  expect(problem).toMatchObject({ code: "quota_exceeded", title: "Insufficient Storage", status: 507 });
  return problem;
}

const pdf = (label: string) => samplePdf(label);
const size = (bytes: Uint8Array) => bytes.byteLength;

async function share(doc: string, owner: User, who: User, role: string) {
  const res = await postJson(`${DOCS}/${doc}/permissions`, { user_id: who.id, role }, owner.auth);
  expect(res.status).toBe(201);
}

describe("the storage counter", () => {
  it("is what /auth/me reports: every version of every owned document, a shared editor's included", async () => {
    const owner = await newUser("quota-me");
    const editor = await newUser("quota-me-editor");
    expect(await meStorage(1_000_000, owner)).toEqual({ used_bytes: 0, quota_bytes: 1_000_000 });

    const first = pdf("first");
    const res = await postDocument(1_000_000, owner, first);
    expect(res.status).toBe(201);
    const doc = (await res.json()) as { id: string };
    const second = pdf("second, a little longer");
    expect((await postVersion(1_000_000, owner, doc.id, second)).status).toBe(201);
    await share(doc.id, owner, editor, "EDIT");
    // A version uploaded by an editor counts against the document's owner.
    const third = pdf("third, by the editor");
    expect((await postVersion(1_000_000, editor, doc.id, third)).status).toBe(201);

    const expected = size(first) + size(second) + size(third);
    expect(await versionBytes(owner)).toBe(expected);
    expect(await meStorage(1_000_000, owner)).toEqual({ used_bytes: expected, quota_bytes: 1_000_000 });
    expect((await meStorage(1_000_000, editor)).used_bytes).toBe(0);

    // A deleted document keeps counting until it is purged.
    const deleted = await call(1_000_000, `${DOCS}/${doc.id}`, { method: "DELETE", headers: owner.auth });
    expect(deleted.status).toBe(204);
    expect((await meStorage(1_000_000, owner)).used_bytes).toBe(expected);

    // The default quota (the tests' bindings set none), and only /me carries `storage`.
    const me = await SELF.fetch(`${AUTH}/me`, { headers: owner.auth });
    expect(((await me.json()) as { storage: unknown }).storage).toEqual({
      used_bytes: expected,
      quota_bytes: 10 * 1024 ** 3,
    });
    const registered = (await (
      await postJson(`${AUTH}/register`, {
        email: `q-${crypto.randomUUID()}@example.com`,
        password: "a long enough password",
      })
    ).json()) as Record<string, unknown>;
    expect(registered).not.toHaveProperty("storage");
  });

  it("counts nothing for an upload that failed (a refused type)", async () => {
    const user = await newUser("quota-failed");
    await createDocument(user.auth);
    const before = await used(user);
    const res = await postDocument(1_000_000, user, sampleExe(), "run.pdf");
    expect(res.status).toBe(415);
    expect(await used(user)).toBe(before);
    expect(await versionBytes(user)).toBe(before);
  });
});

describe("over the quota", () => {
  it("POST /documents is 507 and stores nothing", async () => {
    const user = await newUser("quota-post");
    const first = pdf("fits");
    expect((await postDocument(size(first) + 10, user, first)).status).toBe(201);
    const before = await state(user);
    const problem = await expectQuotaExceeded(await postDocument(size(first) + 10, user, pdf("does not fit")));
    expect(problem.detail).toContain(`${size(first) + 10} bytes`);
    expect(await state(user)).toEqual(before);
  });

  it("upload-version by an EDIT user is 507 on the owner's quota, storing nothing", async () => {
    const owner = await newUser("quota-owner");
    const editor = await newUser("quota-editor");
    const first = pdf("v1");
    const quota = size(first) + 10;
    const res = await postDocument(quota, owner, first);
    expect(res.status).toBe(201);
    const doc = (await res.json()) as { id: string };
    await share(doc.id, owner, editor, "EDIT");
    const before = await state(owner, editor);
    await expectQuotaExceeded(await postVersion(quota, editor, doc.id, pdf("v2")));
    await expectQuotaExceeded(await postVersion(quota, owner, doc.id, pdf("v2")));
    expect(await state(owner, editor)).toEqual(before);
    // The editor's own quota has room: the same file fits as a document of theirs.
    expect((await postDocument(quota, editor, pdf("v2"))).status).toBe(201);
  });

  it("a direct upload is 507 at start for its declared size, for a document and for a version", async () => {
    const owner = await newUser("quota-start");
    const editor = await newUser("quota-start-editor");
    const doc = await createDocument(owner.auth);
    await share(doc.id, owner, editor, "EDIT");
    const quota = (await used(owner)) + 100;
    const before = await state(owner, editor);
    const body = { file_name: "big.pdf", content_type: "application/pdf", size_bytes: 101 };
    await expectQuotaExceeded(await call(quota, UPLOADS, json(body, owner.auth)));
    await expectQuotaExceeded(await call(quota, UPLOADS, json({ ...body, document_id: doc.id }, editor.auth)));
    expect(await state(owner, editor)).toEqual(before);
    // Exactly the room left is accepted.
    expect((await call(quota, UPLOADS, json({ ...body, size_bytes: 100 }, owner.auth))).status).toBe(201);
  });

  it("a direct upload is 507 at complete when the room went meanwhile, deleting its bytes and ending it", async () => {
    const user = await newUser("quota-complete");
    const bytes = pdf("direct");
    const quota = size(bytes) + 50;
    const started = await call(
      quota,
      UPLOADS,
      json({ file_name: "a.pdf", content_type: "application/pdf", size_bytes: size(bytes) }, user.auth),
    );
    expect(started.status).toBe(201);
    const ticket = (await started.json()) as { upload_id: string; url: string; headers: Record<string, string> };
    expect((await fetch(ticket.url, { method: "PUT", headers: ticket.headers, body: bytes })).status).toBe(200);
    // Another upload takes the room before this one completes.
    expect((await postDocument(quota, user, pdf("taking the room"))).status).toBe(201);
    const before = await state(user);

    await expectQuotaExceeded(await call(quota, `${UPLOADS}/${ticket.upload_id}/complete`, json({}, user.auth)));
    const after = await state(user);
    expect(after.counters).toEqual(before.counters);
    expect(after.documentKeys).toEqual(before.documentKeys);
    // The upload ended (its record stays, aborted, for GET /uploads/{id}).
    expect(after.rows).toEqual(before.rows);
    expect((await sql`select status from uploads where id = ${ticket.upload_id}`)[0]?.status).toBe("ABORTED");
    expect(after.uploadKeys).toEqual(before.uploadKeys.filter((k) => k !== `uploads/${ticket.upload_id}`));
    expect(await keysWithBytes(`uploads/${ticket.upload_id}`)).toEqual([]);
  });

  it("is refused by the recording statement itself (the exact check), writing nothing", async () => {
    // Straight to the stores, past the early checks: what decides when uploads race.
    const user = await newUser("quota-statement");
    const config = testConfig();
    const db = createDatabase(config);
    const actor = { userId: user.id, ipAddress: null, userAgent: null };
    const doc = await createDocument(user.auth);
    const current = await used(user);
    const file = (n: number) => ({
      versionId: crypto.randomUUID(),
      storageKey: `${UNSTORED}${crypto.randomUUID()}`,
      fileName: "a.pdf",
      contentType: "application/pdf",
      sizeBytes: n,
      sha256: "0".repeat(64),
    });
    const before = await databaseSnapshot();
    const refusals = [
      () =>
        createDocumentRow(db, {
          id: crypto.randomUUID(),
          title: "t",
          description: null,
          tags: ["a"],
          file: file(11),
          actor,
          quotaBytes: current + 10,
        }),
      () => addVersion(db, { id: doc.id, file: file(11), comment: null, actor, quotaBytes: current + 10 }),
    ];
    for (const refusal of refusals) {
      const error = await refusal().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Failure);
      expect((error as Failure).code).toBe("quota_exceeded");
      expect((error as Failure).detail).toContain(`(${current} bytes used)`);
    }
    expect(await databaseSnapshot()).toEqual(before);
    expect(await used(user)).toBe(current);
    // Exactly the room left fits.
    await addVersion(db, { id: doc.id, file: file(10), comment: null, actor, quotaBytes: current + 10 });
    expect(await used(user)).toBe(current + 10);
  });
});

describe("STORAGE_QUOTA_BYTES", () => {
  it("0 means unlimited; a quota below the usage refuses new bytes and removes nothing", async () => {
    const user = await newUser("quota-unlimited");
    await sql`update users set storage_used_bytes = 1000000000000000 where id = ${user.id}`;
    expect((await postDocument(0, user, pdf("unlimited"))).status).toBe(201);
    expect((await meStorage(0, user)).quota_bytes).toBe(0);
    await expectQuotaExceeded(await postDocument(10 * 1024 ** 3, user, pdf("limited")));
    expect(await used(user)).toBe(1000000000000000 + size(pdf("unlimited")));
  });

  it("out of range is refused at the boundary, naming the variable", () => {
    for (const value of ["-1", "1.5", "ten", "9007199254740992"]) {
      const loaded = loadConfig({ ...env, STORAGE_QUOTA_BYTES: value });
      expect(loaded.ok, value).toBe(false);
      if (!loaded.ok) expect(loaded.problems.join(" ")).toContain("STORAGE_QUOTA_BYTES");
    }
    const ok = loadConfig({ ...env, STORAGE_QUOTA_BYTES: "0" });
    expect(ok.ok && ok.config.STORAGE_QUOTA_BYTES).toBe(0);
  });
});

describe("under concurrent uploads", () => {
  // Ten files of one size where four fit: exactly four succeed, whatever the interleaving.
  const files = Array.from({ length: 10 }, (_, i) => pdf(`concurrent ${i}`));
  const each = size(files[0] as Uint8Array);
  const quotaFor = (used: number) => used + 4 * each + Math.floor(each / 2);

  async function expectExactlyFourFit(responses: Response[], owner: User, usedBefore: number) {
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 201, 201, 507, 507, 507, 507, 507, 507]);
    expect(await used(owner)).toBe(usedBefore + 4 * each);
    expect(await versionBytes(owner)).toBe(usedBefore + 4 * each);
    // Every stored object is a version's, and every version's object is there.
    const rows = await sql`select storage_key from document_versions where storage_key not like ${`${UNSTORED}%`}`;
    expect(await storedKeys("documents/")).toEqual(rows.map((r) => r.storage_key as string).sort());
  }

  it("of new documents: exactly the ones that fit succeed", async () => {
    expect(files.every((f) => size(f) === each)).toBe(true);
    const user = await newUser("quota-race");
    const quota = quotaFor(0);
    const responses = await Promise.all(files.map((f) => postDocument(quota, user, f)));
    await expectExactlyFourFit(responses, user, 0);
  });

  it("of versions by the owner and an editor: exactly the ones that fit succeed", async () => {
    const owner = await newUser("quota-race-owner");
    const editor = await newUser("quota-race-editor");
    const doc = await createDocument(owner.auth);
    await share(doc.id, owner, editor, "EDIT");
    const usedBefore = await used(owner);
    const quota = quotaFor(usedBefore);
    const responses = await Promise.all(
      files.map((f, i) => postVersion(quota, i % 2 === 0 ? owner : editor, doc.id, f)),
    );
    await expectExactlyFourFit(responses, owner, usedBefore);
    const [row] = await sql`select current_version from documents where id = ${doc.id}`;
    expect(row?.current_version).toBe(5);
  });
});
