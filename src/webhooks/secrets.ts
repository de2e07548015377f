// Webhook signing secrets: `whsec_` + base64 of 32 random bytes (the Standard Webhooks format),
// shown once at creation. The service must read a secret back to sign each delivery, so it cannot
// be stored hashed: it is encrypted with AES-256-GCM under a key derived (HKDF-SHA-256) from
// WEBHOOK_SECRET_KEY, with the webhook's id as additional data, so a ciphertext copied onto another
// webhook's row does not decrypt. Stored as "v1.<iv>.<ciphertext>" (base64), the version naming
// the scheme so a later key rotation can tell old rows apart.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export function generateSecret(): string {
  return `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(material: string): Promise<CryptoKey> {
  let key = keys.get(material);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(material), "HKDF", false, ["deriveKey"]).then((base) =>
      crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(0),
          info: encoder.encode("docvault webhook secrets v1"),
        },
        base,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      ),
    );
    keys.set(material, key);
  }
  return key;
}

export async function encryptSecret(keyMaterial: string, webhookId: string, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(webhookId) },
    await keyFor(keyMaterial),
    encoder.encode(secret),
  );
  return `v1.${toBase64(iv)}.${toBase64(new Uint8Array(ciphertext))}`;
}

/** The secret, or null when it does not decrypt (another key, another row, tampered). */
export async function decryptSecret(keyMaterial: string, webhookId: string, stored: string): Promise<string | null> {
  const [version, iv, ciphertext] = stored.split(".");
  if (version !== "v1" || !iv || !ciphertext) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(iv), additionalData: encoder.encode(webhookId) },
      await keyFor(keyMaterial),
      fromBase64(ciphertext),
    );
    return decoder.decode(plain);
  } catch {
    return null;
  }
}

/**
 * Standard Webhooks signature of one attempt: `v1,` + base64 HMAC-SHA256 of
 * "{id}.{timestamp}.{body}", keyed with the base64-decoded part of the secret after `whsec_`.
 */
export async function signPayload(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.slice("whsec_".length)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}
