// Refresh-token rotation, reuse detection (RFC 9700 §4.14.2), logout, and the hourly purge.
import { createExecutionContext, createScheduledController, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hashRefreshToken } from "../../src/auth/tokens";
import worker from "../../src/index";
import { AUTH, login, me, newUser, PASSWORD, postJson, type Tokens, uniqueEmail } from "../support/auth";
import { testSql } from "../support/stack";

const sql = testSql();
const refresh = (token: string) => postJson(`${AUTH}/refresh`, { refresh_token: token });
const logout = (token: string) => postJson(`${AUTH}/logout`, { refresh_token: token });

async function refreshOk(token: string): Promise<Tokens> {
  const res = await refresh(token);
  expect(res.status).toBe(200);
  expect(res.headers.get("cache-control")).toBe("no-store");
  return (await res.json()) as Tokens;
}

describe("POST /api/v1/auth/refresh", () => {
  it("rotates: new tokens for the same user, and the old refresh token stops working", async () => {
    const user = await newUser("rotate");
    const next = await refreshOk(user.tokens.refresh_token);
    expect(next.refresh_token).not.toBe(user.tokens.refresh_token);
    expect(next.token_type).toBe("bearer");
    expect(((await (await me(next.access_token)).json()) as { id: string }).id).toBe(user.id);
    const third = await refreshOk(next.refresh_token);
    expect(third.refresh_token).not.toBe(next.refresh_token);
  });

  it("takes an OAuth2 refresh form too (RFC 6749 §6), and refuses a body with neither", async () => {
    const user = await newUser("refresh-form");
    const res = await SELF.fetch(`${AUTH}/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: user.tokens.refresh_token }).toString(),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const next = (await res.json()) as Tokens;
    expect(next.refresh_token).not.toBe(user.tokens.refresh_token);
    expect((await me(next.access_token)).status).toBe(200);
    // The form's token was used: presenting it again is a reuse.
    expect((await refresh(user.tokens.refresh_token)).status).toBe(401);
    const wrongGrant = await SELF.fetch(`${AUTH}/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "password", refresh_token: "x" }).toString(),
    });
    expect(wrongGrant.status).toBe(422);
    const empty = await SELF.fetch(`${AUTH}/refresh`, { method: "POST" });
    expect(empty.status).toBe(422);
  });

  it("treats a reused refresh token as theft: 401 and the whole chain revoked, other logins untouched", async () => {
    const user = await newUser("theft");
    const otherLogin = await login(user.email);
    const stolen = user.tokens.refresh_token;
    const legit = await refreshOk(stolen); // the owner rotates…
    const replay = await refresh(stolen); // …then the thief replays the old token
    expect(replay.status).toBe(401);
    expect(replay.headers.get("www-authenticate")).toContain('error="invalid_token"');
    // The chain's live token is dead too: whoever holds it must log in again.
    expect((await refresh(legit.refresh_token)).status).toBe(401);
    const [chain] = await sql`
      select count(*) filter (where revoked_at is null)::int as live from refresh_tokens
      where chain_id = (select chain_id from refresh_tokens where token_hash = ${hashRefreshToken(stolen)})`;
    expect(chain?.live).toBe(0);
    // The unrelated login of the same user keeps working.
    await refreshOk(otherLogin.refresh_token);
  });

  it("lets only one of two concurrent refreshes with the same token win", async () => {
    const user = await newUser("concurrent");
    const results = await Promise.all([refresh(user.tokens.refresh_token), refresh(user.tokens.refresh_token)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it("revokes the chain when many refreshes with one token race (thief and owner at once)", async () => {
    // Against real PostgreSQL the losers wait on the winner's row lock and used to answer
    // "invalid", leaving the winner's new token alive (DEV_POSTGRES_URL; PGlite runs them in turn).
    for (let round = 0; round < 5; round++) {
      const user = await newUser(`race-${round}`);
      const results = await Promise.all(Array.from({ length: 10 }, () => refresh(user.tokens.refresh_token)));
      expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401, 401, 401]);
      const winner = (await results.find((r) => r.status === 200)?.json()) as Tokens;
      const details = await Promise.all(
        results.filter((r) => r.status === 401).map(async (r) => ((await r.json()) as { detail: string }).detail),
      );
      for (const detail of details) expect(detail).toContain("already used");
      expect((await refresh(winner.refresh_token)).status).toBe(401);
      const [chain] = await sql`
        select count(*)::int as tokens, count(*) filter (where revoked_at is null)::int as live
        from refresh_tokens where user_id = ${user.id}`;
      expect(chain).toEqual({ tokens: 2, live: 0 });
    }
  });

  it("refuses a chain older than SESSION_MAX_SECONDS, however recently it was rotated", async () => {
    const user = await newUser("session-max");
    const next = await refreshOk(user.tokens.refresh_token);
    // The rotation carried the login's time over to the new token.
    const started = await sql`select distinct chain_started_at from refresh_tokens where user_id = ${user.id}`;
    expect(started).toHaveLength(1);
    await sql`update refresh_tokens set chain_started_at = now() - interval '30 days' - interval '1 second'
              where user_id = ${user.id}`;
    const res = await refresh(next.refresh_token);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toBe("The session has expired; log in again.");
    // A new login starts a new session.
    const again = await login(user.email);
    await refreshOk(again.refresh_token);
  });

  it("issues no refresh token that outlives its session", async () => {
    const user = await newUser("session-end");
    await sql`update refresh_tokens set chain_started_at = now() - interval '30 days' + interval '1 hour'
              where user_id = ${user.id}`;
    await refreshOk(user.tokens.refresh_token);
    const [latest] = await sql`
      select expires_at <= chain_started_at + interval '30 days' as within, expires_at < now() + interval '2 hours' as soon
      from refresh_tokens where user_id = ${user.id} and used_at is null`;
    expect(latest).toEqual({ within: true, soon: true });
  });

  it("answers 401 for unknown, expired and revoked tokens", async () => {
    expect((await refresh("not-a-real-token")).status).toBe(401);
    const user = await newUser("expired");
    await sql`update refresh_tokens set expires_at = now() - interval '1 second' where user_id = ${user.id}`;
    expect((await refresh(user.tokens.refresh_token)).status).toBe(401);
  });

  it("answers 422 for a missing or oversized token", async () => {
    expect((await postJson(`${AUTH}/refresh`, {})).status).toBe(422);
    expect((await postJson(`${AUTH}/refresh`, { refresh_token: 42 })).status).toBe(422);
    expect((await refresh("x".repeat(513))).status).toBe(422);
  });

  it("stops working when the account is deactivated", async () => {
    const user = await newUser("deactivated");
    await sql`update users set is_active = false where id = ${user.id}`;
    expect((await refresh(user.tokens.refresh_token)).status).toBe(401);
  });
});

describe("POST /api/v1/auth/logout", () => {
  it("answers 204 and the refresh token no longer refreshes", async () => {
    const user = await newUser("logout");
    const res = await logout(user.tokens.refresh_token);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect((await refresh(user.tokens.refresh_token)).status).toBe(401);
  });

  it("ends only that login", async () => {
    const user = await newUser("two-devices");
    const laptop = await login(user.email);
    expect((await logout(user.tokens.refresh_token)).status).toBe(204);
    await refreshOk(laptop.refresh_token);
  });

  it("answers 204 for unknown or already revoked tokens, and 422 for a malformed body", async () => {
    expect((await logout("never-issued")).status).toBe(204);
    const user = await newUser("twice");
    expect((await logout(user.tokens.refresh_token)).status).toBe(204);
    expect((await logout(user.tokens.refresh_token)).status).toBe(204);
    expect((await postJson(`${AUTH}/logout`, { token: "x" })).status).toBe(422);
  });
});

describe("scheduled maintenance", () => {
  it("purges expired and revoked refresh tokens and finished throttle windows, and nothing else", async () => {
    const keep = await newUser("keep");
    const expired = await newUser("purge-expired");
    const revoked = await newUser("purge-revoked");
    await sql`update refresh_tokens set expires_at = now() - interval '1 minute' where user_id = ${expired.id}`;
    await logout(revoked.tokens.refresh_token);
    await sql`insert into login_throttles (key, failures, window_started_at) values
      ('account:old@example.com', 3, now() - interval '1 hour'), ('account:fresh@example.com', 2, now())`;

    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env);

    const owners = [keep.id, expired.id, revoked.id];
    const tokens = await sql`select user_id from refresh_tokens where user_id = any(${owners}::uuid[])`;
    expect(tokens.map((t) => t.user_id)).toEqual([keep.id]);
    const throttles = await sql`
      select key from login_throttles where key in ('account:old@example.com', 'account:fresh@example.com')`;
    expect(throttles.map((t) => t.key)).toEqual(["account:fresh@example.com"]);
    await refreshOk(keep.tokens.refresh_token);
  });
});

describe("logs", () => {
  afterEach(() => vi.restoreAllMocks());

  it("never contain passwords or tokens, even at debug level", async () => {
    // Through the Worker's entry with LOG_LEVEL=debug, so every log line is written.
    const call = async (path: string, init: RequestInit) => {
      const ctx = createExecutionContext();
      const request = new Request(`${AUTH}${path}`, init) as Parameters<typeof worker.fetch>[0];
      const res = await worker.fetch(request, { ...env, LOG_LEVEL: "debug" } as Env, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const post = (path: string, body: unknown) =>
      call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    const email = uniqueEmail("logs");
    const password = "a-very-secret-password-in-logs";
    expect((await post("/register", { email, password })).status).toBe(201);
    expect((await post("/login", { email, password: "wrong-secret-password-xyz" })).status).toBe(401);
    const tokens = (await (await post("/login", { email, password })).json()) as Tokens;
    const next = (await (await post("/refresh", { refresh_token: tokens.refresh_token })).json()) as Tokens;
    expect((await post("/refresh", { refresh_token: tokens.refresh_token })).status).toBe(401); // reuse: a warning
    expect((await call("/me", { headers: { Authorization: `Bearer ${next.access_token}` } })).status).toBe(200);
    expect((await post("/logout", { refresh_token: next.refresh_token })).status).toBe(204);
    vi.restoreAllMocks();

    const all = lines.join("\n");
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBe(7); // the access log did run
    for (const secret of [
      password,
      "wrong-secret-password-xyz",
      PASSWORD,
      tokens.access_token,
      tokens.refresh_token,
      next.access_token,
      next.refresh_token,
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
