// The purge: by the scheduled job once the retention has passed (and not before), bounded and
// resumable, with storage down (nothing half-done, a retry finishes), and two runs at once
// (no document purged twice, none skipped, no restore of a half-purged document).
import { createExecutionContext, createScheduledController, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createDatabase } from "../../src/db/client";
import { purgeDueDocuments } from "../../src/documents/purge";
import worker from "../../src/index";
import { runScheduledMaintenance } from "../../src/maintenance";
import { ObjectStorage } from "../../src/storage/object-storage";
import { BASE, newUser, postJson } from "../support/auth";
import { createDocument, DOCS, samplePdf, uploadVersion } from "../support/documents";
import { storedKeys, testConfig, testSql } from "../support/stack";

const sql = testSql();
const TRASH = `${BASE}/api/v1/trash`;
const DAY = 86_400_000;
type User = Awaited<ReturnType<typeof newUser>>;

const del = (url: string, auth: Record<string, string>) => SELF.fetch(url, { method: "DELETE", headers: auth });

/** A trashed document with two versions, tags and a permission; its bytes. */
async function trashedDocument(owner: User, reader: User, title: string) {
  const doc = await createDocument(owner.auth, { fields: { title, tags: "x,y" } });
  expect((await uploadVersion(owner.auth, doc.id, { bytes: samplePdf(`${title} v2`) })).status).toBe(201);
  expect(
    (await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: reader.id, role: "READ" }, owner.auth)).status,
  ).toBe(201);
  expect((await del(`${DOCS}/${doc.id}`, owner.auth)).status).toBe(204);
  return { id: doc.id, bytes: samplePdf().byteLength + samplePdf(`${title} v2`).byteLength };
}

async function rowsOf(id: string) {
  const [row] = await sql`select
    (select count(*) from document_versions where document_id = ${id})::int as versions,
    (select count(*) from document_tags where document_id = ${id})::int as tags,
    (select count(*) from document_permissions where document_id = ${id})::int as permissions,
    (select purged_at is not null from documents where id = ${id}) as purged,
    (select count(*) from activity_logs where document_id = ${id} and action = 'document.purged')::int as purge_rows`;
  return { ...row, keys: (await storedKeys(`documents/${id}/`)).length };
}

const intact = { versions: 2, tags: 2, permissions: 1, purged: false, purge_rows: 0, keys: 2 };
const gone = { versions: 0, tags: 0, permissions: 0, purged: true, purge_rows: 1, keys: 0 };

const usedBytes = async (userId: string) =>
  Number((await sql`select storage_used_bytes from users where id = ${userId}`)[0]?.storage_used_bytes);

async function scheduledAt(time: number) {
  // The Worker's own scheduled() handler, as the Cron Trigger calls it.
  await worker.scheduled(createScheduledController({ scheduledTime: time, cron: "0 * * * *" }), env);
}

describe("the scheduled purge", () => {
  it("purges nothing before the retention, and everything due once scheduled() runs past it", async () => {
    const owner = await newUser("purge-owner");
    const reader = await newUser("purge-reader");
    const live = await createDocument(owner.auth);
    const doc = await trashedDocument(owner, reader, "retained");
    const used = await usedBytes(owner.id);
    const activityBefore = await sql`select id from activity_logs where document_id = ${doc.id} order by id`;

    await scheduledAt(Date.now() + 29 * DAY);
    expect(await rowsOf(doc.id)).toEqual(intact);
    expect(await usedBytes(owner.id)).toBe(used);

    await scheduledAt(Date.now() + 30 * DAY + 60_000);
    expect(await rowsOf(doc.id)).toEqual(gone);
    expect(await usedBytes(owner.id)).toBe(used - doc.bytes);
    // Every earlier activity row is kept; the purge adds its own, by no user.
    const activityAfter =
      await sql`select id, action, actor_id, details from activity_logs where document_id = ${doc.id}`;
    expect(activityAfter.map((r) => r.id)).toEqual(expect.arrayContaining(activityBefore.map((r) => r.id)));
    expect(activityAfter.find((r) => r.action === "document.purged")).toMatchObject({
      actor_id: null,
      details: { reason: "retention", versions: 2, size_bytes: doc.bytes, title: "retained" },
    });
    // The live document and its bytes are untouched.
    expect((await SELF.fetch(`${DOCS}/${live.id}`, { headers: owner.auth })).status).toBe(200);
    expect(await storedKeys(`documents/${live.id}/`)).toHaveLength(1);
  });

  it("honours TRASH_RETENTION_DAYS and is bounded per run, resuming where it stopped", async () => {
    const owner = await newUser("purge-bounded");
    const reader = await newUser("purge-bounded-reader");
    const docs = [];
    for (let i = 0; i < 5; i++) docs.push(await trashedDocument(owner, reader, `bounded ${i}`));
    const ids = docs.map((d) => d.id);
    // Deleted 3 days ago: due with a retention of 2 days, not with the default 30.
    await sql`update documents set deleted_at = now() - interval '3 days' where id = any(${ids}::uuid[])`;
    expect((await runScheduledMaintenance(testConfig(), "test")).purgedDocuments).toBe(0);
    const config = { ...testConfig(), TRASH_RETENTION_DAYS: 2 };
    const runs = [];
    for (let i = 0; i < 3; i++)
      runs.push((await runScheduledMaintenance(config, "test", { maxPurgesPerRun: 2 })).purgedDocuments);
    expect(runs).toEqual([2, 2, 1]);
    for (const id of ids) expect(await rowsOf(id)).toEqual(gone);
    expect(await usedBytes(owner.id)).toBe(0);
  });
});

describe("purging with storage down", () => {
  const DEAD_STORAGE = { S3_ENDPOINT: "http://127.0.0.1:9" };

  async function purgeWith(id: string, auth: Record<string, string>, bindings: Record<string, string>) {
    const ctx = createExecutionContext();
    const request = new Request(`${TRASH}/${id}`, { method: "DELETE", headers: auth });
    const res = await worker.fetch(request as Parameters<typeof worker.fetch>[0], { ...env, ...bindings } as Env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  it("answers 503 with every row and byte kept; the document can no longer be restored; a retry finishes", async () => {
    const owner = await newUser("purge-down");
    const reader = await newUser("purge-down-reader");
    const doc = await trashedDocument(owner, reader, "storage down");
    const used = await usedBytes(owner.id);

    const res = await purgeWith(doc.id, owner.auth, DEAD_STORAGE);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe("storage_unavailable");
    expect(await rowsOf(doc.id)).toEqual(intact);
    expect(await usedBytes(owner.id)).toBe(used);
    const trash = (await (await SELF.fetch(TRASH, { headers: owner.auth })).json()) as { items: { id: string }[] };
    expect(trash.items.map((d) => d.id)).toContain(doc.id);
    const restore = await SELF.fetch(`${TRASH}/${doc.id}/restore`, { method: "POST", headers: owner.auth });
    expect(restore.status).toBe(409);
    expect(((await restore.json()) as { code: string }).code).toBe("document_purging");

    // A retry right away (the failed purge gave its claim back) finishes the job.
    expect((await purgeWith(doc.id, owner.auth, {})).status).toBe(204);
    expect(await rowsOf(doc.id)).toEqual(gone);
    expect(await usedBytes(owner.id)).toBe(used - doc.bytes);
  });

  it("leaves an interrupted purge to the next scheduled run, which finishes it before the retention", async () => {
    const owner = await newUser("purge-resume");
    const reader = await newUser("purge-resume-reader");
    const doc = await trashedDocument(owner, reader, "resumed");
    expect((await purgeWith(doc.id, owner.auth, DEAD_STORAGE)).status).toBe(503);
    // Part of its bytes went before the failure.
    const [first] = await storedKeys(`documents/${doc.id}/`);
    await new ObjectStorage(env).delete(first as string);
    const result = await runScheduledMaintenance(testConfig(), "test");
    expect(result.purgedDocuments).toBe(1);
    expect(await rowsOf(doc.id)).toEqual(gone);
  });
});

describe("concurrent purges", () => {
  it("two runs at once purge every due document exactly once, and a restore racing them never gets a half-purged one", async () => {
    const owner = await newUser("purge-race");
    const reader = await newUser("purge-race-reader");
    const docs = [];
    for (let i = 0; i < 16; i++) docs.push(await trashedDocument(owner, reader, `race ${i}`));
    const ids = docs.map((d) => d.id);
    await sql`update documents set deleted_at = now() - interval '40 days' where id = any(${ids}::uuid[])`;
    const used = await usedBytes(owner.id);
    const config = testConfig();
    // Every key either run asks the store to delete: no key may be asked for twice.
    const deleted: string[] = [];
    class CountingStorage extends ObjectStorage {
      override deleteMany(keys: readonly string[]) {
        deleted.push(...keys);
        return super.deleteMany(keys);
      }
    }
    const run = () =>
      purgeDueDocuments(createDatabase(config), new CountingStorage(config), {
        now: new Date(),
        retentionDays: config.TRASH_RETENTION_DAYS,
        max: 100,
        batchSize: 3,
        timeLeft: () => true,
      });
    // Restores of a few documents race the two runs.
    const racing = ids.slice(0, 4);
    const [a, b, ...restores] = await Promise.all([
      run(),
      run(),
      ...racing.map((id) => SELF.fetch(`${TRASH}/${id}/restore`, { method: "POST", headers: owner.auth })),
    ]);
    const restored = new Set(racing.filter((_, i) => restores[i]?.status === 200));
    // A restore either wins (before the claim) or finds the purge begun (409) or done (404).
    for (const res of restores) expect([200, 404, 409]).toContain(res.status);
    expect((a?.purged ?? 0) + (b?.purged ?? 0)).toBe(ids.length - restored.size);
    let purgedBytes = 0;
    for (const doc of docs) {
      if (restored.has(doc.id)) {
        // Back, whole: every version row and every byte.
        expect(await rowsOf(doc.id)).toEqual(intact);
        expect((await SELF.fetch(`${DOCS}/${doc.id}/download?version=1`, { headers: owner.auth })).status).toBe(200);
      } else {
        expect(await rowsOf(doc.id)).toEqual(gone);
        purgedBytes += doc.bytes;
      }
    }
    expect(await usedBytes(owner.id)).toBe(used - purgedBytes);
    expect(deleted).toHaveLength(new Set(deleted).size);
    expect(deleted).toHaveLength(2 * (ids.length - restored.size));
    // A third run finds nothing left to do.
    expect((await run()).purged).toBe(0);
  });
});
