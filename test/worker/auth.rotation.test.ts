// Rotating JWT_SECRET and PASSWORD_PEPPER (#12, finding 11): the previous secret keeps what was
// made with it working (tokens until they expire, password hashes until the next login rehashes
// them), and only while it is configured.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { decodeProtectedHeader, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { hashPassword, pepperFingerprint, verifyPassword } from "../../src/auth/password";
import { hashRefreshToken, keyIdOf } from "../../src/auth/tokens";
import worker from "../../src/index";
import { AUTH, PASSWORD, register, type Tokens, uniqueEmail } from "../support/auth";
import { testSql } from "../support/stack";

const sql = testSql();

// Test-only keys (openssl rand -base64 32).
const OLD_JWT = env.JWT_SECRET;
const NEW_JWT = "t4mbUX96oAbEAIOoc/W5qQldcNgZGG7cg3rpmgdnT5w=";
const OLD_PEPPER = "0TV3jjeNp5jTKkNxX65pxoyEeuNOycexA4/9wrZmXAA=";
const NEW_PEPPER = "b24eTTFil0lmUVztN1afPumdRgUgzBR+UprAOQggz1s=";

// One bindings object per configuration, as a deployment has.
const rotatedJwt = { ...env, JWT_SECRET: NEW_JWT, JWT_SECRET_PREVIOUS: OLD_JWT } as Env;
const newJwtOnly = { ...env, JWT_SECRET: NEW_JWT } as Env;
const rotatedPepper = { ...env, PASSWORD_PEPPER: NEW_PEPPER, PASSWORD_PEPPER_PREVIOUS: OLD_PEPPER } as Env;
const newPepperOnly = { ...env, PASSWORD_PEPPER: NEW_PEPPER } as Env;

async function call(bindings: Env, path: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const request = new Request(`${AUTH}${path}`, init) as Parameters<typeof worker.fetch>[0];
  const res = await worker.fetch(request, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
const me = (bindings: Env, token: string) => call(bindings, "/me", { headers: { Authorization: `Bearer ${token}` } });
const loginWith = (bindings: Env, email: string, password = PASSWORD) =>
  call(bindings, "/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });

describe("JWT_SECRET rotation", () => {
  it("verifies a token signed with the previous secret while JWT_SECRET_PREVIOUS is set, and not after", async () => {
    const user = await register();
    const old = (await (await loginWith(env, user.email)).json()) as Tokens;
    const oldKid = decodeProtectedHeader(old.access_token).kid;

    // Twice with the same configuration: the second is served by the verified-token cache.
    expect((await me(rotatedJwt, old.access_token)).status).toBe(200);
    expect((await me(rotatedJwt, old.access_token)).status).toBe(200);
    // PREVIOUS removed: a new configuration, so nothing verified under the old one survives.
    const refused = await me(newJwtOnly, old.access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');

    // New tokens are signed with the new key and say so; both configurations take them.
    const fresh = (await (await loginWith(rotatedJwt, user.email)).json()) as Tokens;
    const freshKid = decodeProtectedHeader(fresh.access_token).kid;
    expect(freshKid).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(freshKid).not.toBe(oldKid);
    expect((await me(newJwtOnly, fresh.access_token)).status).toBe(200);
    expect((await me(rotatedJwt, fresh.access_token)).status).toBe(200);
    // The old key alone does not take tokens of the new one.
    expect((await me(env, fresh.access_token)).status).toBe(401);
  });

  it("never puts the key in the token, and a kid cannot choose a key the signature was not made with", async () => {
    const user = await register();
    const tokens = (await (await loginWith(rotatedJwt, user.email)).json()) as Tokens;
    expect(tokens.access_token).not.toContain(NEW_JWT.slice(0, 12));
    const newKid = decodeProtectedHeader(tokens.access_token).kid as string;
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: user.id, iss: "docvault", aud: "docvault-api", iat: now, exp: now + 600, jti: "x" };
    const sign = (key: string, kid?: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", ...(kid ? { kid } : {}) })
        .sign(new TextEncoder().encode(key));
    // Signed with the old key but naming the new one: refused even though the old key is configured.
    expect((await me(rotatedJwt, await sign(OLD_JWT, newKid))).status).toBe(401);
    // An unknown kid: refused.
    expect((await me(rotatedJwt, await sign(NEW_JWT, "AAAAAAAAAAA"))).status).toBe(401);
    // Tokens from before key ids (no kid) verify under either configured key, and only those.
    expect((await me(rotatedJwt, await sign(OLD_JWT))).status).toBe(200);
    expect((await me(rotatedJwt, await sign(NEW_JWT))).status).toBe(200);
    expect((await me(newJwtOnly, await sign(OLD_JWT))).status).toBe(401);
  });
});

describe("key ids and token hashes (@noble/hashes)", () => {
  it("are the HMAC and SHA-256 that WebCrypto computes, so ids and stored hashes stay valid", async () => {
    const secret = env.JWT_SECRET;
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = new Uint8Array(
      await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("docvault access token key id")),
    );
    const expected = btoa(String.fromCharCode(...mac.slice(0, 8)))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    expect(keyIdOf(secret)).toBe(expected);
    const token = "a refresh token";
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
    expect([...hashRefreshToken(token)]).toEqual([...digest]);
  });
});

describe("PASSWORD_PEPPER rotation", () => {
  async function userWithHash(hash: string) {
    const email = uniqueEmail("pepper");
    const [row] = await sql`insert into users (email, password_hash) values (${email}, ${hash}) returning id`;
    return { email, id: row?.id as string };
  }
  const storedHash = async (id: string) =>
    ((await sql`select password_hash from users where id = ${id}`)[0]?.password_hash ?? "") as string;

  it("verifies a hash made with the previous pepper and stores it under the current one", async () => {
    const user = await userWithHash(await hashPassword(PASSWORD, OLD_PEPPER));
    expect(await storedHash(user.id)).toContain(`,pk=${pepperFingerprint(OLD_PEPPER)}$`);

    expect((await loginWith(rotatedPepper, user.email)).status).toBe(200);
    const rehashed = await storedHash(user.id);
    expect(rehashed).toMatch(new RegExp(`^\\$scrypt\\$ln=14,r=8,p=5,pk=${pepperFingerprint(NEW_PEPPER)}\\$`));
    // Now the new pepper alone is enough.
    expect((await loginWith(newPepperOnly, user.email)).status).toBe(200);
    expect(await storedHash(user.id)).toBe(rehashed);
  });

  it("refuses a hash of the previous pepper once PASSWORD_PEPPER_PREVIOUS is gone", async () => {
    const hash = await hashPassword(PASSWORD, OLD_PEPPER);
    const user = await userWithHash(hash);
    expect((await loginWith(newPepperOnly, user.email)).status).toBe(401);
    expect(await storedHash(user.id)).toBe(hash);
  });

  it("verifies hashes from before fingerprints under either pepper, and rehashes them", async () => {
    // Such a hash is the same string without the pk parameter.
    const legacy = (await hashPassword(PASSWORD, OLD_PEPPER)).replace(/,pk=[0-9a-f]{8}/, "");
    const user = await userWithHash(legacy);
    expect((await loginWith(rotatedPepper, user.email)).status).toBe(200);
    expect(await storedHash(user.id)).toContain(`,pk=${pepperFingerprint(NEW_PEPPER)}$`);

    const current = await userWithHash((await hashPassword(PASSWORD, env.PASSWORD_PEPPER)).replace(/,pk=\w+/, ""));
    expect((await loginWith(env, current.email)).status).toBe(200);
    expect(await storedHash(current.id)).toContain(`,pk=${pepperFingerprint(env.PASSWORD_PEPPER)}$`);
  });

  it("costs every failure the same work, known account or not (no enumeration by timing)", async () => {
    const underOld = await hashPassword(PASSWORD, OLD_PEPPER);
    const underNew = await hashPassword(PASSWORD, NEW_PEPPER);
    const legacy = underOld.replace(/,pk=[0-9a-f]{8}/, "");
    const rotating = { current: NEW_PEPPER, previous: OLD_PEPPER };
    const work = async (stored: string | null, peppers: { current: string; previous?: string }) =>
      (await verifyPassword("not the password", stored, peppers)).derivations;

    const during = await Promise.all([null, underOld, underNew, legacy].map((h) => work(h, rotating)));
    expect(during).toEqual([2, 2, 2, 2]);
    const after = await Promise.all([null, underOld, underNew, legacy].map((h) => work(h, { current: NEW_PEPPER })));
    expect(after).toEqual([1, 1, 1, 1]);
  });
});
