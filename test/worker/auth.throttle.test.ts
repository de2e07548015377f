// Login throttling under attack (#12, finding 3): a burst of wrong passwords, other spellings of
// the same email, and neighbouring IPv6 addresses must not get more passwords checked than the
// limits allow. Run against real PostgreSQL too (DEV_POSTGRES_URL): PGlite runs one query at a time.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { AUTH, newUser, PASSWORD, register, uniqueEmail } from "../support/auth";
import { testSql } from "../support/stack";

const sql = testSql();

// One bindings object per limit, so the Worker parses each configuration once.
const defaults = env;
const addressLimit3 = { ...env, LOGIN_MAX_FAILURES_PER_ADDRESS: "3" } as Env;
const addressLimit5 = { ...env, LOGIN_MAX_FAILURES_PER_ADDRESS: "5" } as Env;

async function attempt(email: string, password: string, ip: string, bindings: Env = defaults) {
  const ctx = createExecutionContext();
  const request = new Request(`${AUTH}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
    body: JSON.stringify({ email, password }),
  });
  const res = await worker.fetch(request as Parameters<typeof worker.fetch>[0], bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const statuses = (responses: Response[]) => responses.map((r) => r.status);
const count = (responses: Response[], status: number) => responses.filter((r) => r.status === status).length;

function expectRetryAfter(res: Response) {
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(900);
}

async function counter(key: string): Promise<number | undefined> {
  const [row] = await sql`select failures from login_throttles where key = ${key}`;
  return row?.failures as number | undefined;
}

describe("login throttling under concurrency", () => {
  it("checks exactly 5 of 30 simultaneous wrong passwords for one account; 25 are 429 before hashing", async () => {
    const user = await register();
    const ip = "198.51.100.10";
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => attempt(user.email, `wrong password ${i}`, ip)),
    );
    expect(count(results, 401)).toBe(5);
    expect(count(results, 429)).toBe(25);
    for (const res of results.filter((r) => r.status === 429)) expectRetryAfter(res);
    // Refused attempts were never checked, so they are not counted: 5 failures on each counter.
    expect(await counter(`account:${user.id}`)).toBe(5);
    expect(await counter(`address:${ip}`)).toBe(5);
    // Locked: even the right password is 429 until the window ends.
    const locked = await attempt(user.email, PASSWORD, ip);
    expect(locked.status).toBe(429);
    expectRetryAfter(locked);
  });

  it("checks exactly 5 of 30 simultaneous wrong passwords from one address across accounts", async () => {
    const ip = "198.51.100.20";
    const accounts = await Promise.all(Array.from({ length: 10 }, () => register()));
    const emails = [...accounts.map((a) => a.email), ...Array.from({ length: 20 }, () => uniqueEmail("nobody"))];
    const results = await Promise.all(emails.map((email) => attempt(email, "wrong password!!", ip, addressLimit5)));
    expect(count(results, 401)).toBe(5);
    expect(count(results, 429)).toBe(25);
    for (const res of results.filter((r) => r.status === 429)) expectRetryAfter(res);
    expect(await counter(`address:${ip}`)).toBe(5);
    // The address is blocked even for a right password; the accounts are not, from elsewhere.
    const [first] = accounts;
    expect((await attempt(first?.email ?? "", PASSWORD, ip, addressLimit5)).status).toBe(429);
    expect((await attempt(first?.email ?? "", PASSWORD, "198.51.100.21", addressLimit5)).status).toBe(200);
  });

  it("does not let a blocked address lock accounts: its refused attempts are not counted against them", async () => {
    const ip = "198.51.100.30";
    for (let i = 0; i < 3; i++) {
      expect((await attempt(uniqueEmail(), "wrong password!!", ip, addressLimit3)).status).toBe(401);
    }
    const victim = await register();
    for (let i = 0; i < 10; i++) {
      expect((await attempt(victim.email, "wrong password!!", ip, addressLimit3)).status).toBe(429);
    }
    expect(await counter(`account:${victim.id}`)).toBe(0);
    expect((await attempt(victim.email, PASSWORD, "198.51.100.31", addressLimit3)).status).toBe(200);
  });
});

describe("right passwords at once", () => {
  // The throttle counts every attempt before hashing, so a burst of right passwords (a client's
  // tabs, a test suite's workers logging in one account) filled the five places: the sixth was 429.
  it("all get in: 8 simultaneous logins of one account from one address are 200", async () => {
    const user = await register();
    const ip = "198.51.100.80";
    const results = await Promise.all(Array.from({ length: 8 }, () => attempt(user.email, PASSWORD, ip)));
    expect(statuses(results)).toEqual(Array.from({ length: 8 }, () => 200));
    // Nothing counts against the account or the address, and no check is left running.
    const rows = await sql`select key, failures, checking from login_throttles
      where key in (${`account:${user.id}`}, ${`address:${ip}`})`;
    for (const row of rows)
      expect({ key: row.key, failures: row.failures, checking: row.checking }).toEqual({
        key: row.key,
        failures: 0,
        checking: 0,
      });
  });

  it("get in beside wrong ones while failures stay below the limit: 3 wrong and 6 right at once", async () => {
    const user = await register();
    const ip = "198.51.100.81";
    const results = await Promise.all([
      ...Array.from({ length: 3 }, (_, i) => attempt(user.email, `wrong password ${i}`, ip)),
      ...Array.from({ length: 6 }, () => attempt(user.email, PASSWORD, ip)),
    ]);
    expect(statuses(results)).toEqual([401, 401, 401, ...Array.from({ length: 6 }, () => 200)]);
    expect(await counter(`address:${ip}`)).toBe(3);
  });

  it("are refused at once when failures already fill the limit, as before", async () => {
    const user = await register();
    const ip = "198.51.100.82";
    for (let i = 0; i < 5; i++) expect((await attempt(user.email, "wrong password!!", ip)).status).toBe(401);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 4 }, () => attempt(user.email, PASSWORD, ip)));
    expect(statuses(results)).toEqual([429, 429, 429, 429]);
    // No waiting for a place that failures hold (the wait for checks running is 25–100 ms a round).
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await counter(`account:${user.id}`)).toBe(5);
  });

  it("closing an account confirms a right password even while other checks run", async () => {
    const user = await newUser();
    const ip = "198.51.100.83";
    // Four wrong logins leave one place: a closure and a login with the right password at once both pass.
    for (let i = 0; i < 4; i++) expect((await attempt(user.email, "wrong password!!", ip)).status).toBe(401);
    const ctx = createExecutionContext();
    const closing = worker.fetch(
      new Request(`${AUTH}/me`, {
        method: "DELETE",
        headers: {
          ...user.auth,
          "Content-Type": "application/json",
          "CF-Connecting-IP": ip,
        },
        body: JSON.stringify({ password: PASSWORD }),
      }) as Parameters<typeof worker.fetch>[0],
      defaults,
      ctx,
    );
    const [login, closed] = await Promise.all([attempt(user.email, PASSWORD, ip), closing]);
    await waitOnExecutionContext(ctx);
    expect({ status: closed.status, body: await closed.text() }).toEqual({ status: 204, body: "" });
    // The login ran before or after the closure: in, or the account is gone (401), never throttled.
    expect([200, 401]).toContain(login.status);
  });
});

describe("the account counter", () => {
  it("is shared by every spelling PostgreSQL resolves to the account (case, İ for i)", async () => {
    const user = await register(`iiii-${crypto.randomUUID().slice(0, 8)}@example.com`);
    const [local = "", domain = ""] = user.email.split("@");
    // JavaScript lower-cases "İ" to "i̇" (two code points), PostgreSQL to "i": every choice of
    // which "i" to write as "İ" was a fresh counter when the key was the JavaScript lower case.
    const variants = [
      user.email.toUpperCase(),
      `İ${local.slice(1)}@${domain}`,
      `iİ${local.slice(2)}@${domain}`,
      `İİ${local.slice(2)}@${domain}`,
      `iiİİ${local.slice(4)}@${domain}`,
      `İİİİ${local.slice(4)}@${domain}`.toUpperCase(),
      `İiİi${local.slice(4)}@${domain}`,
    ];
    const [resolved] = await sql`
      select count(*)::int as n from unnest(${variants}::text[]) as v join users u on lower(u.email) = lower(v)
      where u.id = ${user.id}`;
    expect(resolved?.n).toBe(variants.length); // the database finds the account under every spelling
    const results = [];
    for (const email of variants) results.push(await attempt(email, "wrong password!!", "198.51.100.40"));
    expect(statuses(results)).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect((await attempt(user.email, PASSWORD, "198.51.100.41")).status).toBe(429);
  });

  it("for an email without an account behaves the same, so a lockout reveals nothing", async () => {
    const local = `iiii-${crypto.randomUUID().slice(0, 8)}`;
    const variants = [`${local}@example.com`, `İ${local.slice(1)}@EXAMPLE.com`, `${local.toUpperCase()}@example.com`];
    const results = [];
    for (let i = 0; i < 6; i++) {
      results.push(await attempt(variants[i % variants.length] ?? "", "wrong password!!", "198.51.100.50"));
    }
    expect(statuses(results)).toEqual([401, 401, 401, 401, 401, 429]);
    // The key is a digest: what people type into the email field (sometimes a password) is not stored.
    const keys = await sql`select key from login_throttles where key like 'email:%'`;
    for (const { key } of keys) {
      expect(key).toMatch(/^email:[0-9a-f]{64}$/);
    }
  });

  it("lets the account in once the window has passed", async () => {
    const user = await register();
    for (let i = 0; i < 5; i++) await attempt(user.email, "wrong password!!", "198.51.100.60");
    expect((await attempt(user.email, PASSWORD, "198.51.100.60")).status).toBe(429);
    await sql`update login_throttles set window_started_at = now() - interval '16 minutes'
              where key in (${`account:${user.id}`}, 'address:198.51.100.60')`;
    expect((await attempt(user.email, PASSWORD, "198.51.100.60")).status).toBe(200);
  });

  it("is cleared by a success, which does not count against the address either", async () => {
    const user = await register();
    const ip = "198.51.100.70";
    for (let i = 0; i < 4; i++) expect((await attempt(user.email, "wrong password!!", ip)).status).toBe(401);
    expect((await attempt(user.email, PASSWORD, ip)).status).toBe(200);
    expect(await counter(`account:${user.id}`)).toBeUndefined();
    expect(await counter(`address:${ip}`)).toBe(4);
  });
});

describe("IPv6 client addresses", () => {
  it("count by their /64: neighbours share a counter, another /64 does not", async () => {
    const user = await register();
    for (const ip of ["2001:db8:aa:1::1", "2001:db8:aa:1::2", "2001:DB8:AA:1:ffff:ffff:ffff:fffe"]) {
      expect((await attempt(uniqueEmail(), "wrong password!!", ip, addressLimit3)).status).toBe(401);
    }
    const blocked = await attempt(user.email, PASSWORD, "2001:db8:aa:1:1234::9", addressLimit3);
    expect(blocked.status).toBe(429);
    expectRetryAfter(blocked);
    expect((await attempt(user.email, PASSWORD, "2001:db8:aa:2::1", addressLimit3)).status).toBe(200);
    expect(await counter("address:2001:db8:aa:1::/64")).toBe(3);
  });
});
