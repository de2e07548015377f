// U+0000 is valid in JSON, forms and JavaScript strings but never in PostgreSQL text. Found by the
// fuzz suite (a list query `q=%00` answered 500). Every field that reaches the database must
// answer a 4xx problem and change nothing; a search for it is just a search.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { AUTH, newUser, postJson } from "../support/auth";
import { createDocument, DOCS, indexingFinished, samplePdf, uploadDocument, uploadVersion } from "../support/documents";
import { testSql, testStorage } from "../support/stack";

const sql = testSql();
const NUL = "\u0000";
let auth: Record<string, string>;
let userId: string;

beforeAll(async () => {
  const user = await newUser("nul");
  auth = { authorization: `Bearer ${user.tokens.access_token}` };
  userId = user.id;
});

/** A 422 naming `path` (a JSON body's field is named; a multipart field, caught by the database, is "body"). */
async function expectNulRefused(res: Response, path?: string) {
  expect(res.status).toBe(422);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as { errors: { path: string; message: string }[] };
  expect(body.errors.length).toBeGreaterThan(0);
  if (path) expect(body.errors.map((e) => e.path)).toEqual([path]);
  expect(JSON.stringify(body)).not.toMatch(/22021|invalid byte sequence|insert|select/i);
}

async function objectCount() {
  return (await testStorage().listKeys("documents/")).length;
}

describe("NUL characters in text", () => {
  it("searches with q containing NUL like any other text (200)", async () => {
    await createDocument(auth, { fields: { title: "Annual budget" } });
    for (const q of [NUL, `budget${NUL}`, `${NUL}annual${NUL}budget`]) {
      const res = await SELF.fetch(`${DOCS}?q=${encodeURIComponent(q)}`, { headers: auth });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { title: string }[] };
      if (q !== NUL) expect(page.items.map((d) => d.title)).toContain("Annual budget");
    }
  });

  it("refuses a content_type filter with control characters (422 naming the field)", async () => {
    const res = await SELF.fetch(`${DOCS}?content_type=${encodeURIComponent(`application/pdf${NUL}`)}`, {
      headers: auth,
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { errors: { path: string }[] }).errors[0]?.path).toBe("query.content_type");
  });

  it("refuses an update with NUL in the title or description and leaves the document as it was", async () => {
    const doc = await createDocument(auth, { fields: { title: "Before" } });
    // Its text's indexing, recorded in the background, is done before the refused updates.
    await indexingFinished(auth, doc.id);
    for (const body of [{ title: `After${NUL}` }, { description: `a${NUL}b` }, { tags: ["ok", `t${NUL}`] }]) {
      const res = await SELF.fetch(`${DOCS}/${doc.id}`, {
        method: "PUT",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const field = Object.keys(body)[0];
      await expectNulRefused(res, field === "tags" ? "body.tags.1" : `body.${field}`);
    }
    const [row] = await sql`select title, description, revision from documents where id = ${doc.id}`;
    expect(row).toEqual({ title: "Before", description: null, revision: 1 });
    const activity = await sql`select action from activity_logs where document_id = ${doc.id}`;
    expect(activity.map((a) => a.action).sort()).toEqual(["content.indexed", "document.created"]);
  });

  it("refuses an upload with NUL in the description: no document, no stored object left behind", async () => {
    const documentsBefore = await sql`select count(*)::int as n from documents where owner_id = ${userId}`;
    const objectsBefore = await objectCount();
    const res = await uploadDocument(auth, { bytes: samplePdf(), fields: { description: `x${NUL}y` } });
    await expectNulRefused(res);
    const documentsAfter = await sql`select count(*)::int as n from documents where owner_id = ${userId}`;
    expect(documentsAfter[0]?.n).toBe(documentsBefore[0]?.n);
    // The bytes were stored before the row failed; they are deleted in the background.
    for (let i = 0; i < 50 && (await objectCount()) !== objectsBefore; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await objectCount()).toBe(objectsBefore);
  });

  it("refuses a new version with NUL in the comment and keeps the version count", async () => {
    const doc = await createDocument(auth);
    const res = await uploadVersion(auth, doc.id, { bytes: samplePdf("v2"), fields: { comment: `c${NUL}` } });
    await expectNulRefused(res);
    const versions = await sql`select count(*)::int as n from document_versions where document_id = ${doc.id}`;
    expect(versions[0]?.n).toBe(1);
  });

  it("refuses NUL in a registration's full name, and a login or share by an email with NUL", async () => {
    const email = `nul-${crypto.randomUUID()}@example.com`;
    await expectNulRefused(
      await postJson(`${AUTH}/register`, { email, password: "correct horse battery", full_name: `Ada${NUL}` }),
      "body.full_name",
    );
    expect((await sql`select count(*)::int as n from users where email = ${email}`)[0]?.n).toBe(0);

    const login = await postJson(`${AUTH}/login`, { email: `a${NUL}@example.com`, password: "whatever password" });
    expect([401, 422]).toContain(login.status);

    const doc = await createDocument(auth);
    const share = await SELF.fetch(`${DOCS}/${doc.id}/permissions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ email: `b${NUL}@example.com`, role: "READ" }),
    });
    expect([404, 422]).toContain(share.status);
  });
});
