// Property-based fuzzing (fast-check) of every endpoint with hostile input. Invariants: the
// answer is a documented status — a 4xx is problem+json — never a 500, and a rejected request
// changes nothing in the database.
import { SELF } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { AUTH, BASE, newUser } from "../support/auth";
import { concatBytes } from "../support/bytes";
import { createDocument, DOCS } from "../support/documents";
import { databaseSnapshot } from "../support/stack";

type User = Awaited<ReturnType<typeof newUser>>;
let user: User;
let docId: string;
let linkToken: string;
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);

beforeAll(async () => {
  user = await newUser("fuzz");
  docId = (await createDocument(user.auth)).id;
  const link = await SELF.fetch(`${DOCS}/${docId}/links`, {
    method: "POST",
    headers: { ...user.auth, "Content-Type": "application/json" },
    body: JSON.stringify({ password: "never guessed by the fuzzer" }),
  });
  linkToken = ((await link.json()) as { token: string }).token;
});

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "'; drop table users; --",
    '"unbalanced',
    "a & b | !c :*",
    "\u202Egnp.exe",
    "../../etc/passwd",
    "💥".repeat(300),
    "x".repeat(20_000),
    "<script>alert(1)</script>",
    "NaN",
    "-1",
    "1e309",
  ),
);
const hostileValue = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 30 }),
  fc.jsonValue({ maxDepth: 4 }),
);
const hostileObject = (keys: string[]) =>
  fc.oneof(
    fc.dictionary(fc.constantFrom(...keys, "extra", "__proto__", "constructor"), hostileValue, {
      maxKeys: keys.length + 2,
    }),
    fc.jsonValue({ maxDepth: 6 }),
    // Deeply nested, then garbage that is not JSON at all.
    fc.constant(JSON.parse(`${"[".repeat(500)}${"]".repeat(500)}`)),
  );

type Case = { name: string; method: string; url: () => string; keys: string[]; allowed: number[]; mutating: boolean };
const JSON_ENDPOINTS: Case[] = [
  {
    name: "register",
    method: "POST",
    url: () => `${AUTH}/register`,
    keys: ["email", "password", "full_name"],
    allowed: [201, 409, 413, 422],
    mutating: true,
  },
  {
    name: "login",
    method: "POST",
    url: () => `${AUTH}/login`,
    keys: ["email", "password"],
    allowed: [401, 413, 422, 429],
    mutating: false,
  },
  {
    name: "refresh",
    method: "POST",
    url: () => `${AUTH}/refresh`,
    keys: ["refresh_token"],
    allowed: [401, 413, 422],
    mutating: false,
  },
  {
    name: "logout",
    method: "POST",
    url: () => `${AUTH}/logout`,
    keys: ["refresh_token"],
    allowed: [204, 413, 422],
    mutating: false,
  },
  {
    name: "update document",
    method: "PUT",
    url: () => `${DOCS}/${docId}`,
    keys: ["title", "description", "tags"],
    allowed: [200, 413, 422],
    mutating: true,
  },
  {
    name: "share",
    method: "POST",
    url: () => `${DOCS}/${docId}/permissions`,
    keys: ["email", "user_id", "role"],
    allowed: [404, 409, 413, 422],
    mutating: false,
  },
  {
    name: "change role",
    method: "PUT",
    url: () => `${DOCS}/${docId}/permissions/${crypto.randomUUID()}`,
    keys: ["role"],
    allowed: [404, 413, 422],
    mutating: false,
  },
  {
    name: "start upload",
    method: "POST",
    url: () => `${BASE}/api/v1/uploads`,
    keys: ["file_name", "content_type", "size_bytes", "sha256", "document_id", "multipart"],
    allowed: [201, 404, 413, 415, 422],
    mutating: true,
  },
  {
    name: "complete upload",
    method: "POST",
    url: () => `${BASE}/api/v1/uploads/${crypto.randomUUID()}/complete`,
    keys: ["title", "tags", "comment", "parts"],
    allowed: [404, 413, 422],
    mutating: false,
  },
  {
    name: "upload part URLs",
    method: "POST",
    url: () => `${BASE}/api/v1/uploads/${crypto.randomUUID()}/parts`,
    keys: ["part_numbers"],
    allowed: [404, 413, 422],
    mutating: false,
  },
  {
    // Never the right password: 401, then 429 once the account's checks are used up.
    name: "close account",
    method: "DELETE",
    url: () => `${AUTH}/me`,
    keys: ["password"],
    allowed: [401, 413, 422, 429],
    mutating: false,
  },
  {
    name: "create share link",
    method: "POST",
    url: () => `${DOCS}/${docId}/links`,
    keys: ["expires_at", "password", "max_downloads", "version"],
    allowed: [201, 413, 422],
    mutating: true,
  },
  {
    // Never the right password: 401, then 429 once the link's checks are used up.
    name: "share link download",
    method: "POST",
    url: () => `${BASE}/api/v1/links/${linkToken}/download`,
    keys: ["password"],
    allowed: [401, 413, 422, 429],
    mutating: false,
  },
  {
    name: "create webhook",
    method: "POST",
    url: () => `${BASE}/api/v1/webhooks`,
    keys: ["url", "events", "document_id"],
    allowed: [201, 404, 413, 422],
    mutating: true,
  },
];

async function expectDocumented(res: Response, allowed: number[], label: string) {
  expect(allowed, `${label} answered ${res.status}: ${(await res.clone().text()).slice(0, 300)}`).toContain(res.status);
  if (res.status >= 400) expect(res.headers.get("content-type")).toBe("application/problem+json");
  await res.arrayBuffer();
}

describe.each(JSON_ENDPOINTS)("fuzzing $name", ({ name, method, url, keys, allowed, mutating }) => {
  it("answers documented statuses to hostile JSON, and a rejection changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(hostileObject(keys), async (body) => {
        const before = await databaseSnapshot();
        const res = await SELF.fetch(url(), {
          method,
          headers: { ...user.auth, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        await expectDocumented(res, allowed, name);
        if (res.status >= 400 || !mutating) expect(await databaseSnapshot()).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  });

  it("answers 400 or 415 to bodies that are not JSON", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2000 }),
        fc.constantFrom("application/json", "text/plain", "application/xml", ""),
        async (bytes, type) => {
          const before = await databaseSnapshot();
          const res = await SELF.fetch(url(), {
            method,
            headers: { ...user.auth, ...(type ? { "Content-Type": type } : {}) },
            body: bytes,
          });
          await expectDocumented(res, [...allowed, 400, 415], name);
          if (res.status >= 400) expect(await databaseSnapshot()).toEqual(before);
        },
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});

/**
 * Any string as one path segment, except "." and "..": the URL parser resolves those (and their
 * %2E spellings) as dot segments before any request is made, so `/webhooks/./test` is sent as
 * `/webhooks/test`, another route (405), and no client can send them as an id at all. And not
 * "": `/trash/` is the collection's path with a trailing slash, which is redirected (307) to it
 * (app.test.ts), not an id.
 */
const pathId = hostileString.filter((s) => s !== "." && s !== ".." && s !== "");

describe("fuzzing paths and queries", () => {
  it("answers 404 or 422 for any path id", async () => {
    await fc.assert(
      fc.asyncProperty(
        pathId,
        fc.constantFrom("", "/download", "/versions", "/activity", "/permissions", "/content"),
        async (id, suffix) => {
          const res = await SELF.fetch(`${DOCS}/${encodeURIComponent(id)}${suffix}`, { headers: user.auth });
          await expectDocumented(res, [200, 404, 422], "path id");
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers 404 or 422 for any trash id, and 200 or 422 for any trash page, changing nothing", async () => {
    const trash = `${BASE}/api/v1/trash`;
    await fc.assert(
      fc.asyncProperty(
        pathId,
        fc.constantFrom(["POST", "/restore"], ["DELETE", ""]),
        fc.dictionary(fc.constantFrom("page", "limit", "unknown"), hostileString, { maxKeys: 3 }),
        async (id, [method, suffix], query) => {
          const before = await databaseSnapshot();
          const res = await SELF.fetch(`${trash}/${encodeURIComponent(id)}${suffix}`, { method, headers: user.auth });
          await expectDocumented(res, [404, 422], "trash id");
          expect(await databaseSnapshot()).toEqual(before);
          const qs = new URLSearchParams(query as Record<string, string>).toString();
          await expectDocumented(await SELF.fetch(`${trash}?${qs}`, { headers: user.auth }), [200, 422], "trash page");
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers 404 link_not_found for any share-link token, changing nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        pathId,
        fc.constantFrom(["GET", ""], ["GET", "/download"], ["POST", "/download"]),
        async (token, [method, suffix]) => {
          const before = await databaseSnapshot();
          const res = await SELF.fetch(`${BASE}/api/v1/links/${encodeURIComponent(token)}${suffix}`, {
            method,
            redirect: "manual",
          });
          await expectDocumented(res, [404], "link token");
          expect(await databaseSnapshot()).toEqual(before);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers 200 or 422 for any changes-feed query (wait 0), and 404 or 422 for any webhook id, changing nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom("cursor", "limit", "unknown"), hostileString, { maxKeys: 3 }),
        pathId,
        fc.constantFrom(["GET", ""], ["DELETE", ""], ["POST", "/test"], ["GET", "/deliveries"]),
        async (query, id, [method, suffix]) => {
          const before = await databaseSnapshot();
          const qs = new URLSearchParams(query as Record<string, string>).toString();
          const res = await SELF.fetch(`${BASE}/api/v1/changes?${qs}`, { headers: user.auth });
          await expectDocumented(res, [200, 422], `changes ?${qs.slice(0, 200)}`);
          const hook = await SELF.fetch(`${BASE}/api/v1/webhooks/${encodeURIComponent(id)}${suffix}`, {
            method,
            headers: user.auth,
          });
          await expectDocumented(hook, [404, 422], "webhook id");
          expect(await databaseSnapshot()).toEqual(before);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers 200 or 422 for any list query", async () => {
    const params = [
      "q",
      "tags",
      "owner",
      "content_type",
      "created_after",
      "created_before",
      "sort",
      "page",
      "limit",
      "unknown",
    ];
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...params), hostileString, { maxKeys: 6 }), async (query) => {
        const qs = new URLSearchParams(query as Record<string, string>).toString();
        const res = await SELF.fetch(`${DOCS}?${qs}`, { headers: user.auth });
        await expectDocumented(res, [200, 422], `list ?${qs.slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it("answers 4xx to broken multipart bodies and stores nothing", async () => {
    const boundary = "fuzzboundary";
    const part = fc.record({
      name: fc.constantFrom("file", "title", "tags", "description", "comment", "file"),
      filename: fc.option(
        hostileString.filter((s) => !s.includes("\u0000")),
        { nil: undefined },
      ),
      content: fc.uint8Array({ maxLength: 3000 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(part, { maxLength: 4 }),
        fc.boolean(),
        fc.constantFrom("", "/upload-version"),
        async (parts, broken, target) => {
          const chunks: Uint8Array[] = [];
          const enc = new TextEncoder();
          for (const p of parts) {
            const disposition = `form-data; name="${p.name}"${p.filename === undefined ? "" : `; filename="${p.filename.replace(/["\r\n]/g, "_")}"`}`;
            chunks.push(
              enc.encode(`--${broken ? "wrong" : boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`),
              p.content,
              enc.encode("\r\n"),
            );
          }
          if (!broken) chunks.push(enc.encode(`--${boundary}--\r\n`));
          const body = concatBytes(chunks);
          const before = await databaseSnapshot();
          const res = await SELF.fetch(`${DOCS}${target ? `/${docId}${target}` : ""}`, {
            method: "POST",
            headers: { ...user.auth, "Content-Type": `multipart/form-data; boundary=${boundary}` },
            body,
          });
          await expectDocumented(res, [201, 400, 413, 415, 422], "multipart");
          if (res.status >= 400) expect(await databaseSnapshot()).toEqual(before);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
