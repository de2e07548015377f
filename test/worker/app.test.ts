// Cross-cutting behaviour of every response: problem+json errors, request ids, security
// headers, CORS from the allow-list, and the self-hosted docs.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

const BASE = "http://api.test";

describe("unknown routes", () => {
  it("answer 404 problem+json with the request id", async () => {
    const res = await SELF.fetch(`${BASE}/api/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ type: "about:blank", title: "Not Found", status: 404, code: "route_not_found" });
    expect(body.detail).toContain("/api/v1/nothing-here");
    expect(body.request_id).toBe(res.headers.get("x-request-id"));
  });

  // FastAPI (the original design) redirects a known path written with a trailing slash.
  it("redirect a known path with a trailing slash (307, query kept) and leave unknown ones 404", async () => {
    const health = await SELF.fetch(`${BASE}/health/?verbose=1`, { redirect: "manual" });
    expect(health.status).toBe(307);
    expect(health.headers.get("location")).toBe("/health?verbose=1");
    const register = await SELF.fetch(`${BASE}/api/v1/auth/register/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
      redirect: "manual",
    });
    expect(register.status).toBe(307);
    expect(register.headers.get("location")).toBe("/api/v1/auth/register");
    const id = crypto.randomUUID();
    expect((await SELF.fetch(`${BASE}/api/v1/links/${id}//`, { redirect: "manual" })).headers.get("location")).toBe(
      `/api/v1/links/${id}`,
    );
    for (const path of ["/api/v1/nothing-here/", "/api/v1/auth/"]) {
      const res = await SELF.fetch(`${BASE}${path}`, { redirect: "manual" });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe("route_not_found");
    }
  });

  it("answer 405 with Allow for a path that exists with other methods", async () => {
    const res = await SELF.fetch(`${BASE}/health`, { method: "PUT" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({ status: 405, title: "Method Not Allowed", code: "method_not_allowed" });
    // A path with a parameter: every method of its routes.
    const register = await SELF.fetch(`${BASE}/api/v1/auth/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        email: `allow-${crypto.randomUUID()}@example.com`,
        password: "correct horse battery staple",
      }),
    });
    expect(register.status).toBe(201);
    const login = await SELF.fetch(`${BASE}/api/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        email: ((await register.json()) as { email: string }).email,
        password: "correct horse battery staple",
      }),
    });
    const { access_token } = (await login.json()) as { access_token: string };
    const patch = await SELF.fetch(`${BASE}/api/v1/documents/${crypto.randomUUID()}`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${access_token}` },
    });
    expect(patch.status).toBe(405);
    expect(patch.headers.get("allow")).toBe("DELETE, GET, HEAD, PUT");
    // Without a token the authentication comes first, as for every method there.
    const anonymous = await SELF.fetch(`${BASE}/api/v1/documents/${crypto.randomUUID()}`, { method: "PATCH" });
    expect(anonymous.status).toBe(401);
    // A path that does not exist at all stays 404.
    expect(
      (
        await SELF.fetch(`${BASE}/api/v1/documents/${crypto.randomUUID()}/nothing`, {
          method: "PATCH",
          headers: { Authorization: `Bearer ${access_token}` },
        })
      ).status,
    ).toBe(404);
  });

  it("do not echo an unbounded path back", async () => {
    const res = await SELF.fetch(`${BASE}/${"a".repeat(5000)}`);
    const body = (await res.json()) as { detail: string };
    expect(res.status).toBe(404);
    expect(body.detail.length).toBeLessThan(300);
  });
});

describe("request ids", () => {
  it("are generated when absent", async () => {
    const res = await SELF.fetch(`${BASE}/health/live`);
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("are taken from a well-formed X-Request-Id", async () => {
    const res = await SELF.fetch(`${BASE}/health/live`, { headers: { "X-Request-Id": "client-abc_123" } });
    expect(res.headers.get("x-request-id")).toBe("client-abc_123");
  });

  it("are replaced when the client's is malformed", async () => {
    const res = await SELF.fetch(`${BASE}/health/live`, { headers: { "X-Request-Id": "<script>" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("security headers", () => {
  it("lock API responses down", async () => {
    const res = await SELF.fetch(`${BASE}/health/live`);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("strict-transport-security")).toContain("max-age=");
  });

  it("are on error responses too", async () => {
    const res = await SELF.fetch(`${BASE}/missing`);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
  });
});

describe("CORS", () => {
  it("allows a configured origin", async () => {
    const res = await SELF.fetch(`${BASE}/health/live`, { headers: { Origin: "https://app.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    // A browser app reads what the contract gives clients: the request id, the ETag for If-Match,
    // the rate-limit headers of every limited route and Retry-After on a 429.
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").split(",").map((h) => h.trim());
    for (const header of [
      "X-Request-Id",
      "ETag",
      "Location",
      "RateLimit",
      "RateLimit-Policy",
      "Retry-After",
      "WWW-Authenticate",
    ]) {
      expect(exposed, header).toContain(header);
    }
  });

  it("answers a preflight from a configured origin", async () => {
    const res = await SELF.fetch(`${BASE}/health`, {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,if-match",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-allow-methods")).toContain("PUT");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("if-match");
  });

  it("varies every answer by Origin, with or without one, and keeps its other headers", async () => {
    const plain = await SELF.fetch(`${BASE}/health/live`);
    expect(plain.headers.get("vary")).toBe("Origin");
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
    expect(plain.headers.get("access-control-expose-headers")).toBeNull();
    expect(plain.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(plain.headers.get("x-content-type-options")).toBe("nosniff");
    const missing = await SELF.fetch(`${BASE}/api/v1/documents/${crypto.randomUUID()}`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("vary")).toBe("Origin");
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const cors = await SELF.fetch(`${BASE}/health/live`, { headers: { Origin: "https://app.example.com" } });
    expect(cors.headers.get("vary")).toBe("Origin");
  });

  it("gives any other origin nothing", async () => {
    for (const origin of ["https://evil.example.com", "null", "https://app.example.com.evil.com"]) {
      const res = await SELF.fetch(`${BASE}/health/live`, { headers: { Origin: origin } });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
  });
});

describe("API documentation", () => {
  it("serves the OpenAPI 3.1 document with both security schemes", async () => {
    const res = await SELF.fetch(`${BASE}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { securitySchemes: Record<string, { type: string; flows?: { password?: { tokenUrl: string } } }> };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/health", "/health/live"]));
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes.oauth2Password?.flows?.password?.tokenUrl).toBe("/api/v1/auth/login");
  });

  it("serves Swagger UI with its assets from this origin", async () => {
    const res = await SELF.fetch(`${BASE}/docs`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("/assets/swagger-ui-dist/swagger-ui-bundle.js");
    expect(html).toContain("/openapi.json");
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg|fonts)/);
    // No inline script, so none is allowed: an injected <script> or on* handler cannot run.
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toContain("unsafe-inline'; script");
    expect(csp.match(/script-src[^;]*/)?.[0]).not.toContain("unsafe");
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="\/assets\//);
      expect(body?.trim()).toBe("");
    }
    expect(html).toContain('src="/assets/swagger-init.js"');
    // Tokens entered under "Authorize" stay in memory, never in localStorage.
    const init = await env.ASSETS.fetch(`${BASE}/assets/swagger-init.js`);
    expect(init.status).toBe(200);
    const initScript = await init.text();
    expect(html).toContain('data-spec-url="/openapi.json"');
    expect(initScript).toContain("persistAuthorization: false");
    expect(html).not.toContain("persistAuthorization");
    for (const asset of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
      // Static assets are answered before the Worker runs; the binding reaches the same files.
      const a = await env.ASSETS.fetch(`${BASE}/assets/swagger-ui-dist/${asset}`);
      expect(a.status).toBe(200);
      expect((await a.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
  });

  it("serves ReDoc with its bundle from this origin", async () => {
    const res = await SELF.fetch(`${BASE}/redoc`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('spec-url="/openapi.json"');
    expect(html).toContain("/assets/redoc/redoc.standalone.js");
    const bundle = await env.ASSETS.fetch(`${BASE}/assets/redoc/redoc.standalone.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });
});
