// The Worker's entry point, called with altered bindings: configuration is checked at the
// boundary, and /health names each dependency that is down.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";

async function call(path: string, bindings: Partial<Record<keyof Env, string>>) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://api.test${path}`), { ...env, ...bindings } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

// Nothing listens on port 9 (discard) on loopback.
const DEAD = "http://127.0.0.1:9";

// Another database host, so only this Worker's client is pointed at the dead endpoint.
const DEAD_DATABASE = {
  DATABASE_URL: "postgresql://local:local@dead-db.localhost:5432/docvault",
  NEON_HTTP_ENDPOINT: "http://127.0.0.1:9/sql",
};

describe("configuration", () => {
  it("is validated before any route runs, without leaking values", async () => {
    const res = await call("/health/live", { DATABASE_URL: "not a url", S3_SECRET_ACCESS_KEY: "" });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ status: 500, title: "Internal Server Error" });
    // As every other answer: the request id (in the body too, to quote to the operator) and the security headers.
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(text).request_id).toBe(id);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(text).not.toContain("not a url");
    expect(text).not.toContain(env.S3_ACCESS_KEY_ID);
  });

  it("tells a local caller how to start the stack, naming the variables but no value", async () => {
    // `npx wrangler dev` alone: none of the configuration `npm run dev` generates.
    const missing = { DATABASE_URL: "", S3_ENDPOINT: "", JWT_SECRET: "" };
    const ctx = createExecutionContext();
    const local = await worker.fetch(
      new Request("http://127.0.0.1:8787/api/v1/documents"),
      { ...env, ...missing } as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(local.status).toBe(500);
    const body = (await local.json()) as { detail: string; code: string };
    expect(body.code).toBe("service_misconfigured");
    expect(body.detail).toContain("npm run dev");
    expect(body.detail).toContain(".dev.vars");
    for (const name of Object.keys(missing)) expect(body.detail).toContain(name);
    expect(body.detail).not.toContain(env.S3_SECRET_ACCESS_KEY);
    // Anyone else gets no hint about the configuration.
    const remote = await call("/api/v1/documents", missing);
    expect(((await remote.json()) as { detail: string }).detail).not.toMatch(/DATABASE_URL|npm run dev/);
  });

  it("rejects a CORS origin that is not a URL", async () => {
    const res = await call("/health/live", { CORS_ORIGINS: "https://ok.example.com, *" });
    expect(res.status).toBe(500);
  });

  it("accepts the test configuration", async () => {
    const res = await call("/health/live", {});
    expect(res.status).toBe(200);
  });
});

describe("GET /health with a dependency down", () => {
  it("answers 503 naming the storage", async () => {
    const res = await call("/health", { S3_ENDPOINT: DEAD });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "error", checks: { database: "ok", storage: "error" } });
  });

  it("answers 503 naming the storage when the bucket is missing", async () => {
    const res = await call("/health", { S3_BUCKET: "no-such-bucket" });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "error", checks: { database: "ok", storage: "error" } });
  });

  it("answers 503 naming the database", async () => {
    const res = await call("/health", DEAD_DATABASE);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "error", checks: { database: "error", storage: "ok" } });
  });

  it("answers 503 naming both", async () => {
    const res = await call("/health", { ...DEAD_DATABASE, S3_ENDPOINT: DEAD });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "error", checks: { database: "error", storage: "error" } });
  });

  it("keeps /health/live at 200", async () => {
    const res = await call("/health/live", { ...DEAD_DATABASE, S3_ENDPOINT: DEAD });
    expect(res.status).toBe(200);
  });
});
