// Password hashing: scrypt at OWASP's row (N=2^14, r=8, p=5, 16 MiB) over an HMAC-SHA256 of the
// password keyed with a secret pepper, stored as a PHC string so parameters can be raised later.
// node:crypto's scrypt (nodejs_compat) runs natively in workerd: ~150 ms instead of ~260 ms for
// a WASM/JS implementation. workerd caps scrypt at N·r·p ≤ 2^20, so stored parameters above the
// caps are refused before any work is done.
//
// Pepper rotation: each hash names the pepper it was made with by a short fingerprint (the PHC
// parameter `pk`), so PASSWORD_PEPPER_PREVIOUS can still verify older hashes, which a login then
// rehashes under the current pepper. Hashes without `pk` predate fingerprints.
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

export type Peppers = { current: string; previous?: string | undefined };

// 32 bits: enough to tell two peppers apart (a collision with the previous pepper only costs a
// second derivation), too few to be a useful offline check of a guessed pepper, which would have
// to be confirmed with scrypt anyway. The boundary refuses guessable peppers besides.
const fingerprints = new Map<string, string>();
export function pepperFingerprint(pepper: string): string {
  let fingerprint = fingerprints.get(pepper);
  if (!fingerprint) {
    fingerprint = createHmac("sha256", pepper).update("docvault password pepper id").digest("hex").slice(0, 8);
    fingerprints.set(pepper, fingerprint);
  }
  return fingerprint;
}

/** NFKC-normalised (NIST SP 800-63B §5.1.1.2), then keyed with the pepper. */
function peppered(password: string, pepper: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", pepper).update(password.normalize("NFKC"), "utf8").digest());
}

export type ParsedHash = { params: ScryptParams; salt: Uint8Array; hash: Uint8Array; pepperId: string | null };

const PHC =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})(?:,pk=([0-9a-f]{8}))?\$([A-Za-z0-9+/]{16,88})\$([A-Za-z0-9+/]{16,88})$/;

/** Parses a stored hash, or returns null when it is malformed or its parameters exceed the caps. */
export function parseHash(stored: string): ParsedHash | null {
  const m = PHC.exec(stored);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 1 || params.r < 1 || params.p < 1) return null;
  if (params.ln > 20 || 2 ** params.ln * params.r * params.p > MAX_COST) return null;
  const hash = unb64(m[6] as string);
  if (hash.byteLength < 16 || hash.byteLength > 64) return null;
  return { params, salt: unb64(m[5] as string), hash, pepperId: m[4] ?? null };
}

export async function hashPassword(password: string, pepper: string, params = CURRENT_PARAMS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_LENGTH));
  const hash = await derive(peppered(password, pepper), salt, params, KEY_LENGTH);
  const id = pepperFingerprint(pepper);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p},pk=${id}$${b64(salt)}$${b64(hash)}`;
}

export type VerifyResult = {
  ok: boolean;
  needsRehash: boolean;
  /** scrypt derivations done; the same for every failure under one configuration (see below). */
  derivations: number;
};

// Verified against when the account does not exist, so unknown emails cost the same work.
const DUMMY_HASH = "$scrypt$ln=14,r=8,p=5$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/** The peppers a stored hash may have been made with, most likely first. */
function candidatePeppers(parsed: ParsedHash, peppers: Peppers): string[] {
  const all = peppers.previous ? [peppers.current, peppers.previous] : [peppers.current];
  if (parsed.pepperId === null) return all; // from before fingerprints: either
  return all.filter((pepper) => pepperFingerprint(pepper) === parsed.pepperId);
}

/**
 * Checks a password against a stored hash (or, when `stored` is null, against a dummy hash with
 * the current parameters). Every failure costs the same number of derivations, one per configured
 * pepper, whatever the hash: an unknown email, a hash naming the current pepper, one naming the
 * previous, one from before fingerprints. Only a success may stop early; whoever sent the right
 * password learns nothing from the time it took.
 */
export async function verifyPassword(password: string, stored: string | null, peppers: Peppers): Promise<VerifyResult> {
  const parsed = parseHash(stored ?? DUMMY_HASH);
  if (!parsed) return { ok: false, needsRehash: false, derivations: 0 };
  const candidates = stored === null ? [] : candidatePeppers(parsed, peppers);
  const budget = peppers.previous ? 2 : 1;
  for (let i = 0; i < budget; i++) {
    const pepper = candidates[i];
    const derived = await derive(
      peppered(password, pepper ?? peppers.current),
      parsed.salt,
      parsed.params,
      parsed.hash.byteLength,
    );
    if (pepper !== undefined && timingSafeEqual(derived, parsed.hash)) {
      const p = parsed.params;
      const stale = p.ln !== CURRENT_PARAMS.ln || p.r !== CURRENT_PARAMS.r || p.p !== CURRENT_PARAMS.p;
      const otherPepper = parsed.pepperId !== pepperFingerprint(peppers.current) || pepper !== peppers.current;
      return { ok: true, needsRehash: stale || otherPepper, derivations: i + 1 };
    }
  }
  return { ok: false, needsRehash: false, derivations: budget };
}
