// The list at scale: a total that stops at 10,000 (`total_relation: "gte"`), pages read in order
// from the two visibility sources down to row 10,000, and the grant's copies of its document's
// created_at and trashed state (kept by triggers, migration 0012) that let the shared source be
// read and counted from one index. The copies are attacked: trash, restore and account closure
// through the API, plain SQL updates, and grants racing deletes on real PostgreSQL.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { AUTH, newUser, PASSWORD, postJson } from "../support/auth";
import { createDocument, DOCS } from "../support/documents";
import { testSql } from "../support/stack";

const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;
type Page = { items: { id: string; title: string; my_role: string }[]; total: number; total_relation: string };

async function list(user: User, query = ""): Promise<Page> {
  const res = await SELF.fetch(`${DOCS}${query}`, { headers: user.auth });
  expect(res.status, query).toBe(200);
  return (await res.json()) as Page;
}

/** `count` documents owned by `owner`, one minute apart (newest first: ordinal 1), straight into the database. */
async function seedDocuments(owner: User, count: number, label: string): Promise<void> {
  await sql`
    with d as (
      insert into documents (owner_id, title, current_version, created_at, updated_at, search_vector)
      select ${owner.id}::uuid, ${label} || ' ' || g, 1, now() - g * interval '1 minute', now() - g * interval '1 minute',
             setweight(to_tsvector('english', ${label} || ' ' || g), 'A')
      from generate_series(1, ${count}::int) g
      returning id, owner_id)
    insert into document_versions (document_id, version_number, storage_key, file_name, content_type, size_bytes, sha256, created_by)
    select d.id, 1, 'documents/' || d.id || '/seeded', 'seeded.pdf', 'application/pdf', 10, repeat('0', 64), d.owner_id from d`;
}

/** What the list must show for `user`, from the tables themselves (owner or a grant, not trashed). */
async function expectedIds(user: User, offset: number, limit: number, source: "all" | "me" | "shared" = "all") {
  const rows = await sql`
    select d.id from documents d
    where d.deleted_at is null and (
      (${source} <> 'shared' and d.owner_id = ${user.id}::uuid)
      or (${source} <> 'me' and exists (select 1 from document_permissions p where p.document_id = d.id and p.user_id = ${user.id}::uuid)))
    order by d.created_at desc, d.id desc offset ${offset} limit ${limit}`;
  return rows.map((r) => r.id as string);
}

/** Every grant's copies agree with its document (the invariant the triggers keep). */
async function copiesDisagreeing(): Promise<number> {
  const [row] = await sql`select count(*)::int as n from document_permissions p join documents d on d.id = p.document_id
    where p.document_trashed <> (d.deleted_at is not null) or p.document_created_at <> d.created_at`;
  return row?.n as number;
}

describe("a list past 10,000 documents", () => {
  let big: User;
  let mixed: User;

  beforeAll(async () => {
    big = await newUser("scale-big");
    mixed = await newUser("scale-mixed");
    await seedDocuments(big, 10_050, "alpha");
    await seedDocuments(mixed, 6_000, "beta");
    // The newest 6,000 of big's documents shared with mixed, interleaved in time with mixed's own.
    await sql`insert into document_permissions (document_id, user_id, role, granted_by)
      select id, ${mixed.id}::uuid, 'READ', owner_id from documents
      where owner_id = ${big.id}::uuid and (split_part(title, ' ', 2))::int <= 6000`;
  }, 120_000);

  it("stops counting at 10,000 and says gte, and serves each page in order down to row 10,000", async () => {
    const first = await list(big, "?limit=20");
    expect(first).toMatchObject({ total: 10_000, total_relation: "gte" });
    expect(first.items.map((d) => d.id)).toEqual(await expectedIds(big, 0, 20));
    const last = await list(big, "?page=100&limit=100");
    expect(last.total_relation).toBe("gte");
    expect(last.items.map((d) => d.id)).toEqual(await expectedIds(big, 9_900, 100));
    expect(last.items.at(-1)?.title).toBe("alpha 10000");
    const oldestFirst = await list(big, "?sort=created_at&limit=3");
    expect(oldestFirst.items.map((d) => d.title)).toEqual(["alpha 10050", "alpha 10049", "alpha 10048"]);
    expect(await list(big, "?owner=shared")).toMatchObject({ total: 0, total_relation: "eq", items: [] });
  });

  it("counts a search the same way, and exactly below the cap", async () => {
    expect(await list(big, "?q=alpha&limit=5")).toMatchObject({ total: 10_000, total_relation: "gte" });
    const one = await list(big, "?q=alpha%207777");
    expect(one).toMatchObject({ total: 1, total_relation: "eq" });
    expect(one.items.map((d) => d.title)).toEqual(["alpha 7777"]);
    // Sorted searches page through the matches in that order.
    const sorted = await list(big, "?q=alpha&sort=-created_at&page=2&limit=50");
    expect(sorted.items.map((d) => d.id)).toEqual(await expectedIds(big, 50, 50));
  });

  it("merges the caller's own and shared documents in order, and counts each source up to the cap", async () => {
    const all = await list(mixed, "?limit=100&page=3");
    expect(all.total_relation).toBe("gte");
    expect(all.total).toBe(10_000);
    expect(all.items.map((d) => d.id)).toEqual(await expectedIds(mixed, 200, 100));
    expect(new Set(all.items.map((d) => d.my_role))).toEqual(new Set(["OWNER", "READ"]));
    expect(await list(mixed, "?owner=me&limit=1")).toMatchObject({ total: 6_000, total_relation: "eq" });
    expect(await list(mixed, "?owner=shared&limit=1")).toMatchObject({ total: 6_000, total_relation: "eq" });
    const deep = await list(mixed, "?owner=shared&page=60&limit=100");
    expect(deep.items.map((d) => d.id)).toEqual(await expectedIds(mixed, 5_900, 100, "shared"));
  });

  it("follows trash and restore made by any statement: a trashed shared document leaves the list and the count", async () => {
    // 2,001 of the shared documents trashed by a plain UPDATE, as the trash statement does.
    await sql`update documents set deleted_at = now() where id in (
      select p.document_id from document_permissions p join documents d on d.id = p.document_id
      where p.user_id = ${mixed.id}::uuid order by d.created_at desc limit 2001)`;
    expect(await copiesDisagreeing()).toBe(0);
    expect(await list(mixed, "?limit=1")).toMatchObject({ total: 9_999, total_relation: "eq" });
    expect(await list(mixed, "?owner=shared&limit=1")).toMatchObject({ total: 3_999, total_relation: "eq" });
    const page = await list(mixed, "?limit=50");
    expect(page.items.map((d) => d.id)).toEqual(await expectedIds(mixed, 0, 50));
    await sql`update documents set deleted_at = null where owner_id = ${big.id}::uuid and deleted_at is not null`;
    expect(await copiesDisagreeing()).toBe(0);
    expect(await list(mixed, "?limit=1")).toMatchObject({ total: 10_000, total_relation: "gte" });
  });
});

describe("the grant's copies of its document", () => {
  it("follow delete, restore and account closure through the API", async () => {
    const owner = await newUser("copies-owner");
    const reader = await newUser("copies-reader");
    const doc = await createDocument(owner.auth, { fields: { title: "Copied state" } });
    const grant = await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: reader.id, role: "READ" }, owner.auth);
    expect(grant.status).toBe(201);
    expect(await list(reader, "?owner=shared")).toMatchObject({ total: 1 });

    expect((await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    expect(await list(reader, "?owner=shared")).toMatchObject({ total: 0, items: [] });
    expect(await copiesDisagreeing()).toBe(0);

    const restored = await SELF.fetch(`http://api.test/api/v1/trash/${doc.id}/restore`, {
      method: "POST",
      headers: owner.auth,
    });
    expect(restored.status).toBe(200);
    const back = await list(reader, "?owner=shared");
    expect(back.total).toBe(1);
    expect(back.items.map((d) => d.id)).toEqual([doc.id]);

    const closed = await SELF.fetch(`${AUTH}/me`, {
      method: "DELETE",
      headers: { ...owner.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ password: PASSWORD }),
    });
    expect(closed.status).toBe(204);
    expect(await list(reader)).toMatchObject({ total: 0, items: [] });
    expect(await copiesDisagreeing()).toBe(0);
  });

  it("stay right when grants race deletes (each pair at once)", async () => {
    const owner = await newUser("race-owner");
    const reader = await newUser("race-reader");
    const docs = [];
    for (let i = 0; i < 24; i++) docs.push(await createDocument(owner.auth, { fields: { title: `race ${i}` } }));
    await Promise.all(
      docs.flatMap((doc) => [
        postJson(`${DOCS}/${doc.id}/permissions`, { user_id: reader.id, role: "READ" }, owner.auth).then((r) =>
          r.arrayBuffer(),
        ),
        SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: owner.auth }).then((r) => r.arrayBuffer()),
      ]),
    );
    expect(await copiesDisagreeing()).toBe(0);
    // Every document was deleted: whichever grants happened, the reader lists and counts none.
    expect(await list(reader)).toMatchObject({ total: 0, items: [] });
  });
});

describe("the database's settings for an OLTP API", () => {
  it("runs no parallel workers and no JIT on any connection (migrations 0003 and 0018)", async () => {
    // Set for the database, so every new session (Neon's pooled HTTP connections) starts with them.
    const rows = await sql`select unnest(setconfig) as setting from pg_db_role_setting
      where setdatabase = (select oid from pg_database where datname = current_database()) and setrole = 0`;
    const settings = rows.map((r) => r.setting as string);
    expect(settings).toContain("max_parallel_workers_per_gather=0");
    expect(settings).toContain("jit=off");
  });
});
