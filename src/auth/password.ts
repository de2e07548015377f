// Password hashing: scrypt at OWASP's row (N=2^14, r=8, p=5, 16 MiB) over an HMAC-SHA256 of the
// password keyed with a secret pepper, stored as a PHC string so parameters can be raised later.
// node:crypto's scrypt (nodejs_compat) runs natively in workerd: ~150 ms instead of ~260 ms for
// a WASM/JS implementation. workerd caps scrypt at N·r·p ≤ 2^20, so stored parameters above the
// caps are refused before any work is done.
import { Buffer } from "node:buffer";
import { createHmac, scrypt as scryptCallback, timingSafeEqual } from "node:crypto";

export type ScryptParams = { ln: number; r: number; p: number };

export const CURRENT_PARAMS: ScryptParams = { ln: 14, r: 8, p: 5 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const MAX_COST = 2 ** 20; // workerd's limit on N·r·p

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

function derive(secret: Uint8Array, salt: Uint8Array, params: ScryptParams, keyLength: number): Promise<Uint8Array> {
  const N = 2 ** params.ln;
  return new Promise((resolve, reject) =>
    scryptCallback(
      secret,
      salt,
      keyLength,
      { N, r: params.r, p: params.p, maxmem: 256 * N * params.r },
      (error, key) => (error ? reject(error) : resolve(new Uint8Array(key))),
    ),
  );
}

/** NFKC-normalised (NIST SP 800-63B §5.1.1.2), then keyed with the pepper. */
function peppered(password: string, pepper: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", pepper).update(password.normalize("NFKC"), "utf8").digest());
}

export type ParsedHash = { params: ScryptParams; salt: Uint8Array; hash: Uint8Array };

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]{16,88})\$([A-Za-z0-9+/]{16,88})$/;

/** Parses a stored hash, or returns null when it is malformed or its parameters exceed the caps. */
export function parseHash(stored: string): ParsedHash | null {
  const m = PHC.exec(stored);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 1 || params.r < 1 || params.p < 1) return null;
  if (params.ln > 20 || 2 ** params.ln * params.r * params.p > MAX_COST) return null;
  const hash = unb64(m[5] as string);
  if (hash.byteLength < 16 || hash.byteLength > 64) return null;
  return { params, salt: unb64(m[4] as string), hash };
}

export async function hashPassword(password: string, pepper: string, params = CURRENT_PARAMS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_LENGTH));
  const hash = await derive(peppered(password, pepper), salt, params, KEY_LENGTH);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

export type VerifyResult = { ok: boolean; needsRehash: boolean };

// Verified against when the account does not exist, so unknown emails cost the same work.
const DUMMY_HASH = "$scrypt$ln=14,r=8,p=5$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/**
 * Checks a password against a stored hash (or, when `stored` is null, against a dummy hash with
 * the current parameters, so that the answer takes as long either way).
 */
export async function verifyPassword(password: string, stored: string | null, pepper: string): Promise<VerifyResult> {
  const parsed = parseHash(stored ?? DUMMY_HASH);
  if (!parsed) return { ok: false, needsRehash: false };
  const candidate = await derive(peppered(password, pepper), parsed.salt, parsed.params, parsed.hash.byteLength);
  const ok = stored !== null && timingSafeEqual(candidate, parsed.hash);
  const p = parsed.params;
  const needsRehash = ok && (p.ln !== CURRENT_PARAMS.ln || p.r !== CURRENT_PARAMS.r || p.p !== CURRENT_PARAMS.p);
  return { ok, needsRehash };
}
