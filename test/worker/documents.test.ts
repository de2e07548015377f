// Documents end to end: exact bytes through presigned URLs, versions, ETag/If-Match, soft
// delete, validation, and other users' documents staying invisible.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { newUser } from "../support/auth";
import { randomBytes, sha256Hex } from "../support/bytes";
import {
  createDocument,
  DOCS,
  download,
  indexingFinished,
  samplePdf,
  samplePng,
  uploadDocument,
  uploadVersion,
} from "../support/documents";
import { databaseSnapshot, storedKeys, testSql, testStorage } from "../support/stack";

const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;
let alice: User;
let bob: User;

beforeAll(async () => {
  alice = await newUser("alice");
  bob = await newUser("bob");
});

async function fetchDownload(auth: Record<string, string>, id: string, version?: number) {
  const res = await download(auth, id, version);
  expect(res.status).toBe(200);
  const info = (await res.json()) as Record<string, unknown> & { url: string };
  const file = await fetch(info.url);
  expect(file.status).toBe(200);
  return { info, file, bytes: new Uint8Array(await file.arrayBuffer()) };
}

const put = (auth: Record<string, string>, id: string, body: unknown, headers: Record<string, string> = {}) =>
  SELF.fetch(`${DOCS}/${id}`, {
    method: "PUT",
    headers: { ...auth, "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

describe("upload and download", () => {
  it("round-trips binary bytes exactly, with the metadata of the contract", async () => {
    const bytes = randomBytes(200_000, samplePng());
    const res = await uploadDocument(alice.auth, {
      bytes,
      name: "photo.png",
      type: "image/png",
      fields: { title: "Holiday", description: "At the sea", tags: ["Beach, Summer", "summer", "  sea "] },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("etag")).toBe('"r1"');
    const doc = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).toEqual(
      [
        "content_status",
        "content_type",
        "created_at",
        "current_version",
        "description",
        "file_name",
        "id",
        "my_role",
        "owner_id",
        "sha256",
        "size_bytes",
        "tags",
        "title",
        "updated_at",
      ].sort(),
    );
    expect(doc).toMatchObject({
      title: "Holiday",
      description: "At the sea",
      tags: ["beach", "sea", "summer"],
      owner_id: alice.id,
      current_version: 1,
      file_name: "photo.png",
      content_type: "image/png",
      size_bytes: bytes.byteLength,
      sha256: await sha256Hex(bytes),
      my_role: "OWNER",
    });

    const { info, file, bytes: downloaded } = await fetchDownload(alice.auth, doc.id as string);
    expect(downloaded).toEqual(bytes);
    expect(info).toMatchObject({
      version_number: 1,
      file_name: "photo.png",
      content_type: "image/png",
      size_bytes: bytes.byteLength,
    });
    expect(file.headers.get("content-disposition")).toBe(
      `attachment; filename="photo.png"; filename*=UTF-8''photo.png`,
    );
    const expires = Date.parse(info.expires_at as string) - Date.now();
    expect(expires).toBeGreaterThan(890_000);
    expect(expires).toBeLessThanOrEqual(900_000);
    expect(new URL(info.url).searchParams.get("X-Amz-Expires")).toBe("900");
  });

  it("round-trips a multi-MiB file and a one-byte text file", async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17, new TextEncoder().encode("%PDF-1.7\n"));
    const bigDoc = await createDocument(alice.auth, { bytes: big, name: "big.pdf" });
    expect(bigDoc.size_bytes).toBe(big.byteLength);
    expect((await fetchDownload(alice.auth, bigDoc.id)).bytes).toEqual(big);

    const tiny = await createDocument(alice.auth, { bytes: "x", name: "note.txt", type: "text/plain" });
    expect(tiny).toMatchObject({ size_bytes: 1, content_type: "text/plain; charset=utf-8", title: "note.txt" });
    expect(new TextDecoder().decode((await fetchDownload(alice.auth, tiny.id)).bytes)).toBe("x");
  });

  it("keeps a Unicode file name for display and the download's Content-Disposition", async () => {
    const name = "Résumé – 履歴書 ✓.pdf";
    const doc = await createDocument(alice.auth, { name });
    expect(doc.file_name).toBe(name);
    const { file } = await fetchDownload(alice.auth, doc.id);
    const disposition = file.headers.get("content-disposition") as string;
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("UTF-8''")[1] as string)).toBe(name);
  });

  // "title? (defaults to the file name)": a name of 255 characters, each two UTF-16 units, is
  // the whole title (it was cut at 500 units, losing ".txt").
  it("takes the whole file name as the default title, however many UTF-16 units it has", async () => {
    const name = `${"\u{1F600}".repeat(251)}.txt`;
    const doc = await createDocument(alice.auth, { name, bytes: "plain text", type: "text/plain" });
    expect(doc.file_name).toBe(name);
    expect(doc.title).toBe(name);
  });

  it("cleans hostile file names and never uses them in storage keys", async () => {
    const cases: [string, string][] = [
      ["../../etc/passwd.pdf", "passwd.pdf"],
      ["C:\\Users\\x\\evil.pdf", "evil.pdf"],
      // A name whose extension is not the detected type's gets that type's extension appended.
      ["invoice\u202Efdp.exe", "invoicefdp.exe.pdf"],
      ["a\u0085b\u200fc.pdf", "abc.pdf"],
      ["..", "file.pdf"],
      [`${"n".repeat(400)}.pdf`, `${"n".repeat(251)}.pdf`],
    ];
    for (const [raw, cleaned] of cases) {
      const doc = await createDocument(alice.auth, { name: raw });
      expect(doc.file_name, raw).toBe(cleaned);
      const [row] = await sql`select storage_key from document_versions where document_id = ${doc.id}`;
      expect(row?.storage_key).toMatch(/^documents\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/);
      expect(row?.storage_key).toContain(doc.id);
    }
  });

  it("answers 400 for a NUL or other C0 control in the part's file name, which the multipart parser refuses", async () => {
    // Raw control characters are not allowed in a header field value (RFC 9110 §5.5).
    for (const name of ["a\u0000b.pdf", "a\u0007b\u001bc.pdf"]) {
      const res = await uploadDocument(alice.auth, { bytes: samplePdf(), name });
      expect(res.status).toBe(400);
    }
  });

  it("detects text types from the bytes, refined by the name", async () => {
    const csv = await createDocument(alice.auth, { bytes: "a,b\n1,2\n", name: "data.csv" });
    expect(csv.content_type).toBe("text/csv; charset=utf-8");
    const json = await createDocument(alice.auth, { bytes: '{"a":1}', name: "x.json", type: "application/json" });
    expect(json.content_type).toBe("application/json");
    const md = await createDocument(alice.auth, { bytes: "# Title\n\nÜnïcödé", name: "readme.md" });
    expect(md.content_type).toBe("text/markdown; charset=utf-8");
    // A PDF named .txt is a PDF: the bytes decide.
    const pdf = await createDocument(alice.auth, { bytes: samplePdf(), name: "notes.txt", type: "text/plain" });
    expect(pdf.content_type).toBe("application/pdf");
  });
});

describe("refused uploads change nothing", () => {
  const counts = async () => ({ ...(await databaseSnapshot()), objects: await storedKeys() });

  const cases: [string, Parameters<typeof uploadDocument>[1], number][] = [
    [
      "a Windows executable named .pdf",
      { bytes: new Uint8Array([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0]), name: "invoice.pdf", type: "application/pdf" },
      415,
    ],
    ["an ELF binary", { bytes: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), name: "report.docx" }, 415],
    ["a shell script", { bytes: "#!/bin/sh\nrm -rf /\n", name: "notes.txt", type: "text/plain" }, 415],
    ["unrecognised binary", { bytes: new Uint8Array([0, 1, 2, 3, 0, 255, 254]), name: "data.bin" }, 415],
    ["an empty title", { bytes: samplePdf(), fields: { title: "   " } }, 422],
    ["a title over 500 characters", { bytes: samplePdf(), fields: { title: "t".repeat(501) } }, 422],
    // Characters are code points: 501 emoji (1,002 UTF-16 units) are over, 500 are not (below).
    ["a title of 501 emoji", { bytes: samplePdf(), fields: { title: "\u{1F4C4}".repeat(501) } }, 422],
    ["a description over 10,000 characters", { bytes: samplePdf(), fields: { description: "d".repeat(10_001) } }, 422],
    ["a description of 60 KiB", { bytes: samplePdf(), fields: { description: "d".repeat(60 * 1024) } }, 422],
    ["21 tags", { bytes: samplePdf(), fields: { tags: Array.from({ length: 21 }, (_, i) => `t${i}`).join(",") } }, 422],
    ["a tag over 50 characters", { bytes: samplePdf(), fields: { tags: "x".repeat(51) } }, 422],
  ];

  it.each(cases)("%s", async (_, upload, status) => {
    const before = await counts();
    const res = await uploadDocument(alice.auth, upload);
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    if (status === 422) {
      // Each failing field once (a 60 KiB description was named twice).
      const { errors } = (await res.json()) as { errors: { path: string; message: string }[] };
      expect(errors.length).toBeGreaterThan(0);
      expect(new Set(errors.map((e) => `${e.path}: ${e.message}`)).size).toBe(errors.length);
    }
    expect(await counts()).toEqual(before);
  });

  it("counts the limits in characters (code points), not UTF-16 units", async () => {
    const title = "\u{1F4C4}".repeat(500);
    const description = "\u{20000}".repeat(10_000);
    const doc = await createDocument(alice.auth, { fields: { title, description } });
    expect(doc).toMatchObject({ title, description });
    const version = await uploadVersion(alice.auth, doc.id, {
      bytes: samplePdf("emoji"),
      fields: { comment: "\u{1F600}".repeat(1000) },
    });
    expect(version.status).toBe(201);
    const over = await uploadVersion(alice.auth, doc.id, {
      bytes: samplePdf("emoji 2"),
      fields: { comment: "\u{1F600}".repeat(1001) },
    });
    expect(over.status).toBe(422);
    expect(((await over.json()) as { errors: { path: string }[] }).errors[0]?.path).toBe("body.comment");
  });

  it("answers 422 without a file part", async () => {
    const form = new FormData();
    form.append("title", "no file");
    const res = await SELF.fetch(DOCS, { method: "POST", headers: alice.auth, body: form });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { errors: { path: string }[] }).errors[0]?.path).toBe("body.file");
  });

  it("answers 415 for a JSON body and 400 for a broken multipart body", async () => {
    const json = await SELF.fetch(DOCS, {
      method: "POST",
      headers: { ...alice.auth, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(json.status).toBe(415);
    const broken = await SELF.fetch(DOCS, {
      method: "POST",
      headers: { ...alice.auth, "Content-Type": "multipart/form-data; boundary=xyz" },
      body: '--wrong\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
    });
    expect(broken.status).toBe(400);
  });

  it("answers 401 without a token", async () => {
    const res = await SELF.fetch(DOCS, { method: "POST", body: new FormData() });
    expect(res.status).toBe(401);
  });
});

describe("versions", () => {
  it("number upwards, move current_version, and every version stays downloadable", async () => {
    const v1 = samplePdf("one");
    const doc = await createDocument(alice.auth, { bytes: v1, name: "plan.pdf" });
    const v2 = samplePdf("two, longer");
    const res = await uploadVersion(alice.auth, doc.id, {
      bytes: v2,
      name: "plan-v2.pdf",
      fields: { comment: "second draft" },
    });
    expect(res.status).toBe(201);
    const version = (await res.json()) as Record<string, unknown>;
    expect(version).toMatchObject({
      version_number: 2,
      file_name: "plan-v2.pdf",
      content_type: "application/pdf",
      size_bytes: v2.byteLength,
      sha256: await sha256Hex(v2),
      comment: "second draft",
      created_by: alice.id,
    });
    const current = (await (await SELF.fetch(`${DOCS}/${doc.id}`, { headers: alice.auth })).json()) as Record<
      string,
      unknown
    >;
    expect(current).toMatchObject({ current_version: 2, file_name: "plan-v2.pdf", sha256: await sha256Hex(v2) });

    expect((await fetchDownload(alice.auth, doc.id)).bytes).toEqual(v2);
    expect((await fetchDownload(alice.auth, doc.id, 1)).bytes).toEqual(v1);
    expect((await fetchDownload(alice.auth, doc.id, 2)).bytes).toEqual(v2);
    expect((await download(alice.auth, doc.id, 3)).status).toBe(404);
    expect((await SELF.fetch(`${DOCS}/${doc.id}/download?version=0`, { headers: alice.auth })).status).toBe(422);
    expect((await SELF.fetch(`${DOCS}/${doc.id}/download?version=two`, { headers: alice.auth })).status).toBe(422);

    const list = (await (await SELF.fetch(`${DOCS}/${doc.id}/versions`, { headers: alice.auth })).json()) as {
      items: { version_number: number; comment: string | null }[];
    };
    expect(list.items.map((v) => v.version_number)).toEqual([2, 1]);
    expect(list.items[1]?.comment).toBeNull();
  });

  it("stay contiguous and unique under 20 concurrent uploads", async () => {
    const doc = await createDocument(alice.auth);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => uploadVersion(alice.auth, doc.id, { bytes: samplePdf(`concurrent ${i}`) })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const numbers = (
      await Promise.all(results.map(async (r) => ((await r.json()) as { version_number: number }).version_number))
    ).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    const [row] = await sql`select current_version from documents where id = ${doc.id}`;
    expect(row?.current_version).toBe(21);
  });

  it("refuse a disguised executable, a long comment and a missing file, changing nothing", async () => {
    const doc = await createDocument(alice.auth);
    const exe = await uploadVersion(alice.auth, doc.id, { bytes: new Uint8Array([0x4d, 0x5a, 1, 2]), name: "v2.pdf" });
    expect(exe.status).toBe(415);
    const long = await uploadVersion(alice.auth, doc.id, { bytes: samplePdf(), fields: { comment: "c".repeat(1001) } });
    expect(long.status).toBe(422);
    const form = new FormData();
    form.append("comment", "no file");
    const none = await SELF.fetch(`${DOCS}/${doc.id}/upload-version`, {
      method: "POST",
      headers: alice.auth,
      body: form,
    });
    expect(none.status).toBe(422);
    const [row] =
      await sql`select current_version, (select count(*)::int from document_versions where document_id = ${doc.id}) as n from documents where id = ${doc.id}`;
    expect(row).toEqual({ current_version: 1, n: 1 });
  });
});

describe("metadata updates", () => {
  it("change only the fields sent and return a new ETag", async () => {
    const doc = await createDocument(alice.auth, { fields: { title: "Old", description: "keep me", tags: "a,b" } });
    const res = await put(alice.auth, doc.id, { title: "New title", tags: ["Zeta", " alpha ", "zeta"], unknown: 1 });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('"r2"');
    expect(await res.json()).toMatchObject({ title: "New title", description: "keep me", tags: ["alpha", "zeta"] });
    const cleared = await put(alice.auth, doc.id, { description: null, tags: [] });
    expect(await cleared.json()).toMatchObject({ title: "New title", description: null, tags: [] });
  });

  it("refuse a tags array with an empty, blank or comma-holding element (each element is one tag), changing nothing", async () => {
    const doc = await createDocument(alice.auth, { fields: { tags: "keep" } });
    for (const [tags, path, message] of [
      [["ok", ""], "body.tags.1", "at least 1 character"],
      [["   "], "body.tags.0", "at least 1 character"],
      [["a,b"], "body.tags.0", "comma"],
    ] as const) {
      const res = await put(alice.auth, doc.id, { tags });
      expect(res.status, JSON.stringify(tags)).toBe(422);
      const problem = (await res.json()) as { code: string; errors: { path: string; message: string }[] };
      expect(problem.code).toBe("validation_failed");
      expect(problem.errors).toEqual([{ path, message: expect.stringContaining(message) }]);
    }
    const now = await SELF.fetch(`${DOCS}/${doc.id}`, { headers: alice.auth });
    expect(now.headers.get("etag")).toBe('"r1"');
    expect(await now.json()).toMatchObject({ tags: ["keep"] });
    // One comma-separated string still skips empty pieces, as a form's field does.
    expect(await (await put(alice.auth, doc.id, { tags: "a,,b," })).json()).toMatchObject({ tags: ["a", "b"] });
  });

  it("a body that changes nothing keeps the revision and records nothing; a real change records only what changed", async () => {
    const doc = await createDocument(alice.auth, { fields: { title: "Same", description: "same", tags: "x,y" } });
    const activity = async () =>
      (await sql`select action, details from activity_logs where document_id = ${doc.id} order by seq`).map(
        (r) => r.action,
      );
    const before = await activity();
    for (const body of [
      { title: "Same" },
      { description: "same" },
      { tags: ["Y", "x"] },
      { tags: "y, x" },
      { title: "Same", description: "same", tags: ["x", "y"] },
    ]) {
      const res = await put(alice.auth, doc.id, body, { "If-Match": '"r1"' });
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(res.headers.get("etag")).toBe('"r1"');
      expect(await res.json()).toMatchObject({
        title: "Same",
        description: "same",
        tags: ["x", "y"],
        updated_at: doc.updated_at,
      });
    }
    expect(await activity()).toEqual(before);
    // Still checked like a write: a stale If-Match is 412.
    expect((await put(alice.auth, doc.id, { title: "Same" }, { "If-Match": '"r7"' })).status).toBe(412);

    const changed = await put(alice.auth, doc.id, { title: "Same", description: "other", tags: ["x", "y"] });
    expect(changed.headers.get("etag")).toBe('"r2"');
    const [row] =
      await sql`select details from activity_logs where document_id = ${doc.id} and action = 'document.updated'`;
    expect(row?.details).toEqual({ description: { changed: true } });
  });

  it("honour If-Match: the current ETag passes, a stale one is 412 and changes nothing", async () => {
    const doc = await createDocument(alice.auth, { fields: { title: "Original" } });
    const get = await SELF.fetch(`${DOCS}/${doc.id}`, { headers: alice.auth });
    const etag = get.headers.get("etag") as string;
    expect(etag).toBe('"r1"');
    expect((await put(alice.auth, doc.id, { title: "First edit" }, { "If-Match": etag })).status).toBe(200);
    const stale = await put(alice.auth, doc.id, { title: "Lost update" }, { "If-Match": etag });
    expect(stale.status).toBe(412);
    expect(stale.headers.get("content-type")).toBe("application/problem+json");
    for (const header of ['W/"r2"', "garbage", '"r999"']) {
      expect((await put(alice.auth, doc.id, { title: "Nope" }, { "If-Match": header })).status, header).toBe(412);
    }
    expect((await put(alice.auth, doc.id, { title: "Any" }, { "If-Match": "*" })).status).toBe(200);
    expect((await put(alice.auth, doc.id, { title: "Listed" }, { "If-Match": '"r1", "r3"' })).status).toBe(200);
    // A list passes when any of its tags is current, whatever the others are (RFC 9110 §13.1.1).
    expect((await put(alice.auth, doc.id, { description: "listed" }, { "If-Match": '"x", "r4"' })).status).toBe(200);
    const after = (await (await SELF.fetch(`${DOCS}/${doc.id}`, { headers: alice.auth })).json()) as { title: string };
    expect(after.title).toBe("Listed");
  });

  it("with nothing to change (an empty body, only ignored fields) write nothing, still checking role and If-Match", async () => {
    const doc = await createDocument(alice.auth, { fields: { title: "Untouched" } });
    const before = await sql`select revision, updated_at from documents where id = ${doc.id}`;
    const activityBefore = await sql`select count(*)::int as n from activity_logs where document_id = ${doc.id}`;
    for (const body of [{}, { first_name: "x", owner_id: bob.id }]) {
      const res = await put(alice.auth, doc.id, body, { "If-Match": '"r1"' });
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(res.headers.get("etag")).toBe('"r1"');
      expect(await res.json()).toMatchObject({ id: doc.id, title: "Untouched", owner_id: alice.id });
    }
    expect(await sql`select revision, updated_at from documents where id = ${doc.id}`).toEqual(before);
    expect(await sql`select count(*)::int as n from activity_logs where document_id = ${doc.id}`).toEqual(
      activityBefore,
    );
    // The checks a write would make still hold.
    expect((await put(alice.auth, doc.id, {}, { "If-Match": '"r7"' })).status).toBe(412);
    expect((await put(bob.auth, doc.id, {})).status).toBe(404);
    const reader = await newUser("put-reader");
    await sql`insert into document_permissions (document_id, user_id, role, granted_by) values (${doc.id}, ${reader.id}, 'READ', ${alice.id})`;
    const low = await put(reader.auth, doc.id, { first_name: "x" });
    expect(low.status).toBe(403);
    expect(((await low.json()) as { code: string }).code).toBe("role_too_low");
  });

  it("validate every field with 422 and change nothing", async () => {
    const doc = await createDocument(alice.auth, { fields: { title: "Stable" } });
    const bad: unknown[] = [
      { title: "" },
      { title: "t".repeat(501) },
      { title: 42 },
      { description: "d".repeat(10_001) },
      { tags: Array.from({ length: 21 }, (_, i) => `t${i}`) },
      { tags: ["x".repeat(51)] },
      { tags: [1, 2] },
    ];
    for (const body of bad) {
      const res = await put(alice.auth, doc.id, body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(422);
      expect(((await res.json()) as { errors: unknown[] }).errors.length).toBeGreaterThan(0);
    }
    const malformed = await SELF.fetch(`${DOCS}/${doc.id}`, {
      method: "PUT",
      headers: { ...alice.auth, "Content-Type": "application/json" },
      body: "{oops",
    });
    expect(malformed.status).toBe(400);
    const [row] = await sql`select title, revision from documents where id = ${doc.id}`;
    expect(row).toEqual({ title: "Stable", revision: 1 });
  });

  // "1–50 characters" counts what the client sends. JavaScript lower-cases "İ" (U+0130) to two
  // code points (i + U+0307): 26 of them were refused as 52 characters. Lower-cased one for one
  // (Unicode's simple mapping, as PostgreSQL's lower()), it is "i".
  it("count a tag's characters as sent: 50 × İ is a tag of 50 i, 51 is 422", async () => {
    const dotted = "\u0130";
    const doc = await createDocument(alice.auth, { fields: { tags: dotted.repeat(26) } });
    expect(doc.tags).toEqual(["i".repeat(26)]);
    const res = await put(alice.auth, doc.id, { tags: [dotted.repeat(50), `${dotted}stanbul`] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { tags: string[] }).tags).toEqual(["i".repeat(50), "istanbul"]);
    const over = await put(alice.auth, doc.id, { tags: [dotted.repeat(51)] });
    expect(over.status).toBe(422);
    // A filter is lower-cased the same way.
    const found = await SELF.fetch(`${DOCS}?tags=${encodeURIComponent(`${dotted}STANBUL`)}`, { headers: alice.auth });
    expect(((await found.json()) as { items: { id: string }[] }).items.map((d) => d.id)).toEqual([doc.id]);
  });
});

describe("soft delete", () => {
  it("hides the document everywhere but keeps rows, versions and bytes", async () => {
    const doc = await createDocument(alice.auth, { fields: { title: "To delete" } });
    const del = await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: alice.auth });
    expect(del.status).toBe(204);
    for (const [method, path] of [
      ["GET", ""],
      ["GET", "/download"],
      ["GET", "/versions"],
      ["DELETE", ""],
    ] as const) {
      expect(
        (await SELF.fetch(`${DOCS}/${doc.id}${path}`, { method, headers: alice.auth })).status,
        `${method} ${path}`,
      ).toBe(404);
    }
    expect((await put(alice.auth, doc.id, { title: "x" })).status).toBe(404);
    expect((await uploadVersion(alice.auth, doc.id, { bytes: samplePdf() })).status).toBe(404);
    const list = (await (await SELF.fetch(`${DOCS}?limit=100`, { headers: alice.auth })).json()) as {
      items: { id: string }[];
    };
    expect(list.items.map((d) => d.id)).not.toContain(doc.id);

    const [row] = await sql`select deleted_at is not null as deleted, deleted_by from documents where id = ${doc.id}`;
    expect(row).toEqual({ deleted: true, deleted_by: alice.id });
    const [version] = await sql`select storage_key from document_versions where document_id = ${doc.id}`;
    expect(await testStorage().head(version?.storage_key as string)).not.toBeNull();
  });
});

describe("another user's documents", () => {
  it("answer 404 on every endpoint, never 403", async () => {
    const doc = await createDocument(alice.auth);
    const calls: [string, string, BodyInit | undefined][] = [
      ["GET", "", undefined],
      ["PUT", "", JSON.stringify({ title: "mine now" })],
      ["DELETE", "", undefined],
      ["GET", "/download", undefined],
      ["GET", "/versions", undefined],
    ];
    for (const [method, path, body] of calls) {
      const res = await SELF.fetch(`${DOCS}/${doc.id}${path}`, {
        method,
        headers: { ...bob.auth, "Content-Type": "application/json" },
        body,
      });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await uploadVersion(bob.auth, doc.id, { bytes: samplePdf() })).status).toBe(404);
    const list = (await (await SELF.fetch(`${DOCS}?limit=100`, { headers: bob.auth })).json()) as {
      items: { id: string }[];
    };
    expect(list.items.map((d) => d.id)).not.toContain(doc.id);
  });

  it("answers 422 for an id that is not a UUID and 404 for an unknown one", async () => {
    expect((await SELF.fetch(`${DOCS}/not-a-uuid`, { headers: alice.auth })).status).toBe(422);
    expect((await SELF.fetch(`${DOCS}/${crypto.randomUUID()}`, { headers: alice.auth })).status).toBe(404);
  });
});

describe("activity", () => {
  it("records every change and download in the same statement as the change", async () => {
    const doc = await createDocument(alice.auth);
    // Each version's text is indexed in the background: waited for, so the rows below are known.
    await indexingFinished(alice.auth, doc.id);
    await put(alice.auth, doc.id, { title: "Renamed" });
    await uploadVersion(alice.auth, doc.id, { bytes: samplePdf("v2") });
    await indexingFinished(alice.auth, doc.id);
    await download(alice.auth, doc.id);
    // A HEAD asks what a download would answer and downloads nothing (RFC 9110: HEAD is safe): no row.
    const head = await SELF.fetch(`${DOCS}/${doc.id}/download`, { method: "HEAD", headers: alice.auth });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toContain("application/json");
    expect(await head.text()).toBe("");
    await put(alice.auth, doc.id, { title: "" }); // refused: no row
    await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: alice.auth });
    const rows =
      await sql`select action, actor_id from activity_logs where document_id = ${doc.id} order by created_at, id`;
    const byAlice = rows.filter((r) => r.action !== "content.indexed");
    expect(byAlice.map((r) => r.action).sort()).toEqual(
      ["document.created", "document.deleted", "document.downloaded", "document.updated", "version.created"].sort(),
    );
    expect(new Set(byAlice.map((r) => r.actor_id))).toEqual(new Set([alice.id]));
    // One per version, by no user (the service indexed them).
    const indexed = rows.filter((r) => r.action === "content.indexed");
    expect(indexed.map((r) => r.actor_id)).toEqual([null, null]);
  });
});
