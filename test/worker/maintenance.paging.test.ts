// The bucket sweep at scale (issue #12, finding 9): more objects than one list page (s3rver,
// like S3, lists at most 1,000 keys per call), a bound per run smaller than the bucket, runs
// that resume where the previous one stopped, and runs that overlap.
import { beforeAll, describe, expect, it } from "vitest";
import { runScheduledMaintenance } from "../../src/maintenance";
import { newUser, postJson } from "../support/auth";
import { createDocument, samplePdf } from "../support/documents";
import { testConfig, testSql, testStorage } from "../support/stack";

const sql = testSql();
const storage = testStorage();
let referenced: string[] = [];

/** Stores `count` objects that nothing refers to, under both of the service's key spaces. */
async function putOrphans(count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) =>
    i % 10 === 0 ? `uploads/${crypto.randomUUID()}` : `documents/${crypto.randomUUID()}/${crypto.randomUUID()}`,
  );
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(keys.slice(i, i + 50).map((key) => storage.put(key, "orphan", { contentType: "text/plain" })));
  }
  return keys;
}

const marker = async () =>
  (await sql`select value from maintenance_state where name = 'orphan_sweep_marker'`)[0]?.value as string | undefined;

beforeAll(async () => {
  const user = await newUser("sweeper-paging");
  // Referenced objects: versions of documents, and a pending upload's staged bytes.
  for (let i = 0; i < 4; i++) await createDocument(user.auth);
  const started = await postJson(
    "http://api.test/api/v1/uploads",
    { file_name: "pending.pdf", content_type: "application/pdf", size_bytes: samplePdf().length },
    user.auth,
  );
  const ticket = (await started.json()) as { url: string; headers: Record<string, string> };
  expect((await fetch(ticket.url, { method: "PUT", headers: ticket.headers, body: samplePdf() })).status).toBe(200);
  referenced = (await sql`select storage_key from document_versions union all select storage_key from uploads`).map(
    (r) => r.storage_key as string,
  );
  expect(referenced).toHaveLength(5);
}, 60_000);

describe("the bucket sweep", () => {
  it("is bounded per run and resumes where the last run stopped; two runs clear 1,200 orphans", async () => {
    const orphans = await putOrphans(1200);
    const total = orphans.length + referenced.length;
    const bounds = { orphanAgeSeconds: 0, maxObjectsPerRun: 1000 };

    const all = await storage.listKeys(); // in the store's order, as the sweep lists
    expect(all).toHaveLength(total);

    const first = await runScheduledMaintenance(testConfig(), "test", bounds);
    // The bucket holds more than one list page (1,000 keys, S3's and s3rver's largest); the
    // bound stops the run after the first 1,000 keys, and the next run starts after them.
    expect(first.listedObjects).toBe(1000);
    expect(first.listingWrapped).toBe(false);
    expect(await marker()).toBe(all[999]);
    const referencedSeen = all.slice(0, 1000).filter((k) => referenced.includes(k)).length;
    expect(first.orphans).toBe(1000 - referencedSeen);
    expect(await storage.listKeys()).toEqual([
      ...all.slice(0, 1000).filter((k) => referenced.includes(k)),
      ...all.slice(1000),
    ]);

    const second = await runScheduledMaintenance(testConfig(), "test", bounds);
    expect(second.listedObjects).toBe(total - 1000);
    expect(second.listingWrapped).toBe(true);
    expect(first.orphans + second.orphans).toBe(orphans.length);
    expect((await storage.listKeys()).sort()).toEqual([...referenced].sort());
    expect(await marker()).toBe("");
  }, 120_000);

  it("stops starting pages when its time is up, after at least one", async () => {
    const orphans = await putOrphans(300);
    const run = await runScheduledMaintenance(testConfig(), "test", {
      orphanAgeSeconds: 0,
      maxRunMs: 0,
      listPageSize: 100,
    });
    expect(run.listedObjects).toBe(100);
    expect(run.listingWrapped).toBe(false);
    // Further runs finish the job, one page each.
    for (let i = 0; i < 5 && (await storage.listKeys()).length > referenced.length; i++) {
      await runScheduledMaintenance(testConfig(), "test", { orphanAgeSeconds: 0, maxRunMs: 0, listPageSize: 100 });
    }
    const keys = await storage.listKeys();
    expect(keys.sort()).toEqual([...referenced].sort());
    expect(orphans.some((k) => keys.includes(k))).toBe(false);
  }, 120_000);

  it("is safe when runs overlap: no error, referenced objects survive", async () => {
    await putOrphans(1100);
    const bounds = { orphanAgeSeconds: 0, maxObjectsPerRun: 700, listPageSize: 350 };
    const runs = await Promise.all([1, 2, 3].map(() => runScheduledMaintenance(testConfig(), "test", bounds)));
    for (const run of runs) expect(run.listedObjects).toBeGreaterThan(0);
    for (let i = 0; i < 4 && (await storage.listKeys()).length > referenced.length; i++) {
      await Promise.all([1, 2].map(() => runScheduledMaintenance(testConfig(), "test", bounds)));
    }
    expect((await storage.listKeys()).sort()).toEqual([...referenced].sort());
  }, 120_000);

  it("removes expired uploads in bounded batches, with their staged bytes", async () => {
    const user = await newUser("sweeper-expired");
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await postJson(
        "http://api.test/api/v1/uploads",
        { file_name: `e${i}.pdf`, content_type: "application/pdf", size_bytes: samplePdf().length },
        user.auth,
      );
      const ticket = (await res.json()) as { upload_id: string; url: string; headers: Record<string, string> };
      await fetch(ticket.url, { method: "PUT", headers: ticket.headers, body: samplePdf() });
      ids.push(ticket.upload_id);
    }
    await sql`update uploads set expires_at = now() - interval '2 hours' where id = any(${ids}::uuid[])`;
    const first = await runScheduledMaintenance(testConfig(), "test", { maxUploadsPerRun: 5 });
    expect(first.uploads).toBe(5);
    const second = await runScheduledMaintenance(testConfig(), "test", { maxUploadsPerRun: 100 });
    expect(second.uploads).toBe(7);
    expect(await sql`select status from uploads where id = any(${ids}::uuid[]) and status = 'EXPIRED'`).toHaveLength(
      ids.length,
    );
    for (const id of ids) expect(await storage.head(`uploads/${id}`)).toBeNull();
    expect((await storage.listKeys()).sort()).toEqual([...referenced].sort());
  }, 60_000);
});
