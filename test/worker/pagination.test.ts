// Sub-lists are paginated (#13): versions and permissions take `page` and `limit` (1–100, default
// 100) and answer {items, total, page, limit}; activity keeps its pagination (default 20). Out of
// range is 422 and names the parameter.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { newUser, postJson } from "../support/auth";
import { createDocument, DOCS, samplePdf, uploadVersion } from "../support/documents";

type User = Awaited<ReturnType<typeof newUser>>;
type Page<T> = { items: T[]; total: number; page: number; limit: number };
let owner: User;
let docId: string;
const readers: User[] = [];

beforeAll(async () => {
  owner = await newUser("pages-owner");
  docId = (await createDocument(owner.auth)).id;
  for (let i = 2; i <= 5; i++) {
    const res = await uploadVersion(owner.auth, docId, { bytes: samplePdf(`v${i}`) });
    expect(res.status).toBe(201);
  }
  for (let i = 0; i < 3; i++) {
    const reader = await newUser(`pages-reader-${i}`);
    readers.push(reader);
    const res = await postJson(`${DOCS}/${docId}/permissions`, { user_id: reader.id, role: "READ" }, owner.auth);
    expect(res.status).toBe(201);
  }
});

const get = async <T>(path: string, user: User = owner) => {
  const res = await SELF.fetch(`${DOCS}/${docId}/${path}`, { headers: user.auth });
  return { status: res.status, body: (await res.json()) as Page<T> & { code?: string; errors?: { path: string }[] } };
};

describe("GET …/versions", () => {
  it("answers every version, newest first, on one page by default", async () => {
    const { status, body } = await get<{ version_number: number }>("versions");
    expect(status).toBe(200);
    expect(body.items.map((v) => v.version_number)).toEqual([5, 4, 3, 2, 1]);
    expect(body).toMatchObject({ total: 5, page: 1, limit: 100 });
  });

  it("pages with page and limit, the total counting every version", async () => {
    const pages = [];
    for (const page of [1, 2, 3, 4]) {
      const { body } = await get<{ version_number: number }>(`versions?page=${page}&limit=2`);
      expect(body).toMatchObject({ total: 5, page, limit: 2 });
      pages.push(body.items.map((v) => v.version_number));
    }
    expect(pages).toEqual([[5, 4], [3, 2], [1], []]);
  });

  it("is 404 without access, whatever the page", async () => {
    const stranger = await newUser("pages-stranger");
    expect((await get("versions?page=2&limit=1", stranger)).status).toBe(404);
  });
});

describe("GET …/permissions", () => {
  it("answers every permission, oldest grant first, with the total", async () => {
    const { status, body } = await get<{ user_id: string }>("permissions");
    expect(status).toBe(200);
    expect(body.items.map((p) => p.user_id)).toEqual(readers.map((r) => r.id));
    expect(body).toMatchObject({ total: 3, page: 1, limit: 100 });
  });

  it("pages with page and limit; any role may read it", async () => {
    const first = await get<{ user_id: string }>("permissions?limit=2", readers[0]);
    const second = await get<{ user_id: string }>("permissions?limit=2&page=2", readers[0]);
    expect(first.body.items.map((p) => p.user_id)).toEqual(readers.slice(0, 2).map((r) => r.id));
    expect(second.body.items.map((p) => p.user_id)).toEqual([readers[2]?.id]);
    expect(second.body).toMatchObject({ total: 3, page: 2, limit: 2 });
  });
});

describe("GET …/activity", () => {
  it("answers the contract's Page, as lists do: total_relation with the exact total", async () => {
    const all = await get<{ action: string }>("activity?limit=100");
    expect(all.status).toBe(200);
    // At least the creation, four new versions and three grants (content indexing may add more).
    expect(all.body.items.length).toBeGreaterThanOrEqual(8);
    const { status, body } = await get<{ action: string }>("activity?limit=2");
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(["items", "limit", "page", "total", "total_relation"]);
    expect(body).toMatchObject({ total: all.body.items.length, total_relation: "eq", page: 1, limit: 2 });
    expect(body.items).toHaveLength(2);
  });
});

describe("out-of-range pages", () => {
  it.each([
    ["versions", "limit=0", "query.limit"],
    ["versions", "limit=101", "query.limit"],
    ["versions", "page=0", "query.page"],
    ["versions", "page=abc", "query.page"],
    ["permissions", "limit=0", "query.limit"],
    ["permissions", "limit=101", "query.limit"],
    ["permissions", "page=-1", "query.page"],
    ["activity", "limit=101", "query.limit"],
  ])("%s?%s is 422 naming %s", async (list, query, path) => {
    const { status, body } = await get(`${list}?${query}`);
    expect(status).toBe(422);
    expect(body.code).toBe("validation_failed");
    expect(body.errors?.map((e) => e.path)).toEqual([path]);
  });
});

describe("every list answered as the contract's Page", () => {
  // "`page` × `limit` may not pass 10,000 (422)": the document list's rule holds for the other
  // Pages too (activity, links, trash, webhooks, deliveries); validation comes before any lookup,
  // so an unknown webhook's deliveries are refused the same way.
  const pages = () => [
    `${DOCS}/${docId}/activity`,
    `${DOCS}/${docId}/links`,
    `${DOCS.replace("/documents", "/trash")}`,
    `${DOCS.replace("/documents", "/webhooks")}`,
    `${DOCS.replace("/documents", "/webhooks")}/${crypto.randomUUID()}/deliveries`,
  ];

  it("refuses page × limit past 10,000 with 422 naming query.page", async () => {
    for (const url of pages()) {
      for (const query of ["page=101&limit=100", "page=10001&limit=1", "page=5001"]) {
        const res = await SELF.fetch(`${url}?${query}`, { headers: owner.auth });
        const body = (await res.json()) as { code?: string; errors?: { path: string; message: string }[] };
        expect(res.status, `${url}?${query}`).toBe(422);
        expect(body.code).toBe("validation_failed");
        expect(body.errors?.map((e) => e.path)).toEqual(["query.page"]);
        expect(body.errors?.[0]?.message).toContain("10000");
      }
    }
  });

  it("serves the 10,000th row's page", async () => {
    for (const url of pages().slice(0, 4)) {
      const res = await SELF.fetch(`${url}?page=100&limit=100`, { headers: owner.auth });
      expect(res.status, url).toBe(200);
      expect(await res.json()).toMatchObject({ items: [], page: 100, limit: 100, total_relation: "eq" });
    }
  });
});
