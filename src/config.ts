// Configuration is parsed once per set of bindings, at the Worker boundary (src/index.ts): a bad
// deployment answers a clear 500 naming the variables, instead of failing deep inside a handler.
import { z } from "zod";
import { secretWeakness } from "./auth/secret-strength";
import { oncePer } from "./lib/per-object";

const csv = z
  .string()
  .default("")
  .transform((value) =>
    value
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean),
  );

const httpUrl = z.url({ protocol: /^https?$/ });

const seconds = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

/**
 * At least 32 bytes of key material (HS256 needs a 256-bit key; the pepper likewise) that was
 * generated, not typed: placeholders and predictable values are refused (src/auth/secret-strength.ts).
 */
const secretKey = z.string().superRefine((value, ctx) => {
  const weakness = secretWeakness(value);
  // The message names the reason only; zod's default issue would not include the value either.
  if (weakness) ctx.addIssue({ code: "custom", message: weakness });
});

/** A rotated-out secret that still verifies what was made with it; unset or empty when there is none. */
const previousSecretKey = z.preprocess((v) => (v === "" ? undefined : v), secretKey.optional());

/** 127.0.0.0/8, ::1 and localhost, as the URL parser normalises them ("127.1" is 127.0.0.1). */
function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

// Plain http only where traffic never leaves the machine: the database's connection string (with
// its password) travels in a header of every query, and presigned storage URLs are bearer
// credentials for the object they name.
// zod runs refinements on values its URL check already refused, so this one parses defensively.
const endpointUrl = httpUrl.refine((value) => {
  const url = URL.parse(value);
  return url === null || url.protocol === "https:" || isLoopbackHost(url.hostname);
}, "must use https:// (plain http:// only for a loopback host: 127.0.0.0/8, ::1, localhost)");

/**
 * The request budgets (per 60 s) a deployment may choose: one Rate Limiting namespace each in
 * wrangler.toml, whose limit is fixed there (src/middleware/rate-limit.ts says why).
 */
export const RATE_LIMIT_STEPS = [10, 20, 30, 60, 120, 300, 600, 1200, 3000, 6000, 10000] as const;
export type RateLimitStep = (typeof RATE_LIMIT_STEPS)[number];

const budget = (fallback: RateLimitStep) =>
  z.coerce
    .number()
    .default(fallback)
    .refine((value): value is RateLimitStep => (RATE_LIMIT_STEPS as readonly number[]).includes(value), {
      message: `must be one of ${RATE_LIMIT_STEPS.join(", ")} (a namespace of wrangler.toml's [[ratelimits]])`,
    })
    .transform((value) => value as RateLimitStep);

export const ConfigSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  NEON_HTTP_ENDPOINT: z.preprocess((v) => (v === "" ? undefined : v), endpointUrl.optional()),
  S3_ENDPOINT: endpointUrl,
  S3_REGION: z.string().min(1).default("auto"),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name"),
  S3_ACCESS_KEY_ID: z.string().min(1),
  S3_SECRET_ACCESS_KEY: z.string().min(1),
  CORS_ORIGINS: csv.pipe(z.array(z.url())),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),

  JWT_SECRET: secretKey,
  /** The key before the last rotation: its access tokens (told apart by `kid`) verify until they expire. */
  JWT_SECRET_PREVIOUS: previousSecretKey,
  JWT_ISSUER: z.string().min(1).default("docvault"),
  JWT_AUDIENCE: z.string().min(1).default("docvault-api"),
  ACCESS_TOKEN_TTL_SECONDS: seconds(1800, 86_400),
  REFRESH_TOKEN_TTL_SECONDS: seconds(7 * 86_400, 90 * 86_400),
  PASSWORD_PEPPER: secretKey,
  /** The pepper before the last rotation: hashes made with it still verify and are rehashed on login. */
  PASSWORD_PEPPER_PREVIOUS: previousSecretKey,
  /** Absolute lifetime of a login: its refresh chain cannot be refreshed past this, however often rotated. */
  SESSION_MAX_SECONDS: seconds(30 * 86_400, 366 * 86_400),
  /** Requests per minute per authenticated user, on every API route. */
  RATE_LIMIT_PER_MINUTE: budget(600),
  /** Uploads, version uploads and direct-upload starts per minute per user (on top of the above). */
  UPLOAD_RATE_LIMIT_PER_MINUTE: budget(60),
  /** Registrations per minute per client address (IPv6 by /64). */
  REGISTER_RATE_LIMIT_PER_MINUTE: budget(10),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(1000).default(5),
  LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(50),
  LOGIN_FAILURE_WINDOW_SECONDS: seconds(900, 86_400),

  /**
   * Uploads through the API, streamed to storage in parts (memory does not grow with it). The
   * plan's request body limit still applies before the Worker sees the body: 100 MB on Free and
   * Pro, 200 MB on Business, 500 MB on Enterprise, hence the ceiling.
   */
  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(500 * 1000 * 1000)
    .default(50 * 1024 * 1024),
  MAX_DIRECT_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(5 * 1024 ** 4)
    .default(5 * 1024 ** 3),
  /**
   * Bytes of every version of every document a user owns (soft-deleted ones too, until purged);
   * 0 = unlimited. Default 10 GiB.
   */
  STORAGE_QUOTA_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .default(10 * 1024 ** 3),
  DOWNLOAD_URL_TTL_SECONDS: seconds(900, 7 * 86_400),
  UPLOAD_URL_TTL_SECONDS: seconds(900, 7 * 86_400),
  /** Deadline of a resumable (multipart) direct upload, from its start; part URLs never outlive it. */
  MULTIPART_UPLOAD_TTL_SECONDS: seconds(86_400, 7 * 86_400),
  /** A database round trip or storage call that takes longer fails with 503 instead of hanging. */
  DATABASE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  STORAGE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Detected content types that may be stored; empty means the built-in list (src/documents/file-types.ts). */
  ALLOWED_CONTENT_TYPES: csv,
  /** Days a deleted document stays in the trash (restorable) before the scheduled job purges it; 0 = at the next run. */
  TRASH_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  /** Characters of a version's text that are extracted and indexed at most (the rest is not searched). */
  CONTENT_MAX_CHARS: z.coerce.number().int().min(1000).max(10_000_000).default(1_000_000),
  /** Encrypts webhook signing secrets at rest (AES-256-GCM, key derived with HKDF): src/webhooks/secrets.ts. */
  WEBHOOK_SECRET_KEY: secretKey,
  /** The key before the last rotation: secrets it encrypted still decrypt, and are re-encrypted under the current one. */
  WEBHOOK_SECRET_KEY_PREVIOUS: previousSecretKey,
  /**
   * Webhooks one user may have at most (disabled ones count until deleted): each change is
   * delivered to every webhook that may see it, so an unbounded number would multiply deliveries.
   */
  WEBHOOKS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(25),
  /**
   * Days a finished webhook delivery (delivered, or ended without success) stays listed in
   * GET /webhooks/{id}/deliveries before the hourly job deletes it; deliveries still being
   * retried are never removed.
   */
  WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Local development only: webhooks may use http:// and private, loopback or link-local hosts. */
  WEBHOOK_ALLOW_PRIVATE_URLS: z
    .enum(["true", "false", ""])
    .default("false")
    .transform((value) => value === "true"),
});

export type Config = z.infer<typeof ConfigSchema>;

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

// Bindings are one object per isolate, so parsing happens once, not once per request.
export const loadConfig = oncePer((env: object): ConfigResult => {
  const parsed = ConfigSchema.safeParse(env);
  return parsed.success
    ? { ok: true, config: parsed.data }
    : // Names and reasons only: values may be secrets.
      { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) };
});
