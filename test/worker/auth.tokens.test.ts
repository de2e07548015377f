// Access tokens at the door of a protected route: only an HS256 at+jwt signed with our key,
// for our issuer and audience, unexpired, with every required claim, gets through.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { decodeJwt, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { AUTH, me, newUser, PASSWORD, postJson } from "../support/auth";
import { testSql } from "../support/stack";

const sql = testSql();
const key = new TextEncoder().encode(env.JWT_SECRET);
let user: Awaited<ReturnType<typeof newUser>>;

beforeAll(async () => {
  user = await newUser("tokens");
});

type Overrides = { alg?: string; typ?: string; key?: Uint8Array; claims?: Record<string, unknown>; omit?: string[] };

async function forge(o: Overrides = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    sub: user.id,
    iss: "docvault",
    aud: "docvault-api",
    iat: now,
    exp: now + 600,
    jti: crypto.randomUUID(),
    ...o.claims,
  };
  for (const name of o.omit ?? []) delete claims[name];
  return new SignJWT(claims).setProtectedHeader({ alg: o.alg ?? "HS256", typ: o.typ ?? "at+jwt" }).sign(o.key ?? key);
}

async function expectInvalidToken(token: string, detail = "The access token is invalid.") {
  const res = await me(token);
  expect(res.status).toBe(401);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="docvault", error="invalid_token"/);
  expect(((await res.json()) as { detail: string }).detail).toBe(detail);
}

describe("GET /api/v1/auth/me", () => {
  it("returns the caller for a valid token", async () => {
    const res = await me(user.tokens.access_token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: user.id,
      email: user.email,
      full_name: null,
      created_at: user.created_at,
      storage: { used_bytes: 0, quota_bytes: 10 * 1024 ** 3 },
    });
  });

  it("accepts a forged-but-correct token (the control for the cases below)", async () => {
    expect((await me(await forge())).status).toBe(200);
  });

  it("answers 401 with a bare Bearer challenge when no token is sent", async () => {
    const res = await me(undefined);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="docvault"');
  });

  it("answers 401 invalid_token for another scheme or a malformed header", async () => {
    for (const header of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", `Bearer ${"x".repeat(5000)}`, "Token abc"]) {
      const res = await SELF.fetch(`${AUTH}/me`, { headers: { Authorization: header } });
      expect(res.status, header).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
  });

  it("rejects alg: none", async () => {
    const unsigned = new UnsecuredJWT({ sub: user.id, iss: "docvault", aud: "docvault-api", jti: crypto.randomUUID() })
      .setIssuedAt()
      .setExpirationTime("10m")
      .encode();
    await expectInvalidToken(unsigned);
  });

  it("rejects a token signed with another key", async () => {
    await expectInvalidToken(await forge({ key: new TextEncoder().encode("another-secret-of-at-least-32-bytes!!") }));
  });

  it("rejects another algorithm, even with the right key", async () => {
    await expectInvalidToken(await forge({ alg: "HS512" }));
    await expectInvalidToken(await forge({ alg: "HS384" }));
  });

  it("rejects a tampered payload", async () => {
    const other = await newUser("victim");
    const [header, , signature] = user.tokens.access_token.split(".");
    const claims = { ...decodeJwt(user.tokens.access_token), sub: other.id };
    const payload = btoa(JSON.stringify(claims)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    await expectInvalidToken(`${header}.${payload}.${signature}`);
  });

  it("rejects a wrong issuer or audience", async () => {
    await expectInvalidToken(await forge({ claims: { iss: "someone-else" } }));
    await expectInvalidToken(await forge({ claims: { aud: "another-api" } }));
  });

  it("rejects an expired token, beyond the small clock tolerance", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidToken(
      await forge({ claims: { iat: now - 3600, exp: now - 60 } }),
      "The access token has expired.",
    );
  });

  it("rejects a token issued in the future, or claiming a longer life than the service gives", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidToken(await forge({ claims: { iat: now + 3600, exp: now + 3900 } }));
    // Ten years, from now: the signature is right, the lifetime is not one this service issues.
    await expectInvalidToken(await forge({ claims: { iat: now, exp: now + 10 * 365 * 86400 } }));
    // Issued more than a lifetime (1800 s) ago, though its exp is still ahead.
    await expectInvalidToken(
      await forge({ claims: { iat: now - 1900, exp: now + 60 } }),
      "The access token has expired.",
    );
    // The control: a full lifetime, and a clock a few seconds ahead of the service's.
    expect((await me(await forge({ claims: { iat: now, exp: now + 1800 } }))).status).toBe(200);
    expect((await me(await forge({ claims: { iat: now + 3, exp: now + 1803 } }))).status).toBe(200);
  });

  it("rejects a token missing a required claim or with the wrong typ", async () => {
    for (const claim of ["jti", "iat", "exp", "sub", "iss", "aud"])
      await expectInvalidToken(await forge({ omit: [claim] }));
    await expectInvalidToken(await forge({ typ: "JWT" }));
    await expectInvalidToken(await forge({ claims: { sub: "not-a-uuid" } }));
  });

  it("rejects the refresh token used as an access token", async () => {
    await expectInvalidToken(user.tokens.refresh_token);
  });

  it("answers 401 once the account is gone, whatever the token", async () => {
    const gone = await newUser("gone");
    await sql`delete from refresh_tokens where user_id = ${gone.id}`;
    await sql`delete from users where id = ${gone.id}`;
    await expectInvalidToken(gone.tokens.access_token, "The account no longer exists.");
  });
});

describe("token lifetime", () => {
  it("follows ACCESS_TOKEN_TTL_SECONDS", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${AUTH}/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: user.email, password: PASSWORD }),
      }),
      { ...env, ACCESS_TOKEN_TTL_SECONDS: "60" } as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const tokens = (await res.json()) as { access_token: string; expires_in: number };
    expect(tokens.expires_in).toBe(60);
    const claims = decodeJwt(tokens.access_token);
    expect((claims.exp as number) - (claims.iat as number)).toBe(60);
  });

  it("rejects a JWT secret shorter than 32 bytes at the boundary", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${AUTH}/me`), { ...env, JWT_SECRET: "short" } as Env, ctx);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("short");
  });
});

describe("secrets in responses", () => {
  it("never echo the password or tokens in error bodies", async () => {
    const res = await postJson(`${AUTH}/login`, { email: user.email, password: "wrong-password-secret-42" });
    expect(await res.text()).not.toContain("wrong-password-secret-42");
    const bad = await me(`${user.tokens.access_token}x`);
    expect(await bad.text()).not.toContain(user.tokens.access_token);
  });
});
