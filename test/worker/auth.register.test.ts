import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AUTH, PASSWORD, postJson, uniqueEmail } from "../support/auth";
import { testSql } from "../support/stack";

const sql = testSql();

async function problem(res: Response) {
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  return (await res.json()) as { status: number; detail: string; errors?: { path: string; message: string }[] };
}

describe("POST /api/v1/auth/register", () => {
  it("creates the user and answers 201 User without any secret", async () => {
    const email = uniqueEmail("ada");
    const res = await postJson(`${AUTH}/register`, { email, password: PASSWORD, full_name: "Ada Lovelace" });
    expect(res.status).toBe(201);
    const text = await res.text();
    const user = JSON.parse(text);
    expect(Object.keys(user).sort()).toEqual(["created_at", "email", "full_name", "id"]);
    expect(user).toMatchObject({ email, full_name: "Ada Lovelace" });
    expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(user.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain("scrypt");

    const [row] = await sql`select password_hash from users where id = ${user.id}`;
    expect(row?.password_hash).toMatch(
      /^\$scrypt\$ln=14,r=8,p=5,pk=[0-9a-f]{8}\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
    );
    expect(row?.password_hash).not.toContain(PASSWORD);
  });

  it("makes full_name optional and ignores unknown fields (original clients' first_name/last_name)", async () => {
    const email = uniqueEmail();
    const res = await postJson(`${AUTH}/register`, {
      email,
      password: PASSWORD,
      first_name: "A",
      last_name: "B",
      is_admin: true,
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ email, full_name: null });
  });

  it("answers 409 for a taken email, whatever its case", async () => {
    const email = uniqueEmail("taken");
    expect((await postJson(`${AUTH}/register`, { email, password: PASSWORD })).status).toBe(201);
    for (const variant of [email, email.toUpperCase(), email.replace(/^./, (ch) => ch.toUpperCase())]) {
      const res = await postJson(`${AUTH}/register`, { email: variant, password: PASSWORD });
      expect(res.status).toBe(409);
      expect((await problem(res)).detail).toMatch(/already exists/);
    }
    const [row] = await sql`select count(*)::int as n from users where lower(email) = lower(${email})`;
    expect(row?.n).toBe(1);
  });

  it("refuses a taken email before hashing the password (a flood of them costs lookups, not scrypt)", async () => {
    const email = uniqueEmail("flood");
    let started = performance.now();
    expect((await postJson(`${AUTH}/register`, { email, password: PASSWORD })).status).toBe(201);
    const oneHash = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < 5; i++) {
      const res = await postJson(`${AUTH}/register`, { email, password: PASSWORD });
      expect((await problem(res)).status).toBe(409);
    }
    // Five refusals together take less than one registration that hashed (scrypt: ~150 ms).
    expect(performance.now() - started).toBeLessThan(oneHash);
  });

  it("lets exactly one of many concurrent registrations of one email win", async () => {
    const email = uniqueEmail("race");
    const variants = [email, email.toUpperCase(), email, email.toUpperCase(), email, email, email, email];
    const results = await Promise.all(
      variants.map((e) => postJson(`${AUTH}/register`, { email: e, password: PASSWORD })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const [row] = await sql`select count(*)::int as n from users where lower(email) = lower(${email})`;
    expect(row?.n).toBe(1);
  });

  const invalid: [string, unknown, string][] = [
    ["a malformed email", { email: "not-an-email", password: PASSWORD }, "body.email"],
    ["an email over 254 characters", { email: `${"a".repeat(250)}@example.com`, password: PASSWORD }, "body.email"],
    ["a password of 11 characters", { email: "x@example.com", password: "a".repeat(11) }, "body.password"],
    ["a password of 257 characters", { email: "x@example.com", password: "a".repeat(257) }, "body.password"],
    ["a password of 257 emoji", { email: "x@example.com", password: "🔑".repeat(257) }, "body.password"],
    [
      "a full_name over 200 characters",
      { email: "x@example.com", password: PASSWORD, full_name: "n".repeat(201) },
      "body.full_name",
    ],
    ["a missing email", { password: PASSWORD }, "body.email"],
    ["a missing password", { email: "x@example.com" }, "body.password"],
    ["a numeric password", { email: "x@example.com", password: 123456789012345 }, "body.password"],
    ["an email array", { email: ["x@example.com"], password: PASSWORD }, "body.email"],
  ];

  it.each(invalid)("answers 422 for %s, naming the field, and stores nothing", async (_, body, path) => {
    const before = await sql`select count(*)::int as n from users`;
    const res = await postJson(`${AUTH}/register`, body);
    expect(res.status).toBe(422);
    const p = await problem(res);
    expect(p.errors?.map((e) => e.path)).toContain(path);
    const after = await sql`select count(*)::int as n from users`;
    expect(after).toEqual(before);
  });

  it("accepts passwords of exactly 12 and 256 characters, counting emoji as one", async () => {
    for (const password of ["a".repeat(12), "b".repeat(256), "🔑".repeat(12), "🔑".repeat(256)]) {
      expect((await postJson(`${AUTH}/register`, { email: uniqueEmail(), password })).status, password).toBe(201);
    }
  });

  // The contract's "shorter than 12 or longer than 256 characters" counts what the client sends.
  // Counted after NFKC (as it is hashed), "…" became three dots: four of them passed the minimum.
  it("counts a password's characters as sent, and compares it normalised (NFKC)", async () => {
    const refused = async (password: string) => {
      const res = await postJson(`${AUTH}/register`, { email: uniqueEmail(), password });
      expect(res.status, password).toBe(422);
      expect(((await res.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual([
        "body.password",
      ]);
    };
    await refused("\u2026".repeat(4)); // 4 characters, 12 once normalised
    await refused("\ufdfa".repeat(11)); // 11 characters, 198 once normalised
    await refused("\u2026".repeat(11));
    await refused("x".repeat(257));

    // 256 ligatures (512 characters once normalised), and 6 accents typed decomposed (12 code points).
    for (const [sent, typedLater] of [
      ["\ufb01".repeat(256), "fi".repeat(256)],
      ["e\u0301".repeat(6), "\u00e9".repeat(6)],
    ] as const) {
      const email = uniqueEmail();
      expect((await postJson(`${AUTH}/register`, { email, password: sent })).status, sent).toBe(201);
      // The same password typed another way logs in: it is compared normalised.
      expect((await postJson(`${AUTH}/login`, { email, password: typedLater })).status).toBe(200);
    }
  });

  it("accepts a full_name of 200 characters, counting emoji as one, and refuses 201", async () => {
    const res = await postJson(`${AUTH}/register`, {
      email: uniqueEmail(),
      password: PASSWORD,
      full_name: "🦉".repeat(200),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { full_name: string }).full_name).toBe("🦉".repeat(200));
    const over = await postJson(`${AUTH}/register`, {
      email: uniqueEmail(),
      password: PASSWORD,
      full_name: "🦉".repeat(201),
    });
    expect(over.status).toBe(422);
  });

  it("answers 400 for malformed JSON", async () => {
    const res = await postJson(`${AUTH}/register`, '{"email": "x@example.com", "password": ');
    expect(res.status).toBe(400);
    await problem(res);
  });

  it("answers 415 for a body that is not JSON", async () => {
    const res = await SELF.fetch(`${AUTH}/register`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "email=x",
    });
    expect(res.status).toBe(415);
    expect(((await problem(res)) as { code?: string }).code).toBe("unsupported_media_type");
  });

  it("answers 413 for a huge body", async () => {
    const res = await postJson(`${AUTH}/register`, { email: "x@example.com", password: "p".repeat(200_000) });
    expect(res.status).toBe(413);
    await problem(res);
  });
});
