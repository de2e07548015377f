import { z } from "@hono/zod-openapi";

import { codePoints, upToCharacters } from "../../lib/characters";

export const NewPassword = z
  .string()
  .max(1024)
  // Counted as sent, in code points, as the contract and a client count them. It is hashed
  // NFKC-normalised (password.ts), which may make it longer ("…" is three dots) or shorter
  // (e + U+0301 is "é"); counted after that, "…………" (4 characters) passed the minimum of 12.
  .refine((v) => codePoints(v) >= 12, "must be at least 12 characters")
  .refine((v) => codePoints(v) <= 256, "must be at most 256 characters")
  .openapi({
    minLength: 12,
    maxLength: 256,
    description:
      "12 to 256 characters (Unicode code points, counted as sent), no composition rules. It is compared " +
      "NFKC-normalised, so the same password typed with composed or decomposed accents logs in.",
    example: "correct horse battery staple",
  });

export const RegisterBody = z
  .object({
    email: z.email().max(254).openapi({ example: "ada@example.com" }),
    password: NewPassword,
    full_name: upToCharacters(200).nullish().openapi({ example: "Ada Lovelace" }),
  })
  .openapi("RegisterRequest");

export const UserSchema = z
  .object({
    id: z.guid(),
    email: z.string().openapi({ example: "ada@example.com" }),
    full_name: z.string().nullable(),
    created_at: z.iso.datetime().openapi({ example: "2026-11-25T17:06:02.123Z" }),
  })
  .openapi("User");

export const CurrentUserSchema = UserSchema.extend({
  storage: z
    .object({
      used_bytes: z.number().int().openapi({
        description: "Bytes of every version of every document the user owns, deleted documents included until purged.",
        example: 7340032,
      }),
      quota_bytes: z.number().int().openapi({
        description: "The storage quota (STORAGE_QUOTA_BYTES) in bytes; 0 means unlimited.",
        example: 10737418240,
      }),
    })
    .openapi({
      description:
        "Storage used against the quota. An upload, version or direct upload that would take `used_bytes` " +
        "past a non-zero `quota_bytes` is refused with 507 `quota_exceeded`; versions uploaded to a shared " +
        "document count against its owner.",
    }),
}).openapi("CurrentUser", {
  description: "The caller's account, with its storage usage (only `GET /auth/me` carries `storage`).",
});

export const TokensSchema = z
  .object({
    access_token: z.string().openapi({ description: "JWT to send as `Authorization: Bearer …`." }),
    refresh_token: z.string().openapi({ description: "Opaque; single use: each refresh returns the next one." }),
    token_type: z.literal("bearer"),
    expires_in: z.number().int().openapi({ description: "Lifetime of the access token in seconds.", example: 1800 }),
  })
  .openapi("Tokens");

// Login takes any strings: a malformed email is simply a wrong email/password pair (401).
const LoginPassword = z.string().min(1).max(1024);

export const LoginJson = z
  .object({ email: z.string().min(1).max(254), password: LoginPassword })
  .openapi("LoginRequest");

/**
 * An optional OAuth2 form field, where an empty value counts as absent: FastAPI's
 * OAuth2PasswordRequestForm (the original design's login) takes `grant_type=` that way, and
 * some OAuth2 clients send every field of the form, empty when unused.
 */
const optionalFormField = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

export const LoginForm = z
  .object({
    username: z.string().min(1).max(254).openapi({ description: "The account's email." }),
    password: LoginPassword,
    grant_type: optionalFormField(z.literal("password")),
    scope: optionalFormField(z.string().max(1000)),
    client_id: optionalFormField(z.string().max(200)),
    client_secret: optionalFormField(z.string().max(200)),
  })
  .openapi("LoginForm", { description: "OAuth2 resource owner password credentials (RFC 6749 §4.3)." });

export const RefreshBody = z.object({ refresh_token: z.string().min(1).max(512) }).openapi("RefreshRequest");

/** The same as an OAuth2 refresh request (RFC 6749 §6), which the OpenAPI's `refreshUrl` implies. */
export const RefreshForm = z
  .object({
    refresh_token: z.string().min(1).max(512),
    grant_type: optionalFormField(z.literal("refresh_token")),
    scope: optionalFormField(z.string().max(1000)),
    client_id: optionalFormField(z.string().max(200)),
  })
  .openapi("RefreshForm", { description: "OAuth2 refresh request (RFC 6749 §6)." });

export const CloseAccountBody = z
  .object({ password: LoginPassword.openapi({ description: "The account's current password, to confirm." }) })
  .openapi("CloseAccountRequest");
