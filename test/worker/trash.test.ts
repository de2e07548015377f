// The trash: who sees what, restoring exactly what was deleted, purging now, and every refusal
// leaving everything as it was.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, me, newUser, postJson } from "../support/auth";
import { createDocument, DOCS, indexingFinished, samplePdf, uploadVersion } from "../support/documents";
import { databaseSnapshot, storedKeys, testSql } from "../support/stack";

const TRASH = `${BASE}/api/v1/trash`;
const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;
let owner: User;
let admin: User;
let editor: User;
let reader: User;
let stranger: User;

beforeAll(async () => {
  owner = await newUser("trash-owner");
  admin = await newUser("trash-admin");
  editor = await newUser("trash-editor");
  reader = await newUser("trash-reader");
  stranger = await newUser("trash-stranger");
});

const get = (url: string, auth: Record<string, string>) => SELF.fetch(url, { headers: auth });
const del = (url: string, auth: Record<string, string>) => SELF.fetch(url, { method: "DELETE", headers: auth });
const restore = (id: string, auth: Record<string, string>) =>
  SELF.fetch(`${TRASH}/${id}/restore`, { method: "POST", headers: auth });

async function grant(id: string, who: User, role: string) {
  expect((await postJson(`${DOCS}/${id}/permissions`, { user_id: who.id, role }, owner.auth)).status).toBe(201);
}

/** A document of owner's with two versions and tags, shared ADMIN/EDIT/READ. */
async function sharedDocument(title = "Quarterly report") {
  const doc = await createDocument(owner.auth, { fields: { title, tags: ["finance", "q3"] } });
  expect((await uploadVersion(owner.auth, doc.id, { bytes: samplePdf("second"), name: "v2.pdf" })).status).toBe(201);
  await grant(doc.id, admin, "ADMIN");
  await grant(doc.id, editor, "EDIT");
  await grant(doc.id, reader, "READ");
  return doc.id;
}

async function trashed(title?: string) {
  const id = await sharedDocument(title);
  expect((await del(`${DOCS}/${id}`, owner.auth)).status).toBe(204);
  return id;
}

type TrashPage = {
  items: { id: string; my_role: string; deleted_at: string; purge_at: string; title: string }[];
  total: number;
  total_relation: string;
  page: number;
  limit: number;
};
async function trashOf(user: User, query = "") {
  const res = await get(`${TRASH}${query}`, user.auth);
  expect(res.status).toBe(200);
  return (await res.json()) as TrashPage;
}

async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

/** Everything a reader of the document can see, to compare before and after. */
async function everything(id: string, auth: Record<string, string>) {
  const read = async (path: string) => {
    const res = await get(`${DOCS}/${id}${path}`, auth);
    expect(res.status).toBe(200);
    return res.json();
  };
  return {
    document: await read(""),
    versions: await read("/versions"),
    permissions: await read("/permissions"),
    download: ((await read("/download?version=1")) as { sha256?: string; size_bytes: number }).size_bytes,
  };
}

describe("GET /trash", () => {
  it("lists what the caller owns or holds ADMIN on, newest deletion first, with purge_at", async () => {
    const fresh = await newUser("trash-lister");
    const first = await createDocument(fresh.auth, { fields: { title: "first" } });
    const second = await createDocument(fresh.auth, { fields: { title: "second" } });
    const live = await createDocument(fresh.auth, { fields: { title: "live" } });
    const shared = await createDocument(owner.auth, { fields: { title: "shared admin" } });
    expect(
      (await postJson(`${DOCS}/${shared.id}/permissions`, { user_id: fresh.id, role: "ADMIN" }, owner.auth)).status,
    ).toBe(201);
    const sharedRead = await createDocument(owner.auth, { fields: { title: "shared read" } });
    expect(
      (await postJson(`${DOCS}/${sharedRead.id}/permissions`, { user_id: fresh.id, role: "READ" }, owner.auth)).status,
    ).toBe(201);
    for (const [id, auth] of [
      [first.id, fresh.auth],
      [second.id, fresh.auth],
      [shared.id, owner.auth],
      [sharedRead.id, owner.auth],
    ] as const) {
      expect((await del(`${DOCS}/${id}`, auth)).status).toBe(204);
    }
    const page = await trashOf(fresh);
    expect(page.items.map((d) => d.id)).toEqual([shared.id, second.id, first.id]);
    expect(page.items.map((d) => d.my_role)).toEqual(["ADMIN", "OWNER", "OWNER"]);
    expect(page).toMatchObject({ total: 3, total_relation: "eq", page: 1, limit: 20 });
    expect(page.items.map((d) => d.id)).not.toContain(live.id);
    for (const item of page.items) {
      const days = (Date.parse(item.purge_at) - Date.parse(item.deleted_at)) / 86_400_000;
      expect(days).toBe(30);
      expect(Math.abs(Date.now() - Date.parse(item.deleted_at))).toBeLessThan(60_000);
      expect(Object.keys(item).sort()).toEqual(
        [
          "content_status",
          "content_type",
          "created_at",
          "current_version",
          "deleted_at",
          "description",
          "file_name",
          "id",
          "my_role",
          "owner_id",
          "purge_at",
          "sha256",
          "size_bytes",
          "tags",
          "title",
          "updated_at",
        ].sort(),
      );
    }
    const second_page = await trashOf(fresh, "?page=2&limit=2");
    expect(second_page.items.map((d) => d.id)).toEqual([first.id]);
    expect(second_page.total).toBe(3);
    // The owner of the shared documents sees both; the READ holder's trash does not show them.
    expect((await trashOf(owner)).items.map((d) => d.id)).toEqual(expect.arrayContaining([shared.id, sharedRead.id]));
  });

  it("shows nothing to EDIT, READ or strangers, and refuses bad pages with 422", async () => {
    const id = await trashed("hidden from low roles");
    for (const user of [editor, reader, stranger]) {
      expect((await trashOf(user)).items.map((d) => d.id)).not.toContain(id);
    }
    expect((await get(`${TRASH}?limit=0`, owner.auth)).status).toBe(422);
    expect((await get(`${TRASH}?page=0`, owner.auth)).status).toBe(422);
    expect((await get(TRASH, {})).status).toBe(401);
  });
});

describe("POST /trash/{id}/restore", () => {
  it.each([
    ["owner", 200, null],
    ["admin", 200, null],
    // Not in their trash (it holds what one owns or holds ADMIN on): 404, as the contract says.
    ["editor", 404, "document_not_found"],
    ["reader", 404, "document_not_found"],
    ["stranger", 404, "document_not_found"],
    ["anonymous", 401, "token_missing"],
  ] as const)("as %s → %i", async (who, status, code) => {
    const id = await trashed();
    const auth = who === "anonymous" ? {} : { owner, admin, editor, reader, stranger }[who].auth;
    const before = await databaseSnapshot();
    const res = await restore(id, auth);
    if (code) {
      await problem(res, status, code);
      expect(await databaseSnapshot()).toEqual(before);
      expect((await get(`${DOCS}/${id}`, owner.auth)).status).toBe(404);
    } else {
      expect(res.status).toBe(200);
      expect(((await res.json()) as { my_role: string }).my_role).toBe(who === "owner" ? "OWNER" : "ADMIN");
      expect((await get(`${DOCS}/${id}`, owner.auth)).status).toBe(200);
    }
  });

  it("brings back the document exactly: versions, tags, permissions, bytes; records document.restored", async () => {
    const id = await sharedDocument("Exactly as it was");
    const before = await everything(id, owner.auth);
    const beforeEtag = (await get(`${DOCS}/${id}`, owner.auth)).headers.get("etag");
    const keysBefore = await storedKeys(`documents/${id}/`);
    expect(keysBefore).toHaveLength(2);
    expect((await del(`${DOCS}/${id}`, owner.auth)).status).toBe(204);
    expect((await get(`${DOCS}/${id}`, editor.auth)).status).toBe(404);

    const res = await restore(id, admin.auth);
    expect(res.status).toBe(200);
    const restored = (await res.json()) as Record<string, unknown>;
    expect({ ...restored, my_role: "OWNER" }).toEqual(before.document);
    expect(res.headers.get("etag")).not.toBe(beforeEtag);
    expect(await everything(id, owner.auth)).toEqual(before);
    expect(await storedKeys(`documents/${id}/`)).toEqual(keysBefore);
    // The grants work again as they did.
    expect((await get(`${DOCS}/${id}`, reader.auth)).status).toBe(200);
    expect(
      (
        await SELF.fetch(`${DOCS}/${id}`, {
          method: "PUT",
          headers: { ...editor.auth, "content-type": "application/json" },
          body: '{"title":"edited"}',
        })
      ).status,
    ).toBe(200);
    const activity = (await (await get(`${DOCS}/${id}/activity`, owner.auth)).json()) as {
      items: { action: string; actor_id: string }[];
    };
    // Newest first; the comparison above read the document (document.downloaded rows), and its text,
    // trashed before it was extracted, is extracted after the restore (content.indexed, in the background).
    const actions = activity.items
      .map((a) => a.action)
      .filter((a) => a !== "document.downloaded" && a !== "content.indexed");
    expect(actions.slice(0, 3)).toEqual(["document.updated", "document.restored", "document.deleted"]);
    expect(activity.items.find((a) => a.action === "document.restored")?.actor_id).toBe(admin.id);
    expect((await trashOf(owner)).items.map((d) => d.id)).not.toContain(id);
  });

  it("answers 404 for a live document, an unknown id, a second restore; 422 for a bad id", async () => {
    const live = await sharedDocument();
    await problem(await restore(live, owner.auth), 404, "document_not_found");
    await problem(await restore(crypto.randomUUID(), owner.auth), 404, "document_not_found");
    const id = await trashed();
    expect((await restore(id, owner.auth)).status).toBe(200);
    await problem(await restore(id, owner.auth), 404, "document_not_found");
    expect((await restore("not-a-uuid", owner.auth)).status).toBe(422);
  });

  it("does not change the owner's storage usage (trash counts until purged)", async () => {
    const user = await newUser("trash-quota");
    const usage = async () =>
      ((await (await me(user.tokens.access_token)).json()) as { storage: { used_bytes: number } }).storage.used_bytes;
    const doc = await createDocument(user.auth);
    const used = await usage();
    expect(used).toBe(samplePdf().byteLength);
    expect((await del(`${DOCS}/${doc.id}`, user.auth)).status).toBe(204);
    expect(await usage()).toBe(used);
    expect((await restore(doc.id, user.auth)).status).toBe(200);
    expect(await usage()).toBe(used);
  });
});

describe("DELETE /trash/{id}", () => {
  it.each([
    ["admin", 403, "role_too_low"],
    ["editor", 404, "document_not_found"],
    ["reader", 404, "document_not_found"],
    ["stranger", 404, "document_not_found"],
    ["anonymous", 401, "token_missing"],
  ] as const)("as %s → %i, changing nothing", async (who, status, code) => {
    const id = await trashed();
    const auth = who === "anonymous" ? {} : { admin, editor, reader, stranger }[who].auth;
    const before = { ...(await databaseSnapshot()), keys: await storedKeys(`documents/${id}/`) };
    await problem(await del(`${TRASH}/${id}`, auth), status, code);
    expect({ ...(await databaseSnapshot()), keys: await storedKeys(`documents/${id}/`) }).toEqual(before);
    expect((await restore(id, owner.auth)).status).toBe(200);
  });

  it("purges for the owner: bytes, versions, tags, permissions gone; tombstone and activity kept; quota dropped", async () => {
    const user = await newUser("trash-purger");
    const usage = async () =>
      ((await (await me(user.tokens.access_token)).json()) as { storage: { used_bytes: number } }).storage.used_bytes;
    const keep = await createDocument(user.auth);
    const doc = await createDocument(user.auth, {
      fields: { title: "Purge me", description: "secret plans", tags: "a,b" },
    });
    expect((await uploadVersion(user.auth, doc.id, { bytes: samplePdf("version two"), name: "two.pdf" })).status).toBe(
      201,
    );
    expect(
      (await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: reader.id, role: "READ" }, user.auth)).status,
    ).toBe(201);
    const bytes = samplePdf().byteLength + samplePdf("version two").byteLength;
    expect(await usage()).toBe(bytes + samplePdf().byteLength);
    expect(await storedKeys(`documents/${doc.id}/`)).toHaveLength(2);
    // Version 2's text indexing (a background content.indexed row) is recorded before counting.
    await indexingFinished(user.auth, doc.id);
    const activityBefore =
      await sql`select id, action from activity_logs where document_id = ${doc.id} order by created_at, id`;
    expect((await del(`${DOCS}/${doc.id}`, user.auth)).status).toBe(204);
    // Live documents cannot be purged: only what is in the trash.
    await problem(await del(`${TRASH}/${keep.id}`, user.auth), 404, "document_not_found");

    expect((await del(`${TRASH}/${doc.id}`, user.auth)).status).toBe(204);
    expect(await storedKeys(`documents/${doc.id}/`)).toEqual([]);
    expect(await storedKeys(`documents/${keep.id}/`)).toHaveLength(1);
    const [rows] = await sql`select
      (select count(*) from document_versions where document_id = ${doc.id})::int as versions,
      (select count(*) from document_tags where document_id = ${doc.id})::int as tags,
      (select count(*) from document_permissions where document_id = ${doc.id})::int as permissions`;
    expect(rows).toEqual({ versions: 0, tags: 0, permissions: 0 });
    const [tombstone] = await sql`select title, description, owner_id, purged_at is not null as purged,
      deleted_at is not null as deleted, search_vector::text as search from documents where id = ${doc.id}`;
    expect(tombstone).toEqual({
      title: "Purge me",
      description: null,
      owner_id: user.id,
      purged: true,
      deleted: true,
      search: "",
    });
    const activityAfter =
      await sql`select id, action, actor_id, details from activity_logs where document_id = ${doc.id} order by created_at, id`;
    expect(activityAfter.slice(0, activityBefore.length).map((r) => r.id)).toEqual(activityBefore.map((r) => r.id));
    // The purge's own rows (one statement, so one timestamp and no order among them): the purge,
    // and the end of each holder's access (the changes feed lists it to them).
    const added = activityAfter.slice(activityBefore.length);
    expect(added).toHaveLength(3);
    expect(added).toContainEqual(
      expect.objectContaining({
        action: "document.purged",
        actor_id: user.id,
        details: { title: "Purge me", reason: "owner", versions: 2, size_bytes: bytes },
      }),
    );
    expect(added).toContainEqual(
      expect.objectContaining({
        action: "permission.revoked",
        actor_id: user.id,
        details: { user_id: reader.id, role: "READ", reason: "purged" },
      }),
    );
    expect(await usage()).toBe(samplePdf().byteLength);
    // Gone from everywhere: the trash, the routes, a second purge, a restore.
    expect((await trashOf(user)).items.map((d) => d.id)).not.toContain(doc.id);
    await problem(await get(`${DOCS}/${doc.id}`, user.auth), 404, "document_not_found");
    await problem(await del(`${TRASH}/${doc.id}`, user.auth), 404, "document_not_found");
    await problem(await restore(doc.id, user.auth), 404, "document_not_found");
    await problem(await get(`${DOCS}/${doc.id}`, reader.auth), 404, "document_not_found");
  });
});
