// The cache of verified access tokens (src/auth/tokens.ts) must never accept what jose would
// refuse: an entry dies with its token's expiry, belongs to one configuration, and matches only
// the exact token text that was verified.
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { issueAccessToken, verifyAccessToken } from "../../src/auth/tokens";
import { me, newUser } from "../support/auth";
import { testConfig, testSql } from "../support/stack";

const config = testConfig();
const userId = "5f0c2a9e-8f4d-4c1b-9a57-3f2d8e6b1c40";

afterEach(() => {
  vi.useRealTimers();
});

describe("verified-token cache", () => {
  it("rejects a cached token once it expires (beyond the 5 s tolerance), like jose would", async () => {
    const { token } = await issueAccessToken({ ...config, ACCESS_TOKEN_TTL_SECONDS: 60 }, userId);
    const exp = decodeJwt(token).exp as number;
    // First use verifies through jose and caches; the second is a cache hit.
    await expect(verifyAccessToken(config, token)).resolves.toEqual({ userId });
    await expect(verifyAccessToken(config, token)).resolves.toEqual({ userId });

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime((exp + 4) * 1000);
    await expect(verifyAccessToken(config, token)).resolves.toEqual({ userId });
    vi.setSystemTime((exp + 5) * 1000);
    await expect(verifyAccessToken(config, token)).rejects.toThrow("The access token has expired.");
    // And it stays rejected (the entry is gone, jose refuses it too).
    await expect(verifyAccessToken(config, token)).rejects.toThrow("The access token has expired.");
  });

  it("keeps entries per configuration: a token cached under one secret is not valid under another", async () => {
    const { token } = await issueAccessToken(config, userId);
    await expect(verifyAccessToken(config, token)).resolves.toEqual({ userId });
    const rotated = { ...config, JWT_SECRET: "a-rotated-jwt-secret-0123456789abcdef" };
    await expect(verifyAccessToken(rotated, token)).rejects.toThrow("The access token is invalid.");
    const otherAudience = { ...config, JWT_AUDIENCE: "another-api" };
    await expect(verifyAccessToken(otherAudience, token)).rejects.toThrow("The access token is invalid.");
  });

  it("matches only the exact token text: a cached token with a changed signature or payload is refused", async () => {
    const { token } = await issueAccessToken(config, userId);
    await expect(verifyAccessToken(config, token)).resolves.toEqual({ userId });
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === "A" ? "B" : "A"}${signature.at(-1)}`;
    await expect(verifyAccessToken(config, `${header}.${payload}.${flipped}`)).rejects.toThrow(
      "The access token is invalid.",
    );
    const forgedPayload = btoa(JSON.stringify({ ...decodeJwt(token), sub: crypto.randomUUID() }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    await expect(verifyAccessToken(config, `${header}.${forgedPayload}.${signature}`)).rejects.toThrow(
      "The access token is invalid.",
    );
  });

  it("still checks the account on every request: a cached token of a deleted account gets 401", async () => {
    const user = await newUser("cached-then-gone");
    expect((await me(user.tokens.access_token)).status).toBe(200);
    const sql = testSql();
    await sql`delete from refresh_tokens where user_id = ${user.id}`;
    await sql`delete from users where id = ${user.id}`;
    const res = await me(user.tokens.access_token);
    expect(res.status).toBe(401);
  });
});
