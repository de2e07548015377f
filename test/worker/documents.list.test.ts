// GET /api/v1/documents: visibility, filters, sort and pagination (the full matrix and the
// large-collection plans belong to the search issue; this covers the contract's basics).
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { newUser } from "../support/auth";
import { createDocument, DOCS, samplePng } from "../support/documents";
import { testSql } from "../support/stack";

const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;
let owner: User;
let reader: User;
let stranger: User;
const ids: Record<string, string> = {};

type Page = {
  items: { id: string; title: string; my_role: string; tags: string[] }[];
  total: number;
  total_relation: string;
  page: number;
  limit: number;
};

async function list(user: User, query = ""): Promise<Page> {
  const res = await SELF.fetch(`${DOCS}${query}`, { headers: user.auth });
  expect(res.status, query).toBe(200);
  return (await res.json()) as Page;
}

beforeAll(async () => {
  owner = await newUser("list-owner");
  reader = await newUser("list-reader");
  stranger = await newUser("list-stranger");
  const specs = [
    { key: "budget", title: "Budget spending 2026", tags: "finance,2026", description: "How we spend money" },
    { key: "roadmap", title: "Product roadmap", tags: "plans", description: "What we build next" },
    { key: "minutes", title: "Meeting minutes", tags: "finance,meetings", description: "Quarterly review" },
  ];
  for (const spec of specs) {
    const doc = await createDocument(owner.auth, {
      fields: { title: spec.title, tags: spec.tags, description: spec.description },
    });
    ids[spec.key] = doc.id;
  }
  ids.image = (
    await createDocument(owner.auth, { bytes: samplePng(), name: "chart.png", fields: { title: "Chart" } })
  ).id;
  const shared = await createDocument(stranger.auth, { fields: { title: "Shared notes", tags: "finance" } });
  ids.shared = shared.id;
  await sql`insert into document_permissions (document_id, user_id, role, granted_by) values (${shared.id}, ${owner.id}, 'READ', ${stranger.id})`;
  await createDocument(stranger.auth, { fields: { title: "Private to the stranger" } });
});

describe("GET /api/v1/documents", () => {
  it("lists what the caller can read, newest first, with the page metadata", async () => {
    const page = await list(owner);
    expect(page.total).toBe(5);
    expect(page).toMatchObject({ page: 1, limit: 20, total_relation: "eq" });
    expect(page.items.map((d) => d.id)).toEqual([ids.shared, ids.image, ids.minutes, ids.roadmap, ids.budget]);
    expect(page.items.find((d) => d.id === ids.shared)?.my_role).toBe("READ");
    expect((await list(reader)).total).toBe(0);
  });

  it("filters by owner=me and owner=shared", async () => {
    expect((await list(owner, "?owner=me")).items.map((d) => d.id)).not.toContain(ids.shared);
    expect((await list(owner, "?owner=shared")).items.map((d) => d.id)).toEqual([ids.shared]);
  });

  it("searches with stemming and web-search syntax, tolerating hostile input", async () => {
    expect((await list(owner, "?q=spend")).items.map((d) => d.id)).toEqual([ids.budget]);
    expect((await list(owner, `?q=${encodeURIComponent('"product roadmap"')}`)).items.map((d) => d.id)).toEqual([
      ids.roadmap,
    ]);
    expect((await list(owner, "?q=finance%20-budget")).items.map((d) => d.id).sort()).toEqual(
      [ids.minutes, ids.shared].sort(),
    );
    for (const q of ["'; drop table documents; --", '"unbalanced', "a & | ! :* (", "ünïcødé 日本語", "OR OR -"]) {
      const res = await SELF.fetch(`${DOCS}?q=${encodeURIComponent(q)}`, { headers: owner.auth });
      expect(res.status, q).toBe(200);
    }
  });

  it("accepts a q of any length, searching its words up to the 500th character", async () => {
    // The words past the 500th character are dropped: "unfindable" would otherwise AND away the match.
    const long = `spend${" ".repeat(600)}unfindable`;
    expect((await list(owner, `?q=${encodeURIComponent(long)}`)).items.map((d) => d.id)).toEqual([ids.budget]);
    expect((await list(owner, `?q=${"x".repeat(5000)}`)).total).toBe(0);
    const words = `${"spend ".repeat(83)}spend unfindable`; // 498 characters, then "spend", then past 500
    expect((await list(owner, `?q=${encodeURIComponent(words)}`)).items.map((d) => d.id)).toEqual([ids.budget]);
  });

  it("requires every listed tag, and filters by content type and creation time", async () => {
    expect((await list(owner, "?tags=finance,2026")).items.map((d) => d.id)).toEqual([ids.budget]);
    expect((await list(owner, "?tags=Finance")).total).toBe(3);
    expect((await list(owner, "?content_type=image/png")).items.map((d) => d.id)).toEqual([ids.image]);
    expect((await list(owner, "?created_after=2999-01-01")).total).toBe(0);
    expect((await list(owner, "?created_before=2000-01-01T00:00:00Z")).total).toBe(0);
    expect((await list(owner, "?created_after=2000-01-01T00:00:00%2B02:00")).total).toBe(5);
    // Without an offset (Python's isoformat() of a naive UTC datetime), taken as UTC.
    expect((await list(owner, "?created_after=2000-01-01T00:00:00")).total).toBe(5);
    expect((await list(owner, "?created_after=2999-01-01T00:00:00.000")).total).toBe(0);
    const newest = (await list(owner, "?limit=1")).items[0] as unknown as { id: string; created_at: string };
    const naive = newest.created_at.replace(/Z$/, "");
    expect((await list(owner, `?created_after=${naive}`)).items.map((d) => d.id)).toContain(newest.id);
    expect((await list(owner, `?created_before=${naive}`)).items.map((d) => d.id)).not.toContain(newest.id);
    // The OpenAPI describes the three forms apart: an offset-less date-time by its pattern, since
    // `format: date-time` (RFC 3339) requires an offset.
    const document = (await (await SELF.fetch("http://localhost/openapi.json")).json()) as {
      paths: Record<string, { get: { parameters: { name: string; schema: { anyOf: Record<string, string>[] } }[] } }>;
    };
    const bound = document.paths["/api/v1/documents"]?.get.parameters.find((p) => p.name === "created_after");
    const forms = bound?.schema.anyOf ?? [];
    expect(forms.map((f) => f.format ?? "pattern")).toEqual(["date-time", "pattern", "date"]);
    expect(new RegExp(forms[1]?.pattern ?? "^$").test(naive)).toBe(true);
    expect(new RegExp(forms[1]?.pattern ?? "^$").test("2000-01-01T00:00")).toBe(true);
    expect(new RegExp(forms[1]?.pattern ?? "^$").test("2000-01-01T00:00:00Z")).toBe(false);
  });

  it("takes any RFC 3339 instant as a bound, the years 0000 and 9999 and offsets past them included", async () => {
    // Year 0000, and the instants an offset moves before it or past 9999, have ISO texts that
    // PostgreSQL refuses (22008): they were a 500.
    for (const bound of ["0000-01-01T00:00:00Z", "0000-01-01", "0000-01-01T00:30:00%2B01:00", "0001-01-01T00:00:00Z"]) {
      expect((await list(owner, `?created_after=${bound}`)).total, bound).toBe(5);
      expect((await list(owner, `?created_before=${bound}&q=budget`)).total, bound).toBe(0);
    }
    for (const bound of ["9999-12-31T23:59:59Z", "9999-12-31T23:00:00-05:00", "9999-12-31"]) {
      expect((await list(owner, `?created_before=${bound}`)).total, bound).toBe(5);
      expect((await list(owner, `?created_after=${bound}`)).total, bound).toBe(0);
    }
    // Milliseconds are kept: a bound at a document's own creation includes it (after) or not (before).
    const newest = (await list(owner, "?limit=1")).items[0] as unknown as { id: string; created_at: string };
    expect((await list(owner, `?created_after=${newest.created_at}`)).items.map((d) => d.id)).toContain(newest.id);
    expect((await list(owner, `?created_before=${newest.created_at}`)).items.map((d) => d.id)).not.toContain(newest.id);
  });

  it("finds a document by its own content_type, parameters and case aside", async () => {
    const typist = await newUser("list-typist");
    const text = await createDocument(typist.auth, {
      bytes: new TextEncoder().encode("plain notes about nothing"),
      name: "notes.txt",
      fields: { title: "Notes" },
    });
    await createDocument(typist.auth, { fields: { title: "A PDF" } });
    expect(text.content_type).toBe("text/plain; charset=utf-8");
    for (const type of [text.content_type as string, "text/plain", "TEXT/Plain ; charset=UTF-8"]) {
      const found = await list(typist, `?content_type=${encodeURIComponent(type)}`);
      expect(
        found.items.map((d) => d.id),
        type,
      ).toEqual([text.id]);
    }
  });

  it("sorts by title both ways and paginates with a stable order", async () => {
    const titles = (await list(owner, "?sort=title&owner=me")).items.map((d) => d.title);
    expect(titles).toEqual([...titles].sort());
    expect((await list(owner, "?sort=-title&owner=me")).items.map((d) => d.title)).toEqual([...titles].reverse());
    const first = await list(owner, "?limit=2&page=1");
    const second = await list(owner, "?limit=2&page=2");
    const third = await list(owner, "?limit=2&page=3");
    expect([...first.items, ...second.items, ...third.items].map((d) => d.id)).toEqual(
      (await list(owner)).items.map((d) => d.id),
    );
    expect(third.items.length).toBe(1);
    const past = await list(owner, "?limit=2&page=99");
    expect(past).toMatchObject({ items: [], total: 5, page: 99, limit: 2 });
  });

  it("answers 422 naming the bad parameter, and ignores unknown ones", async () => {
    for (const [query, path] of [
      ["?limit=0", "query.limit"],
      ["?limit=101", "query.limit"],
      ["?page=0", "query.page"],
      ["?sort=size", "query.sort"],
      ["?owner=everyone", "query.owner"],
      ["?created_after=yesterday", "query.created_after"],
    ]) {
      const res = await SELF.fetch(`${DOCS}${query}`, { headers: owner.auth });
      expect(res.status, query).toBe(422);
      expect(((await res.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toContain(path);
    }
    expect((await list(owner, "?first_name=x&unknown=1")).total).toBe(5);
  });

  it("serves pages down to row 10,000 and answers 422 past it (page × limit), whatever the limit", async () => {
    for (const query of ["?page=100&limit=100", "?page=500&limit=20", "?page=10000&limit=1"]) {
      const page = await list(owner, query);
      expect(page.items, query).toEqual([]);
      expect(page.total, query).toBe(5);
    }
    for (const query of ["?page=101&limit=100", "?page=501", "?page=10001&limit=1", "?page=100000"]) {
      const res = await SELF.fetch(`${DOCS}${query}`, { headers: owner.auth });
      expect(res.status, query).toBe(422);
      const body = (await res.json()) as { code: string; errors: { path: string; message: string }[] };
      expect(body.code).toBe("validation_failed");
      // Named once, even when the page alone is past its maximum too.
      expect(
        body.errors.map((e) => e.path),
        query,
      ).toEqual(["query.page"]);
    }
  });

  it("sorts by each column both ways, ties broken by id", async () => {
    for (const key of ["created_at", "updated_at", "title"] as const) {
      const up = await list(owner, `?sort=${key}&owner=me`);
      const down = await list(owner, `?sort=-${key}&owner=me`);
      expect(
        down.items.map((d) => d.id),
        key,
      ).toEqual([...up.items].reverse().map((d) => d.id));
    }
  });

  it("combines filters with AND", async () => {
    const combined = await list(
      owner,
      "?owner=me&q=budget&tags=finance&content_type=application/pdf&created_after=2000-01-01",
    );
    expect(combined.items.map((d) => d.id)).toEqual([ids.budget]);
    expect((await list(owner, "?owner=shared&tags=finance&q=notes")).items.map((d) => d.id)).toEqual([ids.shared]);
    expect((await list(owner, "?owner=shared&tags=plans")).total).toBe(0);
  });

  it("treats a blank q as no search, accepts limit 1 and 100, and refuses 21 tags", async () => {
    expect((await list(owner, "?q=%20%20")).total).toBe(5);
    expect((await list(owner, "?limit=1")).items.length).toBe(1);
    expect((await list(owner, "?limit=100")).items.length).toBe(5);
    const tags = Array.from({ length: 21 }, (_, i) => `t${i}`).join(",");
    const res = await SELF.fetch(`${DOCS}?tags=${tags}`, { headers: owner.auth });
    expect(res.status).toBe(422);
  });

  it("never lists deleted documents, for the owner or anyone they were shared with", async () => {
    const doc = await createDocument(stranger.auth, { fields: { title: "Soon deleted" } });
    await sql`insert into document_permissions (document_id, user_id, role, granted_by) values (${doc.id}, ${reader.id}, 'EDIT', ${stranger.id})`;
    expect((await list(reader, "?owner=shared")).items.map((d) => d.id)).toContain(doc.id);
    await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: stranger.auth });
    expect((await list(reader)).items.map((d) => d.id)).not.toContain(doc.id);
    expect((await list(stranger, "?q=deleted")).total).toBe(0);
  });
});
