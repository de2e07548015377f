// Request budgets (#13): the Rate Limiting binding, as Miniflare simulates it (fixed 60 s windows
// aligned to the clock), holds each budget exactly; one caller's budget never limits another's;
// limited responses carry RateLimit-Policy and RateLimit. Each test uses fresh users and
// addresses, so its keys are its own; small budgets are chosen per call through the bindings.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { BASE, newUser, PASSWORD, uniqueEmail } from "../support/auth";
import { multipart, samplePdf } from "../support/documents";
import { testSql } from "../support/stack";

type Bindings = Partial<Record<keyof Env, string>>;

// A test may first wait up to 30 s for a fresh window (freshWindow), beyond the default timeout.
vi.setConfig({ testTimeout: 90_000 });

async function call(path: string, init: RequestInit, bindings: Bindings) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${BASE}${path}`, init) as never, { ...env, ...bindings } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Waits for a fresh window when the current one ends too soon for a burst to fit in it. */
async function freshWindow(needSeconds = 20) {
  const left = 60 - ((Date.now() / 1000) % 60);
  if (left < needSeconds) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 100));
}

const statuses = (responses: Response[]) => responses.map((r) => r.status);

async function expectLimited(res: Response, policy: string) {
  expect(res.status).toBe(429);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.headers.get("ratelimit-policy")).toContain(policy);
  expect(res.headers.get("ratelimit")).toMatch(/r=0;t=\d+/);
  expect(((await res.json()) as { code: string }).code).toBe("rate_limited");
}

describe("the per-user budget", () => {
  it("allows exactly RATE_LIMIT_PER_MINUTE requests, with headers counting down", async () => {
    const user = await newUser("budget");
    const bindings = { RATE_LIMIT_PER_MINUTE: "10" };
    await freshWindow();
    const allowed: Response[] = [];
    for (let i = 0; i < 10; i++) allowed.push(await call("/api/v1/documents", { headers: user.auth }, bindings));
    expect(statuses(allowed)).toEqual(Array(10).fill(200));
    expect(allowed.map((r) => r.headers.get("ratelimit-policy"))).toEqual(Array(10).fill('"user";q=10;w=60'));
    expect(allowed.map((r) => Number(/r=(\d+)/.exec(r.headers.get("ratelimit") ?? "")?.[1]))).toEqual([
      9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
    ]);
    await expectLimited(await call("/api/v1/documents", { headers: user.auth }, bindings), '"user";q=10');
    // Every route of the user shares the budget, errors included.
    await expectLimited(
      await call(`/api/v1/documents/${crypto.randomUUID()}`, { headers: user.auth }, bindings),
      "user",
    );
  });

  it("holds under concurrency and never limits another user", async () => {
    const [a, b] = [await newUser("budget-a"), await newUser("budget-b")];
    const bindings = { RATE_LIMIT_PER_MINUTE: "20" };
    await freshWindow();
    const burst = await Promise.all(
      Array.from({ length: 30 }, () => call("/api/v1/documents", { headers: a.auth }, bindings)),
    );
    expect(burst.filter((r) => r.status === 200)).toHaveLength(20);
    expect(burst.filter((r) => r.status === 429)).toHaveLength(10);
    const other = await call("/api/v1/documents", { headers: b.auth }, bindings);
    expect(other.status).toBe(200);
    expect(other.headers.get("ratelimit")).toMatch(/^"user";r=19;t=\d+$/);
  });

  it("also covers GET /auth/me, and a response's problem keeps the headers", async () => {
    const user = await newUser("budget-me");
    const res = await call("/api/v1/auth/me", { headers: user.auth }, { RATE_LIMIT_PER_MINUTE: "10" });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe('"user";q=10;w=60');
    const missing = await call(`/api/v1/documents/${crypto.randomUUID()}`, { headers: user.auth }, {});
    expect(missing.status).toBe(404);
    expect(missing.headers.get("ratelimit-policy")).toBe('"user";q=10000;w=60');
    expect(missing.headers.get("ratelimit")).toMatch(/^"user";r=\d+;t=\d+$/);
  });
});

describe("the upload budget", () => {
  it("counts uploads, version uploads and direct-upload starts together", async () => {
    const user = await newUser("budget-upload");
    const bindings = { UPLOAD_RATE_LIMIT_PER_MINUTE: "10" };
    await freshWindow(30);
    const upload = () =>
      call(
        "/api/v1/documents",
        { method: "POST", headers: user.auth, body: multipart({ bytes: samplePdf() }) },
        bindings,
      );
    const first = await upload();
    expect(first.status).toBe(201);
    expect(first.headers.get("ratelimit-policy")).toBe('"upload";q=10;w=60, "user";q=10000;w=60');
    const { id } = (await first.json()) as { id: string };
    const results: number[] = [];
    for (let i = 0; i < 4; i++) results.push((await upload()).status);
    for (let i = 0; i < 3; i++) {
      const res = await call(
        `/api/v1/documents/${id}/upload-version`,
        { method: "POST", headers: user.auth, body: multipart({ bytes: samplePdf(`v${i}`) }) },
        bindings,
      );
      results.push(res.status);
    }
    for (let i = 0; i < 2; i++) {
      const res = await call(
        "/api/v1/uploads",
        {
          method: "POST",
          headers: { ...user.auth, "Content-Type": "application/json" },
          body: JSON.stringify({ file_name: "a.pdf", content_type: "application/pdf", size_bytes: 10 }),
        },
        bindings,
      );
      results.push(res.status);
    }
    expect(results).toEqual([201, 201, 201, 201, 201, 201, 201, 201, 201]);
    const documentsBefore = (await testSql()`select count(*)::int as n from documents where owner_id = ${user.id}`)[0]
      ?.n;
    await expectLimited(await upload(), '"upload";q=10');
    // Refused before anything was read or stored.
    expect((await testSql()`select count(*)::int as n from documents where owner_id = ${user.id}`)[0]?.n).toBe(
      documentsBefore,
    );
    // Reading is not an upload.
    expect((await call(`/api/v1/documents/${id}`, { headers: user.auth }, bindings)).status).toBe(200);
  });
});

describe("the registration budget", () => {
  const register = (address: string, bindings: Bindings, email = uniqueEmail("reg")) =>
    call(
      "/api/v1/auth/register",
      {
        method: "POST",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": address },
        body: JSON.stringify({ email, password: PASSWORD }),
      },
      bindings,
    );

  it("allows REGISTER_RATE_LIMIT_PER_MINUTE attempts per address, IPv6 by /64, before any work", async () => {
    const bindings = { REGISTER_RATE_LIMIT_PER_MINUTE: "10" };
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
    await freshWindow(30);
    const results: Response[] = [];
    // Ten addresses of one /64 share the budget.
    for (let i = 0; i < 10; i++) results.push(await register(`${prefix}::${i + 1}`, bindings));
    expect(statuses(results)).toEqual(Array(10).fill(201));
    expect(results[0]?.headers.get("ratelimit-policy")).toBe('"register";q=10;w=60');
    const refusedEmail = uniqueEmail("refused");
    await expectLimited(await register(`${prefix}::ffff`, bindings, refusedEmail), '"register";q=10');
    expect((await testSql()`select count(*)::int as n from users where email = ${refusedEmail}`)[0]?.n).toBe(0);
    // Another /64 and an IPv4 address have budgets of their own.
    const otherPrefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:1`;
    expect((await register(`${otherPrefix}::1`, bindings)).status).toBe(201);
    expect((await register(`198.51.100.${Math.floor(Math.random() * 250) + 1}`, bindings)).status).toBe(201);
  });
});

describe("budget configuration", () => {
  it("refuses a budget that has no namespace in wrangler.toml, naming the variable", async () => {
    const res = await call("/health/live", {}, { RATE_LIMIT_PER_MINUTE: "7" });
    expect(res.status).toBe(500);
    for (const name of ["UPLOAD_RATE_LIMIT_PER_MINUTE", "REGISTER_RATE_LIMIT_PER_MINUTE"]) {
      expect((await call("/health/live", {}, { [name]: "0" })).status).toBe(500);
    }
    expect((await call("/health/live", {}, { RATE_LIMIT_PER_MINUTE: "1200" })).status).toBe(200);
  });
});
