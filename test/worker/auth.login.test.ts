import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { hashPassword } from "../../src/auth/password";
import worker from "../../src/index";
import { AUTH, PASSWORD, postJson, register, uniqueEmail } from "../support/auth";
import { testSql } from "../support/stack";

const sql = testSql();

function form(fields: Record<string, string>, headers: Record<string, string> = {}) {
  return SELF.fetch(`${AUTH}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Calls the Worker with altered bindings (e.g. a lower throttle limit). */
async function callWith(bindings: Partial<Record<keyof Env, string>>, request: Request) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Parameters<typeof worker.fetch>[0], { ...env, ...bindings } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("POST /api/v1/auth/login", () => {
  it("logs in with JSON and returns bearer tokens that are not cached", async () => {
    const user = await register();
    const res = await postJson(`${AUTH}/login`, { email: user.email, password: PASSWORD });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const tokens = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(tokens).sort()).toEqual(["access_token", "expires_in", "refresh_token", "token_type"]);
    expect(tokens).toMatchObject({ token_type: "bearer", expires_in: 1800 });
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const header = decodeProtectedHeader(tokens.access_token as string);
    expect(header).toEqual({ alg: "HS256", typ: "at+jwt", kid: expect.stringMatching(/^[A-Za-z0-9_-]{11}$/) });
    const claims = decodeJwt(tokens.access_token as string);
    expect(claims).toMatchObject({ sub: user.id, iss: "docvault", aud: "docvault-api" });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect((claims.exp as number) - (claims.iat as number)).toBe(1800);
  });

  it("logs in with the OAuth2 password form Swagger UI sends, case-insensitively", async () => {
    const user = await register();
    const res = await form({
      grant_type: "password",
      username: user.email.toUpperCase(),
      password: PASSWORD,
      scope: "",
      client_id: "swagger",
    });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { access_token: string };
    expect(decodeJwt(tokens.access_token).sub).toBe(user.id);
  });

  // FastAPI's OAuth2PasswordRequestForm (the original design) takes an empty form value as absent.
  it("takes empty optional form fields as absent (grant_type=, client_secret=), and still refuses another grant", async () => {
    const user = await register();
    const res = await form({ grant_type: "", username: user.email, password: PASSWORD, client_secret: "", scope: "" });
    expect(res.status).toBe(200);
    const refresh = (await res.json()) as { refresh_token: string };
    const refreshed = await SELF.fetch(`${AUTH}/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "", refresh_token: refresh.refresh_token, client_id: "" }),
    });
    expect(refreshed.status).toBe(200);
    expect((await form({ grant_type: "refresh_token", username: user.email, password: PASSWORD })).status).toBe(422);
  });

  it("logs in with the same form sent as multipart/form-data (a browser's FormData; FastAPI's form reads it)", async () => {
    const user = await register();
    const body = new FormData();
    body.set("username", user.email);
    body.set("password", PASSWORD);
    const res = await SELF.fetch(`${AUTH}/login`, { method: "POST", body });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).sub).toBe(user.id);
    body.set("password", "wrong password!!");
    expect((await SELF.fetch(`${AUTH}/login`, { method: "POST", body })).status).toBe(401);
  });

  it("answers the same 401 for a wrong password and an unknown email", async () => {
    const user = await register();
    const wrong = await postJson(`${AUTH}/login`, { email: user.email, password: "wrong password!!" });
    const unknown = await postJson(`${AUTH}/login`, { email: uniqueEmail("ghost"), password: PASSWORD });
    const malformed = await postJson(`${AUTH}/login`, { email: "not an email", password: PASSWORD });
    for (const res of [wrong, unknown, malformed]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="docvault"');
    }
    const bodies = await Promise.all(
      [wrong, unknown, malformed].map(async (r) => {
        const { request_id: _, ...rest } = (await r.json()) as Record<string, unknown>;
        return rest;
      }),
    );
    expect(bodies[0]).toEqual({
      type: "about:blank",
      title: "Unauthorized",
      status: 401,
      detail: "Incorrect email or password.",
      code: "credentials_invalid",
    });
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
  });

  it("answers 422 for missing credentials or another grant type", async () => {
    expect((await postJson(`${AUTH}/login`, { email: "a@example.com" })).status).toBe(422);
    expect((await postJson(`${AUTH}/login`, {})).status).toBe(422);
    expect((await form({ username: "a@example.com" })).status).toBe(422);
    expect(
      (await form({ username: "a@example.com", password: PASSWORD, grant_type: "client_credentials" })).status,
    ).toBe(422);
    const empty = await SELF.fetch(`${AUTH}/login`, { method: "POST" });
    expect(empty.status).toBe(422);
    expect(((await empty.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual([
      "body.email",
      "body.password",
    ]);
  });

  it("answers 415 for an unsupported body type and 400 for malformed JSON", async () => {
    const res = await SELF.fetch(`${AUTH}/login`, {
      method: "POST",
      headers: { "Content-Type": "text/xml" },
      body: "<x/>",
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { code: string }).code).toBe("unsupported_media_type");
    const malformed = await postJson(`${AUTH}/login`, "{nope");
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { code: string }).code).toBe("malformed_body");
  });
});

describe("login throttling", () => {
  it("answers 429 with Retry-After after 5 failures for one account, before checking the password", async () => {
    const user = await register();
    for (let i = 0; i < 5; i++) {
      expect((await postJson(`${AUTH}/login`, { email: user.email, password: `wrong password ${i}` })).status).toBe(
        401,
      );
    }
    for (const password of ["wrong again!!", PASSWORD]) {
      const res = await postJson(`${AUTH}/login`, { email: user.email.toUpperCase(), password });
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(800);
      expect(retryAfter).toBeLessThanOrEqual(900);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    // Another account is not affected.
    const other = await register();
    expect((await postJson(`${AUTH}/login`, { email: other.email, password: PASSWORD })).status).toBe(200);
  });

  it("lets the account in again once the window has passed", async () => {
    const user = await register();
    for (let i = 0; i < 5; i++) await postJson(`${AUTH}/login`, { email: user.email, password: "wrong password!!" });
    expect((await postJson(`${AUTH}/login`, { email: user.email, password: PASSWORD })).status).toBe(429);
    await sql`update login_throttles set window_started_at = now() - interval '16 minutes' where key = ${`account:${user.id}`}`;
    expect((await postJson(`${AUTH}/login`, { email: user.email, password: PASSWORD })).status).toBe(200);
  });

  it("resets the account's count on a successful login", async () => {
    const user = await register();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4; i++) {
        expect((await postJson(`${AUTH}/login`, { email: user.email, password: "wrong password!!" })).status).toBe(401);
      }
      expect((await postJson(`${AUTH}/login`, { email: user.email, password: PASSWORD })).status).toBe(200);
    }
  });

  it("limits failures from one client address across accounts", async () => {
    const limits = { LOGIN_MAX_FAILURES_PER_ADDRESS: "3" };
    const attempt = (email: string, password: string, ip: string) =>
      callWith(
        limits,
        new Request(`${AUTH}/login`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
          body: JSON.stringify({ email, password }),
        }),
      );
    const user = await register();
    for (let i = 0; i < 3; i++)
      expect((await attempt(uniqueEmail(), "wrong password!!", "203.0.113.7")).status).toBe(401);
    const blocked = await attempt(user.email, PASSWORD, "203.0.113.7");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    // The same account from another address is fine, and success does not clear the address.
    expect((await attempt(user.email, PASSWORD, "198.51.100.9")).status).toBe(200);
    expect((await attempt(user.email, PASSWORD, "203.0.113.7")).status).toBe(429);
  });
});

describe("password hashes", () => {
  it("are upgraded to the current parameters on a successful login", async () => {
    const email = uniqueEmail("old-hash");
    const weak = await hashPassword(PASSWORD, env.PASSWORD_PEPPER, { ln: 10, r: 8, p: 1 });
    const [user] = await sql`insert into users (email, password_hash) values (${email}, ${weak}) returning id`;
    expect((await postJson(`${AUTH}/login`, { email, password: PASSWORD })).status).toBe(200);
    const [row] = await sql`select password_hash from users where id = ${user?.id}`;
    expect(row?.password_hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5,pk=[0-9a-f]{8}\$/);
    expect((await postJson(`${AUTH}/login`, { email, password: PASSWORD })).status).toBe(200);
  });

  it("with parameters above workerd's caps are refused without deriving (401, not 500)", async () => {
    const email = uniqueEmail("huge-hash");
    const huge = "$scrypt$ln=22,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    await sql`insert into users (email, password_hash) values (${email}, ${huge})`;
    expect((await postJson(`${AUTH}/login`, { email, password: PASSWORD })).status).toBe(401);
  });

  it("depend on the pepper: the same password under another pepper does not verify", async () => {
    const email = uniqueEmail("pepper");
    const other = await hashPassword(PASSWORD, "a-different-pepper-of-at-least-32-bytes!");
    await sql`insert into users (email, password_hash) values (${email}, ${other})`;
    expect((await postJson(`${AUTH}/login`, { email, password: PASSWORD })).status).toBe(401);
  });
});
