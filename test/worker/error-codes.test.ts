// Machine-readable problem codes: failures that share a status are told apart by `code`, every
// operation that declares security refuses a request without a token (generated from the
// OpenAPI document, so a new route cannot forget authentication), and the document lists every
// code the service can answer.
import { env, SELF } from "cloudflare:test";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/lib/error-codes";
import { BASE, newUser, postJson } from "../support/auth";
import { createDocument, DOCS, sampleExe, samplePdf, uploadDocument } from "../support/documents";
import { testSql } from "../support/stack";

type User = Awaited<ReturnType<typeof newUser>>;
type Problem = { status: number; code: string; type: string; title: string; detail: string };
let owner: User;
let reader: User;
let doc: { id: string };

beforeAll(async () => {
  owner = await newUser("codes-owner");
  reader = await newUser("codes-reader");
  doc = await createDocument(owner.auth);
  const shared = await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: reader.id, role: "READ" }, owner.auth);
  expect(shared.status).toBe(201);
});

async function problem(res: Response): Promise<Problem> {
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as Problem;
  expect(body.status).toBe(res.status);
  expect(ERROR_CODES[body.code as keyof typeof ERROR_CODES]?.status).toBe(res.status);
  return body;
}

const get = (url: string, headers: Record<string, string> = {}) => SELF.fetch(url, { headers });

describe("failures with one status differ in code", () => {
  it("401: no token, a malformed one, an expired one, wrong credentials", async () => {
    expect((await problem(await get(DOCS))).code).toBe("token_missing");
    expect((await problem(await get(DOCS, { Authorization: "Bearer not.a.jwt" }))).code).toBe("token_invalid");
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .setSubject(owner.id)
      .setIssuer(env.JWT_ISSUER ?? "docvault")
      .setAudience(env.JWT_AUDIENCE ?? "docvault-api")
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .setJti(crypto.randomUUID())
      .sign(new TextEncoder().encode(env.JWT_SECRET));
    const res = await get(DOCS, { Authorization: `Bearer ${expired}` });
    expect((await problem(res)).code).toBe("token_expired");
    const login = await postJson(`${BASE}/api/v1/auth/login`, { email: owner.email, password: "not the password!" });
    expect((await problem(login)).code).toBe("credentials_invalid");
  });

  it("404: no document, no version, no user, no permission, no route", async () => {
    const unknown = crypto.randomUUID();
    expect((await problem(await get(`${DOCS}/${unknown}`, owner.auth))).code).toBe("document_not_found");
    expect((await problem(await get(`${DOCS}/${doc.id}/download?version=99`, owner.auth))).code).toBe(
      "version_not_found",
    );
    const noUser = await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: unknown, role: "READ" }, owner.auth);
    expect((await problem(noUser)).code).toBe("user_not_found");
    const noPermission = await SELF.fetch(`${DOCS}/${doc.id}/permissions/${unknown}`, {
      method: "DELETE",
      headers: owner.auth,
    });
    expect((await problem(noPermission)).code).toBe("permission_not_found");
    expect((await problem(await get(`${BASE}/api/v1/nothing`))).code).toBe("route_not_found");
  });

  it("404 for any id spelled as a UUID, whatever its version and variant digits; 422 only for what is not one", async () => {
    // A UUID is any 8-4-4-4-12 hex string to PostgreSQL and to most clients' fixtures; an id the
    // service never issued is unknown (404), not invalid.
    for (const id of [
      "11111111-1111-1111-1111-111111111111",
      "12345678-1234-1234-1234-123456789012",
      "ABCDEF01-2345-6789-ABCD-EF0123456789",
    ]) {
      expect((await problem(await get(`${DOCS}/${id}`, owner.auth))).code).toBe("document_not_found");
      expect((await problem(await get(`${DOCS}/${id}/versions`, owner.auth))).code).toBe("document_not_found");
      const noUser = await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: id, role: "READ" }, owner.auth);
      expect((await problem(noUser)).code).toBe("user_not_found");
      const noUpload = await get(`${BASE}/api/v1/uploads/${id}`, owner.auth);
      expect((await problem(noUpload)).code).toBe("upload_not_found");
    }
    for (const id of ["not-a-uuid", "11111111-1111-1111-1111-11111111111", "1111111111111111111111111111111111111"]) {
      expect((await problem(await get(`${DOCS}/${id}`, owner.auth))).code).toBe("validation_failed");
    }
  });

  it("409: the owner's permission, an existing permission, a completed upload", async () => {
    const toOwner = await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: owner.id, role: "READ" }, owner.auth);
    expect((await problem(toOwner)).code).toBe("owner_permission");
    const again = await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: reader.id, role: "EDIT" }, owner.auth);
    expect((await problem(again)).code).toBe("permission_exists");

    const bytes = samplePdf("codes");
    const started = await postJson(
      `${BASE}/api/v1/uploads`,
      { file_name: "a.pdf", content_type: "application/pdf", size_bytes: bytes.byteLength },
      owner.auth,
    );
    const ticket = (await started.json()) as { upload_id: string; url: string; headers: Record<string, string> };
    expect((await fetch(ticket.url, { method: "PUT", headers: ticket.headers, body: bytes })).status).toBe(200);
    const complete = () => postJson(`${BASE}/api/v1/uploads/${ticket.upload_id}/complete`, {}, owner.auth);
    expect((await complete()).status).toBe(201);
    expect((await problem(await complete())).code).toBe("upload_already_completed");

    const late = await postJson(
      `${BASE}/api/v1/uploads`,
      { file_name: "b.pdf", content_type: "application/pdf", size_bytes: 10 },
      owner.auth,
    );
    const lateId = ((await late.json()) as { upload_id: string }).upload_id;
    await testSql()`update uploads set expires_at = now() - interval '1 minute' where id = ${lateId}`;
    const expired = await postJson(`${BASE}/api/v1/uploads/${lateId}/complete`, {}, owner.auth);
    expect((await problem(expired)).code).toBe("upload_expired");
  });

  it("403, 412, 415, 422 and 413 name their failure", async () => {
    const put = (headers: Record<string, string>, body: unknown) =>
      SELF.fetch(`${DOCS}/${doc.id}`, {
        method: "PUT",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    expect((await problem(await put(reader.auth, { title: "x" }))).code).toBe("role_too_low");
    expect((await problem(await put({ ...owner.auth, "If-Match": '"r999"' }, { title: "x" }))).code).toBe(
      "etag_mismatch",
    );
    expect((await problem(await put(owner.auth, { title: "" }))).code).toBe("validation_failed");
    expect((await problem(await uploadDocument(owner.auth, { bytes: sampleExe(), name: "a.exe" }))).code).toBe(
      "file_type_not_allowed",
    );
    const huge = await put(owner.auth, { title: "x".repeat(70 * 1024) });
    expect((await problem(huge)).code).toBe("body_too_large");
  });
});

type Operation = { security?: unknown[]; responses: Record<string, unknown> };

describe("every operation that declares security", () => {
  it("answers 401 token_missing without a token (generated from /openapi.json)", async () => {
    const document = (await (await get(`${BASE}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const secured: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!operation.security?.length) continue;
        const url = BASE + path.replace(/\{[^}]+\}/g, () => crypto.randomUUID());
        const init: RequestInit = { method: method.toUpperCase() };
        if (!["GET", "HEAD", "DELETE"].includes(init.method as string)) {
          init.headers = { "Content-Type": "application/json" };
          init.body = "{}";
        }
        const res = await SELF.fetch(url, init);
        expect(res.status, `${method.toUpperCase()} ${path}`).toBe(401);
        expect(res.headers.get("www-authenticate"), `${method} ${path}`).toBe('Bearer realm="docvault"');
        expect((await problem(res)).code, `${method} ${path}`).toBe("token_missing");
        secured.push(`${method.toUpperCase()} ${path}`);
      }
    }
    // The generator found the API's operations (it cannot pass vacuously).
    expect(secured.length).toBeGreaterThanOrEqual(15);
    expect(secured).toContain("GET /api/v1/documents/{id}");
    expect(secured).toContain("GET /api/v1/auth/me");
  });
});

describe("every operation that takes a JSON body", () => {
  it("answers 413 body_too_large to one of 2 MiB, before reading it (generated from /openapi.json)", async () => {
    const document = (await (await get(`${BASE}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Operation & { requestBody?: { content: Record<string, unknown> } }>>;
    };
    const body = JSON.stringify({ title: "x".repeat(2 * 1024 * 1024) });
    const limited: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!operation.requestBody?.content["application/json"]) continue;
        const url = BASE + path.replace(/\{[^}]+\}/g, () => crypto.randomUUID());
        const res = await SELF.fetch(url, {
          method: method.toUpperCase(),
          headers: { ...owner.auth, "Content-Type": "application/json" },
          body,
        });
        expect(res.status, `${method.toUpperCase()} ${path}`).toBe(413);
        expect((await problem(res)).code, `${method} ${path}`).toBe("body_too_large");
        // …and says so: the 413 is declared (POST /webhooks answered it undeclared).
        expect(Object.keys(operation.responses), `${method.toUpperCase()} ${path} declares 413`).toContain("413");
        limited.push(`${method.toUpperCase()} ${path}`);
      }
    }
    // POST /webhooks read any size (a 40 MB body was a 201) until this sweep.
    expect(limited).toContain("POST /api/v1/webhooks");
    expect(limited).toContain("POST /api/v1/uploads/{upload_id}/complete");
    expect(limited.length).toBeGreaterThanOrEqual(12);
  });
});

type Described = {
  parameters?: { in: string; schema?: { format?: string } }[];
  security?: unknown[];
  responses: Record<
    string,
    { headers?: Record<string, unknown>; description: string; content?: Record<string, unknown> }
  >;
};

describe("the OpenAPI document", () => {
  it("declares what middleware answers: 429s and rate-limit headers where a budget applies, 401 challenges, 422 for path ids", async () => {
    const document = (await (await get(`${BASE}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Described>>;
    };
    const limited: string[] = [];
    const withIds: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const name = `${method.toUpperCase()} ${path}`;
        const { responses } = operation;
        // Every route under a budget's prefix: the authenticated API (but the presence socket,
        // which a ticket admits), registration and the public share-link routes.
        const budgeted =
          (Boolean(operation.security?.length) && !path.endsWith("/presence")) ||
          path.startsWith("/api/v1/links/") ||
          name === "POST /api/v1/auth/register";
        if (budgeted) {
          limited.push(name);
          expect(responses[429], name).toBeDefined();
          expect(Object.keys(responses[429]?.headers ?? {}).sort(), name).toEqual(
            ["RateLimit", "RateLimit-Policy", "Retry-After"].sort(),
          );
          expect(responses[429]?.description, name).toContain("`rate_limited`");
          for (const [status, response] of Object.entries(responses)) {
            if (/^[23]/.test(status))
              expect(Object.keys(response.headers ?? {}), `${name} ${status}`).toContain("RateLimit");
          }
        }
        if (responses[401]) expect(Object.keys(responses[401].headers ?? {}), name).toContain("WWW-Authenticate");
        // Every 429 (login's throttle too) and every problem 503 sends Retry-After, and says so.
        if (responses[429]) expect(Object.keys(responses[429].headers ?? {}), name).toContain("Retry-After");
        if (responses[503]?.content?.["application/problem+json"])
          expect(Object.keys(responses[503].headers ?? {}), name).toContain("Retry-After");
        if (operation.security?.length) expect(responses[401], name).toBeDefined();
        // Every operation can answer 500 (internal_error, service_misconfigured), and says so.
        expect(responses[500]?.description, name).toContain("`service_misconfigured`");
        // An id that is not a UUID is a 422 (validation_failed), so each route with one says so.
        if (operation.parameters?.some((p) => p.in === "path" && p.schema?.format === "uuid")) {
          expect(responses[422], name).toBeDefined();
          withIds.push(name);
        }
      }
    }
    expect(limited).toEqual(
      expect.arrayContaining([
        "POST /api/v1/documents",
        "POST /api/v1/documents/{id}/upload-version",
        "POST /api/v1/auth/register",
        "GET /api/v1/links/{token}",
        "GET /api/v1/uploads/{upload_id}",
      ]),
    );
    expect(limited.length).toBeGreaterThanOrEqual(35);
    expect(withIds).toEqual(
      expect.arrayContaining(["GET /api/v1/uploads/{upload_id}", "DELETE /api/v1/uploads/{upload_id}"]),
    );
    // Routes no budget limits declare no 429 they cannot answer.
    expect(document.paths["/health"]?.get?.responses[429]).toBeUndefined();
    expect(document.paths["/api/v1/auth/refresh"]?.post?.responses[429]).toBeUndefined();
  });

  it("gives problems a `code` enum of every code, and lists each with its status and meaning", async () => {
    const document = (await (await get(`${BASE}/openapi.json`)).json()) as {
      info: { description: string };
      components: { schemas: { Problem: { properties: { code: { enum: string[] } }; required: string[] } } };
    };
    const schema = document.components.schemas.Problem;
    expect(schema.required).toContain("code");
    expect(schema.properties.code.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      expect(document.info.description).toContain(`| \`${code}\` | ${status} |`);
    }
  });
});
