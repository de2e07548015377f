// Configuration is parsed once per set of bindings, at the Worker boundary (src/index.ts): a bad
// deployment answers a clear 500 naming the variables, instead of failing deep inside a handler.
import { z } from "zod";
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

/** At least 32 bytes of key material (HS256 needs a 256-bit key; the pepper likewise). */
const secretKey = z
  .string()
  .refine((value) => new TextEncoder().encode(value).byteLength >= 32, "must be at least 32 bytes");

export const ConfigSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  NEON_HTTP_ENDPOINT: z.preprocess((v) => (v === "" ? undefined : v), httpUrl.optional()),
  S3_ENDPOINT: httpUrl,
  S3_REGION: z.string().min(1).default("auto"),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name"),
  S3_ACCESS_KEY_ID: z.string().min(1),
  S3_SECRET_ACCESS_KEY: z.string().min(1),
  CORS_ORIGINS: csv.pipe(z.array(z.url())),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),

  JWT_SECRET: secretKey,
  JWT_ISSUER: z.string().min(1).default("docvault"),
  JWT_AUDIENCE: z.string().min(1).default("docvault-api"),
  ACCESS_TOKEN_TTL_SECONDS: seconds(1800, 86_400),
  REFRESH_TOKEN_TTL_SECONDS: seconds(7 * 86_400, 90 * 86_400),
  PASSWORD_PEPPER: secretKey,
  LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(1000).default(5),
  LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(50),
  LOGIN_FAILURE_WINDOW_SECONDS: seconds(900, 86_400),

  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(100 * 1024 * 1024)
    .default(50 * 1024 * 1024),
  MAX_DIRECT_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(5 * 1024 ** 4)
    .default(5 * 1024 ** 3),
  DOWNLOAD_URL_TTL_SECONDS: seconds(900, 7 * 86_400),
  UPLOAD_URL_TTL_SECONDS: seconds(900, 7 * 86_400),
  /** A database round trip or storage call that takes longer fails with 503 instead of hanging. */
  DATABASE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  STORAGE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Detected content types that may be stored; empty means the built-in list (src/documents/file-types.ts). */
  ALLOWED_CONTENT_TYPES: csv,
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
