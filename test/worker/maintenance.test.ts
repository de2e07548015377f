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
});
