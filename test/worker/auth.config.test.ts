// Unsafe configuration is refused at the boundary (#12, finding 7): the placeholders of
// .dev.vars.example and other typed-in or predictable secrets, and a plain-http Neon or S3 endpoint
// anywhere but on this machine. The answer and the log name the variable, never its value.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";

async function boot(bindings: Partial<Record<keyof Env, string>>) {
  const logged: string[] = [];
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    logged.push(args.map(String).join(" "));
  });
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request("http://api.test/health/live"), { ...env, ...bindings } as Env, ctx);
  await waitOnExecutionContext(ctx);
  vi.restoreAllMocks();
  return { status: res.status, body: await res.text(), log: logged.join("\n") };
}

afterEach(() => vi.restoreAllMocks());

// The values .dev.vars.example ships with (workerd cannot read the file; keep these in step).
const PLACEHOLDERS = [
  "change-me-to-a-random-string-of-at-least-32-bytes",
  "change-me-to-another-random-string-of-32-bytes",
  "change-me-to-a-third-random-string-of-32-bytes",
];

const WEAK = [
  "secret-secret-secret-secret-secret-secret",
  "supersecretkey-for-docvault-production-2026",
  "my-password-pepper-which-is-long-enough!!",
  "a".repeat(64),
  "0123456789abcdef0123456789abcdef",
  "abcdefghijklmnopqrstuvwxyz0123456789",
  "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3",
  "abc123abc123abc123abc123abc123abc123",
  "qwertyqwertyqwertyqwertyqwertyqwerty",
];

const GENERATED = "KXht8TU7Jdxhxf0KAdvUNKixKwgKKidGcRTnDY2ZdGs="; // openssl rand -base64 32

describe("secrets", () => {
  for (const name of [
    "JWT_SECRET",
    "PASSWORD_PEPPER",
    "JWT_SECRET_PREVIOUS",
    "PASSWORD_PEPPER_PREVIOUS",
    "WEBHOOK_SECRET_KEY",
    "WEBHOOK_SECRET_KEY_PREVIOUS",
  ] as const) {
    it(`refuses the example's placeholders and predictable values as ${name}, without printing them`, async () => {
      for (const value of [...PLACEHOLDERS, ...WEAK]) {
        const { status, body, log } = await boot({ [name]: value });
        expect(status, value).toBe(500);
        expect(body).not.toContain(value);
        expect(log).toContain(`${name}:`);
        expect(log).not.toContain(value);
      }
    });
  }

  it("accepts generated values, and no previous secrets (empty or unset)", async () => {
    expect((await boot({ JWT_SECRET: GENERATED })).status).toBe(200);
    expect((await boot({ PASSWORD_PEPPER: GENERATED })).status).toBe(200);
    expect((await boot({ JWT_SECRET_PREVIOUS: GENERATED, PASSWORD_PEPPER_PREVIOUS: GENERATED })).status).toBe(200);
    expect((await boot({ JWT_SECRET_PREVIOUS: "", PASSWORD_PEPPER_PREVIOUS: "" })).status).toBe(200);
    const hex = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect((await boot({ JWT_SECRET: hex })).status).toBe(200); // openssl rand -hex 32
  });
});

describe.each(["NEON_HTTP_ENDPOINT", "S3_ENDPOINT"])("%s", (name) => {
  it("refuses plain http to any host but a loopback one", async () => {
    for (const endpoint of [
      "http://neon.example.com/sql",
      "http://10.0.0.5:4444/sql",
      "http://192.168.1.10/sql",
      "http://[::ffff:10.0.0.1]/sql",
      "http://localhost.example.com/sql",
      "http://128.0.0.1/sql",
    ]) {
      const { status, log } = await boot({ [name]: endpoint });
      expect(status, endpoint).toBe(500);
      expect(log).toContain(`${name}:`);
    }
  });

  it("accepts https anywhere and http on 127.0.0.0/8, ::1 and localhost", async () => {
    for (const endpoint of [
      "https://api.neon.example.com/sql",
      "http://127.0.0.1:4444/sql",
      "http://127.3.2.1/sql",
      "http://[::1]:4444/sql",
      "http://localhost:4444/sql",
    ]) {
      expect((await boot({ [name]: endpoint })).status, endpoint).toBe(200);
    }
  });
});
