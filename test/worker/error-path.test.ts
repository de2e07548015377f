// The one error path, exercised through a small router built with the app's own factory:
// schema failures (422 naming each field), malformed bodies (400), thrown ApiErrors, dependency
// failures (503) and unexpected errors (500 without internals).
import { createRoute, z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { notFoundFor, onError } from "../../src/lib/error-handler";
import { ApiError, DependencyError, Failure } from "../../src/lib/problem";
import { createRouter } from "../../src/lib/router";

const echo = createRoute({
  method: "post",
  path: "/echo/{id}",
  request: {
    params: z.object({ id: z.uuid() }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(100).optional() }),
    body: {
      required: true,
      content: { "application/json": { schema: z.object({ email: z.email(), count: z.number().int().max(10) }) } },
    },
  },
  responses: { 200: { description: "ok" } },
});

function testApp() {
  const app = createRouter();
  app.openapi(echo, (c) => c.json(c.req.valid("json"), 200));
  app.get("/api-error", () => {
    throw new ApiError("email_taken", "That email is already registered.", { headers: { "X-Extra": "1" } });
  });
  app.get("/domain-failure", () => {
    throw new Failure("login_throttled", "Slow down.", { retryAfterSeconds: 42 });
  });
  app.get("/storage-down", () => {
    throw new DependencyError("storage", new Error("connect ECONNREFUSED 10.0.0.1:9000"));
  });
  app.get("/boom", () => {
    throw new Error("select * from users where password_hash = 'secret'");
  });
  app.notFound(notFoundFor(app.routes));
  app.onError(onError);
  return app;
}

const ID = "6f1c2b8e-2d7a-4a59-9c61-0b7f3f4f0a11";
const json = (body: unknown) => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

describe("schema validation", () => {
  it("passes a valid request through", async () => {
    const res = await testApp().request(`/echo/${ID}?limit=5`, json({ email: "a@example.com", count: 3, extra: 1 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ email: "a@example.com", count: 3 });
  });

  it("answers 422 naming every failing body field", async () => {
    const res = await testApp().request(`/echo/${ID}`, json({ email: "nope", count: 11.5 }));
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as {
      errors: { path: string; message: string }[];
      status: number;
      title: string;
      code: string;
    };
    expect(body.status).toBe(422);
    expect(body.code).toBe("validation_failed");
    expect(body.title).toBe("Unprocessable Content");
    expect(body.errors.map((e) => e.path).sort()).toEqual(["body.count", "body.email"]);
    for (const e of body.errors) expect(e.message.length).toBeGreaterThan(0);
  });

  it("names missing fields, path and query parameters", async () => {
    let res = await testApp().request(`/echo/${ID}`, json({}));
    let body = (await res.json()) as { errors: { path: string }[] };
    expect(res.status).toBe(422);
    expect(body.errors.map((e) => e.path).sort()).toEqual(["body.count", "body.email"]);

    res = await testApp().request("/echo/not-a-uuid", json({ email: "a@example.com", count: 1 }));
    body = (await res.json()) as { errors: { path: string }[] };
    expect(res.status).toBe(422);
    expect(body.errors.map((e) => e.path)).toEqual(["path.id"]);

    res = await testApp().request(`/echo/${ID}?limit=1000`, json({ email: "a@example.com", count: 1 }));
    body = (await res.json()) as { errors: { path: string }[] };
    expect(res.status).toBe(422);
    expect(body.errors.map((e) => e.path)).toEqual(["query.limit"]);
  });

  it("rejects wrong JSON types with 422", async () => {
    for (const payload of ["[]", "42", '"text"', "null"]) {
      const res = await testApp().request(`/echo/${ID}`, json(payload));
      expect(res.status, payload).toBe(422);
    }
  });

  it("answers 400 for malformed JSON", async () => {
    const res = await testApp().request(`/echo/${ID}`, json('{"email": '));
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({ title: "Bad Request", code: "malformed_body" });
  });
});

describe("thrown errors", () => {
  it("answer an ApiError with its code's status, its detail and headers", async () => {
    const res = await testApp().request("/api-error");
    expect(res.status).toBe(409);
    expect(res.headers.get("x-extra")).toBe("1");
    expect(await res.json()).toEqual({
      type: "about:blank",
      title: "Conflict",
      status: 409,
      detail: "That email is already registered.",
      code: "email_taken",
    });
  });

  it("answer a domain Failure with its code's status and Retry-After", async () => {
    const res = await testApp().request("/domain-failure");
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("42");
    expect(await res.json()).toMatchObject({ status: 429, code: "login_throttled", detail: "Slow down." });
  });

  it("turn a dependency failure into 503 naming it, without its address", async () => {
    const res = await testApp().request("/storage-down");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    const text = await res.text();
    expect(JSON.parse(text).detail).toContain("storage");
    expect(JSON.parse(text).code).toBe("storage_unavailable");
    expect(text).not.toContain("10.0.0.1");
  });

  it("hide everything about an unexpected error", async () => {
    const res = await testApp().request("/boom");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ status: 500, title: "Internal Server Error", code: "internal_error" });
    expect(text).not.toMatch(/select|password|secret|at |\.ts/);
  });
});
