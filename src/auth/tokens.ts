// Access tokens are short-lived HS256 JWTs (jose) with the algorithm pinned on verification;
// refresh tokens are 256-bit random opaque strings of which only the SHA-256 is stored.
// Key rotation: every access token names its key by `kid` (a fingerprint, never the key), and
// JWT_SECRET_PREVIOUS still verifies the tokens signed before the last change until they expire.
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Config } from "../config";
import { Failure } from "../lib/failure";
import { oncePer } from "../lib/per-object";
import { isUuid } from "../lib/uuid";

type TokenConfig = Pick<
  Config,
  "JWT_SECRET" | "JWT_SECRET_PREVIOUS" | "JWT_ISSUER" | "JWT_AUDIENCE" | "ACCESS_TOKEN_TTL_SECONDS"
>;

const ALGORITHM = "HS256";
// RFC 9068's media type for JWT access tokens; a refresh or ID token cannot pass as one.
const TOKEN_TYPE = "at+jwt";
const CLOCK_TOLERANCE_SECONDS = 5;

// Imported once per secret: with raw bytes jose would import the key on every sign and verify
// (about 4% of a request's CPU in `npm run bench:profile`).
const keys = new Map<string, Promise<CryptoKey>>();
function keyOf(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, key);
  }
  return key;
}

const base64urlOf = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

// The key's id: the first 64 bits of an HMAC of a fixed label under the key itself. Anyone with a
// token can already test a guessed key against its signature, so the id tells them nothing more.
// @noble/hashes computes it synchronously (WebCrypto only offers promises), so it needs no cache.
export function keyIdOf(secret: string): string {
  return base64urlOf(hmac(sha256, utf8ToBytes(secret), utf8ToBytes("docvault access token key id")).slice(0, 8));
}

export async function issueAccessToken(
  config: TokenConfig,
  userId: string,
): Promise<{ token: string; expiresIn: number }> {
  const expiresIn = config.ACCESS_TOKEN_TTL_SECONDS;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYPE, kid: keyIdOf(config.JWT_SECRET) })
    .setSubject(userId)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(config.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${expiresIn}s`)
    .setJti(crypto.randomUUID())
    .sign(await keyOf(config.JWT_SECRET));
  return { token, expiresIn };
}

/** An access token that does not authenticate: `token_expired` or `token_invalid`. */
export class InvalidTokenError extends Failure {
  constructor(reason: "expired" | "invalid") {
    super(
      reason === "expired" ? "token_expired" : "token_invalid",
      reason === "expired" ? "The access token has expired." : "The access token is invalid.",
    );
    this.name = "InvalidTokenError";
  }
}

// Verified access tokens, by their exact text. A client sends the same token on every request
// for its whole lifetime, and verifying it (HMAC plus claim checks in jose) was about 9% of a
// get-document request's CPU in `npm run bench:profile`. An entry keeps only what verification
// concluded (user id, expiry); a token differing by one character is another key and goes
// through jose. Expiry is checked again on every hit, so a cached token dies on time. One cache
// per configuration object, so another secret, previous secret, issuer or audience never sees
// these entries: removing JWT_SECRET_PREVIOUS is a new configuration with an empty cache.
// Only the signature and claims are cached, never the account's state: whether the account is
// still open (DELETE /auth/me closes it) is checked by every route's own database statement
// (documents/sql.ts, callerOpen), so a cached token of a closed account gets 401 on its next
// request in every isolate.
const VERIFIED_CACHE_SIZE = 5000;
type Verified = { userId: string; exp: number };
const verifiedCache = oncePer((_config: TokenConfig) => new Map<string, Verified>());

const nowSeconds = () => Math.floor(Date.now() / 1000);
const expired = (exp: number) => exp <= nowSeconds() - CLOCK_TOLERANCE_SECONDS;

/** The user id of a valid access token; throws InvalidTokenError with a client-safe reason. */
export async function verifyAccessToken(config: TokenConfig, token: string): Promise<{ userId: string }> {
  const cache = verifiedCache(config);
  const hit = cache.get(token);
  if (hit) {
    // The same rule as jose's `exp` check with the same tolerance.
    if (!expired(hit.exp)) return { userId: hit.userId };
    cache.delete(token);
    throw new InvalidTokenError("expired");
  }
  const verified = await verifyWithJose(config, token);
  // Oldest first out: Map keeps insertion order.
  if (cache.size >= VERIFIED_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(token, verified);
  return { userId: verified.userId };
}

/** The secrets that may have signed a token with this `kid`, current first. */
async function candidateSecrets(config: TokenConfig, kid: unknown): Promise<string[]> {
  const secrets = config.JWT_SECRET_PREVIOUS ? [config.JWT_SECRET, config.JWT_SECRET_PREVIOUS] : [config.JWT_SECRET];
  // Tokens issued before key ids existed have none; they expire within ACCESS_TOKEN_TTL_SECONDS.
  if (kid === undefined) return secrets;
  if (typeof kid !== "string") return [];
  const ids = secrets.map(keyIdOf);
  return secrets.filter((_, i) => ids[i] === kid);
}

async function verifyWithJose(config: TokenConfig, token: string): Promise<Verified> {
  let secrets: string[];
  try {
    secrets = await candidateSecrets(config, decodeProtectedHeader(token).kid);
  } catch {
    throw new InvalidTokenError("invalid");
  }
  let failure: unknown = new InvalidTokenError("invalid");
  for (const secret of secrets) {
    try {
      return await verifyWith(config, secret, token);
    } catch (error) {
      failure = error;
      // Only a signature made with another key is worth trying the next key for.
      if (!(error instanceof joseErrors.JWSSignatureVerificationFailed)) break;
    }
  }
  if (failure instanceof InvalidTokenError) throw failure;
  if (failure instanceof joseErrors.JWTExpired) throw new InvalidTokenError("expired");
  throw new InvalidTokenError("invalid");
}

async function verifyWith(config: TokenConfig, secret: string, token: string): Promise<Verified> {
  const { payload } = await jwtVerify(token, await keyOf(secret), {
    algorithms: [ALGORITHM],
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    typ: TOKEN_TYPE,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ["sub", "iat", "exp", "iss", "aud", "jti"],
    // Issued no later than now and no earlier than one lifetime ago (jose checks `iat` both ways).
    maxTokenAge: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  if (typeof payload.sub !== "string" || !isUuid(payload.sub) || typeof payload.exp !== "number") {
    throw new InvalidTokenError("invalid");
  }
  // A token this service signs lives ACCESS_TOKEN_TTL_SECONDS: one that claims a longer life (say,
  // ten years) was not issued here, even if its signature is right (a leaked key's forgery).
  if (payload.exp - (payload.iat as number) > config.ACCESS_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS) {
    throw new InvalidTokenError("invalid");
  }
  return { userId: payload.sub, exp: payload.exp };
}

/** What is stored of a refresh token: its SHA-256 (synchronous, with @noble/hashes). */
export function hashRefreshToken(token: string): Uint8Array {
  return sha256(utf8ToBytes(token));
}

export function newRefreshToken(): { token: string; hash: Uint8Array } {
  const token = base64urlOf(crypto.getRandomValues(new Uint8Array(32)));
  return { token, hash: hashRefreshToken(token) };
}
