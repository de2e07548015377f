// Share links: every status and code of the contract's section, and the attacks on each promise
// (guessing tokens and passwords, racing the download limit, reaching a trashed or revoked
// document, finding the token in a log, an activity row or an error body).
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { hashPassword } from "../../src/auth/password";
import { hashToken } from "../../src/documents/links";
import worker from "../../src/index";
import { BASE, newUser, postJson } from "../support/auth";
import { drain, latest } from "../support/changes";
import { createDocument, DOCS, samplePdf, uploadVersion } from "../support/documents";
import { databaseSnapshot, testSql, testStorage } from "../support/stack";

const sql = testSql();
const LINKS = `${BASE}/api/v1/links`;
type User = Awaited<ReturnType<typeof newUser>>;
type Link = {
  id: string;
  document_id: string;
  version_number: number | null;
  expires_at: string | null;
  max_downloads: number | null;
  download_count: number;
  has_password: boolean;
  created_by: string;
  created_at: string;
  token: string;
  url: string;
};

let owner: User;
let admin: User;
let editor: User;
let editor2: User;
let reader: User;
let stranger: User;

beforeAll(async () => {
  [owner, admin, editor, editor2, reader, stranger] = await Promise.all([
    newUser("link-owner"),
    newUser("link-admin"),
    newUser("link-editor"),
    newUser("link-editor2"),
    newUser("link-reader"),
    newUser("link-stranger"),
  ]);
});

/** A fresh address per use, so that password attempts of one test never throttle another's. */
const freshAddress = () =>
  `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;

async function sharedDocument(text = "hello") {
  const doc = await createDocument(owner.auth, { bytes: samplePdf(text), name: "Quarterly report.pdf" });
  for (const [who, role] of [
    [admin, "ADMIN"],
    [editor, "EDIT"],
    [editor2, "EDIT"],
    [reader, "READ"],
  ] as const) {
    expect((await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: who.id, role }, owner.auth)).status).toBe(201);
  }
  return doc.id;
}

const createLinkRes = (docId: string, auth: Record<string, string>, body: unknown = {}) =>
  postJson(`${DOCS}/${docId}/links`, body, auth);

async function makeLink(docId: string, auth: Record<string, string> = owner.auth, body: unknown = {}) {
  const res = await createLinkRes(docId, auth, body);
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Link;
}

const info = (token: string) => SELF.fetch(`${LINKS}/${token}`);
const postDownload = (token: string, body?: unknown, address = freshAddress()) =>
  SELF.fetch(`${LINKS}/${token}/download`, {
    method: "POST",
    headers: {
      "CF-Connecting-IP": address,
      "User-Agent": "link-test",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const getDownload = (token: string) => SELF.fetch(`${LINKS}/${token}/download`, { redirect: "manual" });

async function problem(res: Response) {
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  return (await res.json()) as { status: number; code: string; detail: string; errors?: { path: string }[] };
}

async function expectCode(res: Response, status: number, code: string) {
  expect(res.status, await res.clone().text()).toBe(status);
  expect((await problem(res)).code).toBe(code);
}

const linkRow = async (id: string) => (await sql`select * from share_links where id = ${id}`)[0];
const activityOf = async (docId: string, action: string) =>
  sql`select actor_id, details, host(ip_address) as ip, user_agent from activity_logs
      where document_id = ${docId} and action = ${action} order by created_at`;

describe("creating and using a link", () => {
  it("creates a link with a token shown once, and serves the document through it", async () => {
    const docId = await sharedDocument("link body");
    const link = await makeLink(docId, editor.auth, { max_downloads: 3 });
    expect(link.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(link.url).toBe(`${BASE}/api/v1/links/${link.token}`);
    expect(link).toMatchObject({
      document_id: docId,
      version_number: null,
      expires_at: null,
      max_downloads: 3,
      download_count: 0,
      has_password: false,
      created_by: editor.id,
    });
    // Stored as its SHA-256 only.
    const row = await linkRow(link.id);
    expect(new Uint8Array(row?.token_hash)).toEqual(hashToken(link.token));
    const dump = JSON.stringify(await sql`select * from share_links`);
    expect(dump).not.toContain(link.token);

    const meta = await info(link.token);
    expect(meta.status).toBe(200);
    expect(meta.headers.get("cache-control")).toBe("no-store");
    expect(await meta.json()).toEqual({
      title: expect.any(String),
      file_name: "Quarterly report.pdf",
      content_type: "application/pdf",
      size_bytes: samplePdf("link body").byteLength,
      version_number: 1,
      expires_at: null,
      has_password: false,
      downloads_left: 3,
    });

    const address = "203.0.113.77";
    const res = await postDownload(link.token, undefined, address);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as { url: string; expires_at: string };
    expect(Object.keys(body).sort()).toEqual(["expires_at", "url"]);
    const url = new URL(body.url);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("60");
    const ttl = Date.parse(body.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const file = await fetch(body.url);
    expect(file.status).toBe(200);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(samplePdf("link body"));
    expect(file.headers.get("content-disposition")).toBe(
      `attachment; filename="Quarterly report.pdf"; filename*=UTF-8''Quarterly%20report.pdf`,
    );

    const redirect = await getDownload(link.token);
    expect(redirect.status).toBe(302);
    expect(new URL(redirect.headers.get("location") as string).searchParams.get("X-Amz-Expires")).toBe("60");
    expect((await (await info(link.token)).json()) as { downloads_left: number }).toMatchObject({ downloads_left: 1 });

    // Activity: created by the editor; downloads without an actor, with the client's address; no token.
    const created = await activityOf(docId, "link.created");
    expect(created).toHaveLength(1);
    expect(created[0]?.actor_id).toBe(editor.id);
    expect(created[0]?.details).toMatchObject({ link_id: link.id, max_downloads: 3, has_password: false });
    const downloads = await activityOf(docId, "link.downloaded");
    expect(downloads).toHaveLength(2);
    expect(downloads[0]).toMatchObject({ actor_id: null, ip: address, user_agent: "link-test" });
    expect(downloads[0]?.details).toMatchObject({ link_id: link.id, version_number: 1 });
    const allActivity = JSON.stringify(await sql`select * from activity_logs where document_id = ${docId}`);
    expect(allActivity).not.toContain(link.token);
    // And through the API, the same rows.
    const api = (await (await SELF.fetch(`${DOCS}/${docId}/activity`, { headers: owner.auth })).json()) as {
      items: { action: string; actor_id: string | null }[];
    };
    expect(api.items.filter((a) => a.action === "link.downloaded").map((a) => a.actor_id)).toEqual([null, null]);
  });

  it("lists links without tokens to EDIT and above; 403 for readers, 404 for strangers", async () => {
    const docId = await sharedDocument();
    const first = await makeLink(docId, owner.auth);
    const second = await makeLink(docId, editor.auth, { password: "open sesame" });
    const res = await SELF.fetch(`${DOCS}/${docId}/links?limit=1&page=2`, { headers: editor.auth });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: Record<string, unknown>[]; total: number; page: number; limit: number };
    expect(page).toMatchObject({ total: 2, total_relation: "eq", page: 2, limit: 1 });
    const { token: _t, url: _u, ...secondView } = second;
    expect(page.items).toEqual([secondView]);
    const all = await (await SELF.fetch(`${DOCS}/${docId}/links`, { headers: admin.auth })).text();
    expect(all).not.toContain(first.token);
    expect(all).not.toContain(second.token);
    expect(all).not.toContain("scrypt");
    await expectCode(await SELF.fetch(`${DOCS}/${docId}/links`, { headers: reader.auth }), 403, "role_too_low");
    await expectCode(await SELF.fetch(`${DOCS}/${docId}/links`, { headers: stranger.auth }), 404, "document_not_found");
    await expectCode(await createLinkRes(docId, reader.auth), 403, "role_too_low");
    await expectCode(await createLinkRes(docId, stranger.auth), 404, "document_not_found");
  });
});

describe("bad input", () => {
  it("refuses bad expiry, limits and versions with 422, changing nothing", async () => {
    const docId = await sharedDocument();
    const before = {
      ...(await databaseSnapshot()),
      links: (await sql`select count(*)::int as n from share_links`)[0]?.n,
    };
    const cases: [unknown, string, string][] = [
      [{ expires_at: new Date(Date.now() - 1000).toISOString() }, "validation_failed", "body.expires_at"],
      [{ expires_at: new Date(Date.now() + 366 * 86_400_000).toISOString() }, "validation_failed", "body.expires_at"],
      [{ expires_at: "tomorrow" }, "validation_failed", "body.expires_at"],
      [{ max_downloads: 0 }, "validation_failed", "body.max_downloads"],
      [{ max_downloads: 1_000_001 }, "validation_failed", "body.max_downloads"],
      [{ max_downloads: 1.5 }, "validation_failed", "body.max_downloads"],
      [{ password: "abc" }, "validation_failed", "body.password"],
      [{ version: 0 }, "validation_failed", "body.version"],
      [{ version: 2 }, "link_version_not_found", "body.version"],
    ];
    for (const [body, code, path] of cases) {
      const res = await createLinkRes(docId, owner.auth, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      const p = await problem(res);
      expect(p.code, JSON.stringify(body)).toBe(code);
      expect(p.errors?.map((e) => e.path)).toContain(path);
    }
    const after = {
      ...(await databaseSnapshot()),
      links: (await sql`select count(*)::int as n from share_links`)[0]?.n,
    };
    expect(after).toEqual(before);
    // The edges are allowed.
    const edge = await makeLink(docId, owner.auth, {
      expires_at: new Date(Date.now() + 364 * 86_400_000).toISOString(),
      max_downloads: 1_000_000,
      version: 1,
    });
    expect(edge).toMatchObject({ max_downloads: 1_000_000, version_number: 1 });
    await expectCode(await postJson(`${DOCS}/${docId}/links`, "{not json", owner.auth), 400, "malformed_body");
  });

  it("answers 404 link_not_found for malformed and unknown tokens, without the database for malformed ones", async () => {
    const malformed = ["x", "a".repeat(42), "a".repeat(44), `${"a".repeat(42)}!`, "%00", "../../etc", "a".repeat(300)];
    // Against a Worker whose database is unreachable: a malformed token is still a 404, not a 503.
    const dead = {
      DATABASE_URL: "postgresql://local:local@dead-db.localhost:5432/docvault",
      NEON_HTTP_ENDPOINT: "http://127.0.0.1:9/sql",
    };
    for (const token of malformed) {
      for (const [method, path] of [
        ["GET", ""],
        ["POST", "/download"],
        ["GET", "/download"],
      ] as const) {
        const ctx = createExecutionContext();
        const res = await worker.fetch(
          new Request(`${LINKS}/${encodeURIComponent(token)}${path}`, { method }) as Parameters<typeof worker.fetch>[0],
          { ...env, ...dead } as Env,
          ctx,
        );
        await waitOnExecutionContext(ctx);
        await expectCode(res, 404, "link_not_found");
      }
    }
    // Well-shaped but unknown: looked up, not found.
    const unknown = "A".repeat(43);
    await expectCode(await info(unknown), 404, "link_not_found");
    await expectCode(await postDownload(unknown), 404, "link_not_found");
    await expectCode(await getDownload(unknown), 404, "link_not_found");
    // With the database down, a well-shaped token is a 503 (so the check above proves no lookup ran).
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${LINKS}/${unknown}`) as Parameters<typeof worker.fetch>[0],
      { ...env, ...dead } as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
  });
});

describe("expiry and download limits", () => {
  it("answers 410 link_expired on every public route once the link has expired", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, {
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      password: "secret-pass",
    });
    expect((await info(link.token)).status).toBe(200);
    await sql`update share_links set expires_at = now() - interval '1 second' where id = ${link.id}`;
    await expectCode(await info(link.token), 410, "link_expired");
    await expectCode(await postDownload(link.token, { password: "secret-pass" }), 410, "link_expired");
    await expectCode(await getDownload(link.token), 410, "link_expired");
    expect((await linkRow(link.id))?.download_count).toBe(0);
  });

  it("a HEAD of the redirect uses no download and hands out no URL", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { max_downloads: 1 });
    for (let i = 0; i < 3; i++) {
      const head = await SELF.fetch(`${LINKS}/${link.token}/download`, { method: "HEAD", redirect: "manual" });
      expect(head.status).toBe(204);
      expect(head.headers.get("location")).toBeNull();
    }
    expect((await linkRow(link.id))?.download_count).toBe(0);
    expect((await getDownload(link.token)).status).toBe(302);
    expect((await SELF.fetch(`${LINKS}/${link.token}/download`, { method: "HEAD" })).status).toBe(410);
    const locked = await makeLink(docId, owner.auth, { password: "pass-word" });
    expect((await SELF.fetch(`${LINKS}/${locked.token}/download`, { method: "HEAD" })).status).toBe(401);
    expect((await SELF.fetch(`${LINKS}/${"B".repeat(43)}/download`, { method: "HEAD" })).status).toBe(404);
  });

  it("answers 410 link_exhausted once max_downloads is used up", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { max_downloads: 2 });
    expect((await postDownload(link.token)).status).toBe(200);
    expect((await getDownload(link.token)).status).toBe(302);
    await expectCode(await postDownload(link.token), 410, "link_exhausted");
    await expectCode(await getDownload(link.token), 410, "link_exhausted");
    await expectCode(await info(link.token), 410, "link_exhausted");
    expect((await linkRow(link.id))?.download_count).toBe(2);
    expect(await activityOf(docId, "link.downloaded")).toHaveLength(2);
  });

  it("hands out exactly max_downloads URLs to 20 concurrent downloads", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { max_downloads: 7 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? postDownload(link.token) : getDownload(link.token))),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200 || s === 302)).toHaveLength(7);
    expect(statuses.filter((s) => s === 410)).toHaveLength(13);
    for (const res of results.filter((r) => r.status === 410)) expect((await problem(res)).code).toBe("link_exhausted");
    expect((await linkRow(link.id))?.download_count).toBe(7);
    expect(await activityOf(docId, "link.downloaded")).toHaveLength(7);
  });

  it("hands out exactly max_downloads URLs to 20 concurrent right passwords (past the throttle's 5 checks at a time)", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { max_downloads: 10, password: "right pass" });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => postDownload(link.token, { password: "right pass" })),
    );
    const statuses = results.map((r) => r.status);
    // Before, 15 of them were 429 link_password_throttled and only 5 downloaded.
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 410)).toHaveLength(10);
    for (const res of results.filter((r) => r.status === 410)) expect((await problem(res)).code).toBe("link_exhausted");
    expect((await linkRow(link.id))?.download_count).toBe(10);
    // Every right password's attempt was taken back: nothing counts against the link.
    const [counter] = await sql`select failures, checking from login_throttles where key = ${`link:${link.id}`}`;
    expect(counter).toEqual({ failures: 0, checking: 0 });
    // A link without a limit serves all of a burst of right passwords.
    const open = await makeLink(docId, owner.auth, { password: "right pass" });
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => postDownload(open.token, { password: "right pass" })),
    );
    expect(burst.map((r) => r.status)).toEqual(Array(12).fill(200));
  }, 60_000);

  it("uses no download when the object is missing from storage (503)", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { max_downloads: 1 });
    const [version] = await sql`select storage_key from document_versions where document_id = ${docId}`;
    await testStorage().delete(version?.storage_key);
    await expectCode(await postDownload(link.token), 503, "storage_unavailable");
    expect((await linkRow(link.id))?.download_count).toBe(0);
    expect(await activityOf(docId, "link.downloaded")).toHaveLength(0);
  });
});

describe("passwords", () => {
  it("needs the password: 401 required or wrong (not a Bearer challenge), 200 when right", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { password: "horse battery" });
    expect(link.has_password).toBe(true);
    expect((await linkRow(link.id))?.password_hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5,pk=[0-9a-f]{8}\$/);
    const meta = (await (await info(link.token)).json()) as { has_password: boolean };
    expect(meta.has_password).toBe(true);

    for (const res of [
      await getDownload(link.token),
      await postDownload(link.token),
      await postDownload(link.token, {}),
    ]) {
      expect(res.headers.get("www-authenticate")).toBe('LinkPassword realm="docvault share link"');
      await expectCode(res, 401, "link_password_required");
    }
    const wrong = await postDownload(link.token, { password: "horse battery!" });
    expect(wrong.headers.get("www-authenticate")).not.toContain("Bearer");
    await expectCode(wrong, 401, "link_password_wrong");
    await expectCode(await postDownload(link.token, { password: "" }), 401, "link_password_wrong");
    expect((await linkRow(link.id))?.download_count).toBe(0);
    const right = await postDownload(link.token, { password: "horse battery" });
    expect(right.status).toBe(200);
    expect((await linkRow(link.id))?.download_count).toBe(1);
    // A password sent to a link without one is ignored.
    const open = await makeLink(docId, owner.auth);
    expect((await postDownload(open.token, { password: "anything" })).status).toBe(200);
  });

  it("throttles guesses per link: of 20 at once, 5 are checked, the rest 429 before hashing", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { password: "the right one" });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => postDownload(link.token, { password: "a wrong guess" })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    const throttled = results.find((r) => r.status === 429) as Response;
    expect(Number(throttled.headers.get("retry-after"))).toBeGreaterThan(0);
    await expectCode(throttled, 429, "link_password_throttled");
    // Now even the right password waits (the throttle answers before any hashing), at once: the
    // places are held by failures, not by checks that could end.
    const started = Date.now();
    const late = await Promise.all(
      Array.from({ length: 3 }, () => postDownload(link.token, { password: "the right one" })),
    );
    for (const res of late) await expectCode(res, 429, "link_password_throttled");
    expect(Date.now() - started).toBeLessThan(3000);
    // Refused attempts were taken back: the counter holds the 5 checked ones, none still checking.
    const [counter] = await sql`select failures, checking from login_throttles where key = ${`link:${link.id}`}`;
    expect(counter).toEqual({ failures: 5, checking: 0 });
    // Another link is unaffected.
    const other = await makeLink(docId, owner.auth, { password: "the right one" });
    expect((await postDownload(other.token, { password: "the right one" })).status).toBe(200);
  });

  it("throttles guesses per address across links", async () => {
    const docId = await sharedDocument();
    const links = await Promise.all([1, 2, 3].map(() => makeLink(docId, owner.auth, { password: "pass-word" })));
    const call = async (token: string, password: string, address: string) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${LINKS}/${token}/download`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "CF-Connecting-IP": address },
          body: JSON.stringify({ password }),
        }) as Parameters<typeof worker.fetch>[0],
        { ...env, LOGIN_MAX_FAILURES_PER_ADDRESS: "3" } as Env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    const address = freshAddress();
    for (const link of links) expect((await call(link.token, "nope", address)).status).toBe(401);
    await expectCode(await call(links[0]?.token as string, "pass-word", address), 429, "link_password_throttled");
    // Another address is fine; and the right password from there takes its attempt back.
    expect((await call(links[0]?.token as string, "pass-word", freshAddress())).status).toBe(200);
  });

  it("rehashes a password stored with old parameters when it is used", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { password: "old params" });
    const weak = await hashPassword("old params", env.PASSWORD_PEPPER, { ln: 10, r: 8, p: 1 });
    await sql`update share_links set password_hash = ${weak} where id = ${link.id}`;
    expect((await postDownload(link.token, { password: "old params" })).status).toBe(200);
    const row = await linkRow(link.id);
    expect(row?.password_hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5,pk=[0-9a-f]{8}\$/);
    expect((await postDownload(link.token, { password: "old params" })).status).toBe(200);
  });
});

describe("versions", () => {
  it("a pinned link keeps serving its version after a new one; an unpinned link follows the current", async () => {
    const docId = await sharedDocument("version one");
    const pinned = await makeLink(docId, owner.auth, { version: 1 });
    const following = await makeLink(docId, owner.auth);
    expect((await uploadVersion(owner.auth, docId, { bytes: samplePdf("version two") })).status).toBe(201);

    expect(((await (await info(pinned.token)).json()) as { version_number: number }).version_number).toBe(1);
    expect(((await (await info(following.token)).json()) as { version_number: number }).version_number).toBe(2);
    const bytesOf = async (token: string) => {
      const { url } = (await (await postDownload(token)).json()) as { url: string };
      return new Uint8Array(await (await fetch(url)).arrayBuffer());
    };
    expect(await bytesOf(pinned.token)).toEqual(samplePdf("version one"));
    expect(await bytesOf(following.token)).toEqual(samplePdf("version two"));
    const rows = await activityOf(docId, "link.downloaded");
    expect(rows.map((r) => (r.details as { version_number: number }).version_number).sort()).toEqual([1, 2]);
  });
});

describe("revocation", () => {
  it("is for the creator or an ADMIN/owner; others get 403, strangers 404; the token is 404 after", async () => {
    const docId = await sharedDocument();
    const byEditor = await makeLink(docId, editor.auth);
    const del = (id: string, auth: Record<string, string>) =>
      SELF.fetch(`${DOCS}/${docId}/links/${id}`, { method: "DELETE", headers: auth });
    await expectCode(await del(byEditor.id, editor2.auth), 403, "role_too_low");
    await expectCode(await del(byEditor.id, reader.auth), 403, "role_too_low");
    await expectCode(await del(byEditor.id, stranger.auth), 404, "document_not_found");
    await expectCode(await del(crypto.randomUUID(), editor2.auth), 404, "link_not_found");
    expect((await del(byEditor.id, editor.auth)).status).toBe(204);
    await expectCode(await info(byEditor.token), 404, "link_not_found");
    await expectCode(await del(byEditor.id, editor.auth), 404, "link_not_found");

    for (const revoker of [admin, owner]) {
      const link = await makeLink(docId, editor.auth);
      expect((await del(link.id, revoker.auth)).status).toBe(204);
      await expectCode(await postDownload(link.token), 404, "link_not_found");
    }
    const revoked = await activityOf(docId, "link.revoked");
    expect(revoked.map((r) => r.actor_id)).toEqual([editor.id, admin.id, owner.id]);
    // A link of another document is not this document's.
    const otherDoc = await sharedDocument();
    const foreign = await makeLink(otherDoc, owner.auth);
    await expectCode(await del(foreign.id, owner.auth), 404, "link_not_found");
    expect((await info(foreign.token)).status).toBe(200);
  });

  it("dies with the account that created it", async () => {
    const docId = await sharedDocument();
    const closer = await newUser("link-closer");
    expect(
      (await postJson(`${DOCS}/${docId}/permissions`, { user_id: closer.id, role: "EDIT" }, owner.auth)).status,
    ).toBe(201);
    const link = await makeLink(docId, closer.auth);
    const kept = await makeLink(docId, owner.auth);
    const res = await SELF.fetch(`${BASE}/api/v1/auth/me`, {
      method: "DELETE",
      headers: { ...closer.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ password: "correct horse battery staple" }),
    });
    expect(res.status).toBe(204);
    await expectCode(await info(link.token), 404, "link_not_found");
    expect((await info(kept.token)).status).toBe(200);
    const revoked = await activityOf(docId, "link.revoked");
    expect(revoked).toHaveLength(1);
    expect(revoked[0]?.details).toMatchObject({ link_id: link.id, reason: "account_closed" });
  });

  it("on the closed account's own documents, is revoked where their readers' feeds list it, before the trash", async () => {
    const closer = await newUser("link-closer-own");
    const follower = await newUser("link-follower");
    const doc = await createDocument(closer.auth, { fields: { title: "closer's own" } });
    expect(
      (await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: follower.id, role: "ADMIN" }, closer.auth)).status,
    ).toBe(201);
    const link = await makeLink(doc.id, closer.auth);
    const cursor = await latest(follower.auth);
    const res = await SELF.fetch(`${BASE}/api/v1/auth/me`, {
      method: "DELETE",
      headers: { ...closer.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ password: "correct horse battery staple" }),
    });
    expect(res.status).toBe(204);
    // A change to a trashed document has no readers: revoked after the trash, the link's end was
    // listed to nobody, and a sync client seeing the document restored could not know of it.
    const seen = (await drain(follower.auth, cursor)).items.filter(
      (c) => c.document_id === doc.id && c.action !== "content.indexed",
    );
    expect(seen.map((c) => [c.action, c.details.reason])).toEqual([
      ["link.revoked", "account_closed"],
      ["document.deleted", "account_closed"],
    ]);
    expect(seen[0]?.details).toMatchObject({ link_id: link.id });
    // Adopted by the ADMIN, the document comes back without the closed account's link.
    expect(
      (await SELF.fetch(`${BASE}/api/v1/trash/${doc.id}/restore`, { method: "POST", headers: follower.auth })).status,
    ).toBe(200);
    await expectCode(await info(link.token), 404, "link_not_found");
  });
});

describe("the creator's role", () => {
  const setRole = (docId: string, who: User, role: string) =>
    SELF.fetch(`${DOCS}/${docId}/permissions/${who.id}`, {
      method: "PUT",
      headers: { ...owner.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ role }),
    });
  const revoke = (docId: string, who: User) =>
    SELF.fetch(`${DOCS}/${docId}/permissions/${who.id}`, { method: "DELETE", headers: owner.auth });
  async function expectDead(link: Link) {
    await expectCode(await info(link.token), 404, "link_not_found");
    await expectCode(await postDownload(link.token), 404, "link_not_found");
    await expectCode(await getDownload(link.token), 404, "link_not_found");
  }

  it("a revoked editor's links answer 404 at once, use no download, and answer again if EDIT is given back", async () => {
    const docId = await sharedDocument();
    const byEditor = await makeLink(docId, editor.auth, { max_downloads: 5 });
    const byAdmin = await makeLink(docId, admin.auth);
    const byOwner = await makeLink(docId, owner.auth);
    expect((await postDownload(byEditor.token)).status).toBe(200);

    expect((await revoke(docId, editor)).status).toBe(204);
    // The revoked editor kept the token: it gives them (or anyone) nothing any more.
    await expectDead(byEditor);
    expect((await linkRow(byEditor.id))?.download_count).toBe(1);
    expect(await activityOf(docId, "link.downloaded")).toHaveLength(1);
    // Others' links are untouched, and the dead one stays listed, so an ADMIN can see and revoke it.
    expect((await info(byAdmin.token)).status).toBe(200);
    expect((await postDownload(byOwner.token)).status).toBe(200);
    const listed = await SELF.fetch(`${DOCS}/${docId}/links`, { headers: admin.auth });
    expect(((await listed.json()) as { items: Link[] }).items.map((l) => l.id)).toContain(byEditor.id);

    expect(
      (await postJson(`${DOCS}/${docId}/permissions`, { user_id: editor.id, role: "EDIT" }, owner.auth)).status,
    ).toBe(201);
    expect(((await (await info(byEditor.token)).json()) as { downloads_left: number }).downloads_left).toBe(4);
    expect((await getDownload(byEditor.token)).status).toBe(302);
  });

  it("a creator demoted to READ shares nothing through their links; ADMIN or EDIT again revives them", async () => {
    const docId = await sharedDocument();
    const byEditor = await makeLink(docId, editor.auth);
    const byAdmin = await makeLink(docId, admin.auth);
    expect((await setRole(docId, editor, "READ")).status).toBe(200);
    expect((await setRole(docId, admin, "READ")).status).toBe(200);
    await expectDead(byEditor);
    await expectDead(byAdmin);
    expect((await setRole(docId, editor, "ADMIN")).status).toBe(200);
    expect((await setRole(docId, admin, "EDIT")).status).toBe(200);
    expect((await postDownload(byEditor.token)).status).toBe(200);
    expect((await postDownload(byAdmin.token)).status).toBe(200);
  });

  it("of downloads racing the revocation, none answers after it, and none counts without its URL", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, editor.auth);
    const racing = Array.from({ length: 10 }, () => postDownload(link.token));
    const revoked = await revoke(docId, editor);
    const answers = await Promise.all(racing);
    expect(revoked.status).toBe(204);
    for (const res of answers) expect([200, 404]).toContain(res.status);
    const served = answers.filter((res) => res.status === 200).length;
    expect((await linkRow(link.id))?.download_count).toBe(served);
    expect(await activityOf(docId, "link.downloaded")).toHaveLength(served);
    await expectDead(link);
    expect((await linkRow(link.id))?.download_count).toBe(served);
  });
});

describe("the trash", () => {
  it("a trashed document's links are 404, alive again after a restore, and gone after a purge", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth, { version: 1, max_downloads: 5 });
    expect((await postDownload(link.token)).status).toBe(200);
    expect((await SELF.fetch(`${DOCS}/${docId}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    await expectCode(await info(link.token), 404, "link_not_found");
    await expectCode(await postDownload(link.token), 404, "link_not_found");
    await expectCode(await getDownload(link.token), 404, "link_not_found");
    expect((await linkRow(link.id))?.download_count).toBe(1);

    const restored = await SELF.fetch(`${BASE}/api/v1/trash/${docId}/restore`, { method: "POST", headers: owner.auth });
    expect(restored.status).toBe(200);
    expect(((await (await info(link.token)).json()) as { downloads_left: number }).downloads_left).toBe(4);
    expect((await postDownload(link.token)).status).toBe(200);

    expect((await SELF.fetch(`${DOCS}/${docId}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    expect((await SELF.fetch(`${BASE}/api/v1/trash/${docId}`, { method: "DELETE", headers: owner.auth })).status).toBe(
      204,
    );
    expect(await sql`select 1 from share_links where document_id = ${docId}`).toHaveLength(0);
    await expectCode(await info(link.token), 404, "link_not_found");
    // The audit trail stays.
    expect(await activityOf(docId, "link.downloaded")).toHaveLength(2);
  });
});

describe("secrets stay secret", () => {
  it("never writes a token or a link password to the logs or an error body", async () => {
    const docId = await sharedDocument();
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    const bodies: string[] = [];
    const call = async (url: string, init: RequestInit = {}) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(url, { redirect: "manual", ...init }) as Parameters<typeof worker.fetch>[0],
        { ...env, LOG_LEVEL: "debug" } as Env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      bodies.push(await res.clone().text());
      return res;
    };
    const json = (body: unknown) => ({
      method: "POST",
      headers: { ...owner.auth, "Content-Type": "application/json", "CF-Connecting-IP": freshAddress() },
      body: JSON.stringify(body),
    });
    const password = "link-password-never-logged";
    const created = await call(`${DOCS}/${docId}/links`, json({ password }));
    expect(created.status).toBe(201);
    const { token, id } = (await created.json()) as Link;
    const plain = (await (await call(`${DOCS}/${docId}/links`, json({}))).json()) as Link;
    bodies.length = 0; // the creation answers are the one place a token belongs
    expect((await call(`${LINKS}/${token}`)).status).toBe(200);
    expect((await call(`${LINKS}/${token}/download`, json({ password: "wrong-guess-never-logged" }))).status).toBe(401);
    expect((await call(`${LINKS}/${token}/download`, json({ password }))).status).toBe(200);
    expect((await call(`${LINKS}/${token}/download`)).status).toBe(401);
    expect((await call(`${LINKS}/${plain.token}/download`)).status).toBe(302);
    expect((await call(`${LINKS}/${token}/nothing-here`)).status).toBe(404);
    expect((await call(`${LINKS}/${token}/download`, { method: "PUT" })).status).toBe(405);
    expect((await call(`${DOCS}/${docId}/links`, { headers: owner.auth })).status).toBe(200);
    expect((await call(`${DOCS}/${docId}/links/${id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    expect((await call(`${LINKS}/${token}`)).status).toBe(404);
    vi.restoreAllMocks();

    const logs = lines.join("\n");
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThanOrEqual(12);
    expect(logs).toContain("/api/v1/links/{token}");
    for (const secret of [token, plain.token, password, "wrong-guess-never-logged"]) {
      expect(logs).not.toContain(secret);
      for (const body of bodies) expect(body).not.toContain(secret);
    }
  });
});

describe("the public routes' request budget", () => {
  it("limits each client address to RATE_LIMIT_PER_MINUTE requests a minute, whatever the token", async () => {
    const docId = await sharedDocument();
    const link = await makeLink(docId, owner.auth);
    const call = async (path: string, address: string) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${LINKS}/${path}`, { headers: { "CF-Connecting-IP": address } }) as Parameters<
          typeof worker.fetch
        >[0],
        { ...env, RATE_LIMIT_PER_MINUTE: "10" } as Env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    // A burst that fits in one clock-aligned window.
    const left = 60 - ((Date.now() / 1000) % 60);
    if (left < 15) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 100));
    const address = freshAddress();
    const statuses: number[] = [];
    // Unknown tokens count too: guessing tokens spends the budget.
    for (let i = 0; i < 10; i++) statuses.push((await call(i % 2 ? link.token : "guess", address)).status);
    expect(statuses).toEqual([404, 200, 404, 200, 404, 200, 404, 200, 404, 200]);
    const limited = await call(link.token, address);
    await expectCode(limited, 429, "rate_limited");
    expect(limited.headers.get("ratelimit-policy")).toBe('"link";q=10;w=60');
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another address has its own budget.
    expect((await call(link.token, freshAddress())).status).toBe(200);
  });
});
