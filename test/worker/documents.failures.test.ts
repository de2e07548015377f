// Uploads that fail half-way leave nothing behind: over-limit bodies whatever Content-Length
// claims, a database that fails after the bytes were stored, a store that is down.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import worker from "../../src/index";
import { runScheduledMaintenance } from "../../src/maintenance";
import { newUser } from "../support/auth";
import { DOCS, multipart, samplePdf } from "../support/documents";
import { databaseSnapshot, storedKeys, testConfig } from "../support/stack";

let user: Awaited<ReturnType<typeof newUser>>;

beforeAll(async () => {
  user = await newUser("failures");
});

async function call(request: Request, bindings: Partial<Record<keyof Env, string>>) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Parameters<typeof worker.fetch>[0], { ...env, ...bindings } as Env, ctx);
  await waitOnExecutionContext(ctx); // lets the orphan clean-up finish
  return res;
}

const state = async () => ({ ...(await databaseSnapshot()), objects: await storedKeys() });

async function multipartBytes(form: FormData) {
  const req = new Request("http://x/", { method: "POST", body: form });
  return { body: new Uint8Array(await req.arrayBuffer()), contentType: req.headers.get("content-type") as string };
}

// Another database host, so only this Worker's client is pointed at the dead endpoint.
const DEAD_DATABASE = {
  DATABASE_URL: "postgresql://local:local@dead-db.localhost:5432/docvault",
  NEON_HTTP_ENDPOINT: "http://127.0.0.1:9/sql",
};

describe("upload size limit", () => {
  it("answers 413 for a file over MAX_UPLOAD_BYTES whose Content-Length lies, storing nothing", async () => {
    const before = await state();
    const { body, contentType } = await multipartBytes(
      multipart({ bytes: new Uint8Array(400_000).fill(0x41), name: "big.txt" }),
    );
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < body.length; i += 16_384) controller.enqueue(body.slice(i, i + 16_384));
        controller.close();
      },
    });
    const request = new Request(DOCS, {
      method: "POST",
      headers: { ...user.auth, "Content-Type": contentType, "Content-Length": "1000" },
      body: stream,
    });
    const res = await call(request, { MAX_UPLOAD_BYTES: "100000" });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await state()).toEqual(before);
  });

  it("answers 413 from an honest Content-Length before reading the body", async () => {
    const { body, contentType } = await multipartBytes(
      multipart({ bytes: new Uint8Array(400_000).fill(0x41), name: "big.txt" }),
    );
    const request = new Request(DOCS, { method: "POST", headers: { ...user.auth, "Content-Type": contentType }, body });
    expect((await call(request, { MAX_UPLOAD_BYTES: "100000" })).status).toBe(413);
  });

  it("accepts a file of exactly the limit", async () => {
    const bytes = new Uint8Array(100_000).fill(0x41);
    const { body, contentType } = await multipartBytes(multipart({ bytes, name: "edge.txt" }));
    const request = new Request(DOCS, { method: "POST", headers: { ...user.auth, "Content-Type": contentType }, body });
    const res = await call(request, { MAX_UPLOAD_BYTES: "100000" });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { size_bytes: number }).size_bytes).toBe(100_000);
  });
});

describe("dependency failures", () => {
  it("answers 503 when the database write fails, writing no row and leaving the bytes to the sweeper", async () => {
    const before = await state();
    const request = new Request(DOCS, { method: "POST", headers: user.auth, body: multipart({ bytes: samplePdf() }) });
    // Unlimited storage: with a quota, the usage read before storing fails first and nothing is
    // stored (503 all the same); this case is the write failing after the bytes are stored.
    const res = await call(request, { ...DEAD_DATABASE, STORAGE_QUOTA_BYTES: "0" });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect(((await res.json()) as { detail: string }).detail).toContain("database");
    // A failed request to the database does not prove the statement did not run (it may commit
    // after a deadline: storage.hardening.test.ts), so the object stays until the sweeper finds
    // it old and unreferenced.
    const after = await state();
    expect({ ...after, objects: undefined }).toEqual({ ...before, objects: undefined });
    const left = after.objects.filter((key) => !before.objects.includes(key));
    expect(left).toHaveLength(1);
    await runScheduledMaintenance(testConfig(), "test", { orphanAgeSeconds: 0 });
    expect(await state()).toEqual(before);
  });

  it("writes nothing when the object store is down, and answers 503", async () => {
    const before = await state();
    const request = new Request(DOCS, { method: "POST", headers: user.auth, body: multipart({ bytes: samplePdf() }) });
    const res = await call(request, { S3_ENDPOINT: "http://127.0.0.1:9" });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toContain("storage");
    expect(await state()).toEqual(before);
  });
});

describe("slow dependencies", () => {
  it("answers 503 when the database stops answering, within its deadline", async () => {
    const before = await state();
    const started = Date.now();
    const request = new Request(`${DOCS}/${crypto.randomUUID()}`, { headers: user.auth });
    const res = await call(request, {
      DATABASE_URL: "postgresql://local:local@hanging-db.localhost:5432/docvault",
      NEON_HTTP_ENDPOINT: `${inject("blackHole")}/sql`,
      DATABASE_TIMEOUT_MS: "500",
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toContain("database");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await state()).toEqual(before);
  });

  it("answers 503 when the store stops answering during an upload, writing nothing", async () => {
    const before = await state();
    const started = Date.now();
    const request = new Request(DOCS, { method: "POST", headers: user.auth, body: multipart({ bytes: samplePdf() }) });
    const res = await call(request, { S3_ENDPOINT: inject("blackHole"), STORAGE_TIMEOUT_MS: "500" });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toContain("storage");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await state()).toEqual(before);
  });

  it("reports a hanging store in /health within the check's deadline", async () => {
    const started = Date.now();
    const res = await call(new Request("http://api.test/health"), { S3_ENDPOINT: inject("blackHole") });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "error", checks: { database: "ok", storage: "error" } });
    expect(Date.now() - started).toBeLessThan(6000);
  });
});
