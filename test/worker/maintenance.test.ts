// The scheduled sweeper: uploads never completed and objects nothing refers to go; everything
// referenced stays.
import { beforeAll, describe, expect, it } from "vitest";
import { runScheduledMaintenance } from "../../src/maintenance";
import { newUser, postJson } from "../support/auth";
import { createDocument, samplePdf } from "../support/documents";
import { testConfig, testSql, testStorage } from "../support/stack";

const sql = testSql();
const storage = testStorage();
let user: Awaited<ReturnType<typeof newUser>>;

beforeAll(async () => {
  user = await newUser("sweeper");
});

describe("scheduled sweeper", () => {
  it("removes expired uploads and orphaned objects, and keeps what is referenced", async () => {
    const doc = await createDocument(user.auth);
    const [version] = await sql`select storage_key from document_versions where document_id = ${doc.id}`;

    // An upload whose URL expired long ago, with its bytes.
    const bytes = samplePdf();
    const started = await postJson(
      "http://api.test/api/v1/uploads",
      { file_name: "old.pdf", content_type: "application/pdf", size_bytes: bytes.byteLength },
      user.auth,
    );
    const ticket = (await started.json()) as { upload_id: string; url: string; headers: Record<string, string> };
    await fetch(ticket.url, { method: "PUT", headers: ticket.headers, body: bytes });
    const [upload] =
      await sql`update uploads set expires_at = now() - interval '2 hours' where id = ${ticket.upload_id} returning storage_key`;

    // A live upload, and an object no row refers to.
    const live = await postJson(
      "http://api.test/api/v1/uploads",
      { file_name: "live.pdf", content_type: "application/pdf", size_bytes: 3 },
      user.auth,
    );
    const liveTicket = (await live.json()) as { upload_id: string; url: string; headers: Record<string, string> };
    await fetch(liveTicket.url, { method: "PUT", headers: liveTicket.headers, body: "abc" });
    const orphan = `documents/${crypto.randomUUID()}/${crypto.randomUUID()}`;
    await storage.put(orphan, "orphaned bytes", { contentType: "text/plain" });

    const result = await runScheduledMaintenance(testConfig(), "test", {
      orphanAgeSeconds: 0,
      uploadGraceSeconds: 3600,
    });
    expect(result.uploads).toBe(1);
    expect(result.orphans).toBe(1);

    const keys = await storage.listKeys();
    expect(keys).toContain(version?.storage_key);
    expect(keys).not.toContain(upload?.storage_key);
    expect(keys).not.toContain(orphan);
    const liveKey = (await sql`select storage_key from uploads where id = ${liveTicket.upload_id}`)[0]?.storage_key;
    expect(keys).toContain(liveKey);
    // The expired upload's record stays, marked, until its retention passes.
    expect((await sql`select status from uploads where id = ${ticket.upload_id}`)[0]?.status).toBe("EXPIRED");
  });

  it("leaves young objects alone: they may belong to a request still writing its row", async () => {
    const young = `documents/${crypto.randomUUID()}/${crypto.randomUUID()}`;
    await storage.put(young, "in flight", { contentType: "text/plain" });
    const result = await runScheduledMaintenance(testConfig(), "test");
    expect(result.orphans).toBe(0);
    expect(await storage.head(young)).not.toBeNull();
  });

  it("deletes finished webhook deliveries past their retention, oldest first and bounded per run, and keeps the rest", async () => {
    const [hook] = await sql`insert into webhooks (id, owner_id, url, secret_ciphertext)
      values (${crypto.randomUUID()}, ${user.id}, 'https://hooks.example.com/x', 'v1.x.y') returning id`;
    const days = testConfig().WEBHOOK_DELIVERY_RETENTION_DAYS;
    const make = async (label: string, ageDays: number, finished: "delivered" | "ended" | null) => {
      const [row] =
        await sql`insert into webhook_deliveries (webhook_id, type, created_at, delivered_at, ended_reason, next_attempt_at)
        values (${hook?.id}, ${label}, now() - make_interval(days => ${ageDays}::int),
          ${finished === "delivered" ? sql`now()` : null}, ${finished === "ended" ? "gave_up" : null},
          ${finished ? null : sql`now()`})
        returning id`;
      return row?.id as string;
    };
    await make("oldest delivered", days + 3, "delivered");
    await make("older gave up", days + 2, "ended");
    const old = await make("old delivered", days + 1, "delivered");
    const oldPending = await make("old, still retried", days + 5, null);
    const recent = await make("recent delivered", days - 1, "delivered");
    const left = async () =>
      (await sql`select id from webhook_deliveries where webhook_id = ${hook?.id}`).map((r) => r.id as string).sort();

    const first = await runScheduledMaintenance(testConfig(), "test", { maxDeliveriesPerRun: 2 });
    expect(first.prunedDeliveries).toBe(2);
    expect(await left()).toEqual([old, oldPending, recent].sort());
    const second = await runScheduledMaintenance(testConfig(), "test", { maxDeliveriesPerRun: 2 });
    expect(second.prunedDeliveries).toBe(1);
    expect(await left()).toEqual([oldPending, recent].sort());
    await sql`delete from webhooks where id = ${hook?.id}`;
  });
});
