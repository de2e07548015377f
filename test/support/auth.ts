// Helpers for tests that need accounts and tokens, through the public API.
import { SELF } from "cloudflare:test";

export const BASE = "http://api.test";
export const AUTH = `${BASE}/api/v1/auth`;
export const PASSWORD = "correct horse battery staple";

export type Tokens = { access_token: string; refresh_token: string; token_type: string; expires_in: number };

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

let counter = 0;
export function uniqueEmail(label = "user"): string {
  counter++;
  return `${label}-${counter}-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

export async function register(email = uniqueEmail(), password = PASSWORD, fullName?: string) {
  const res = await postJson(`${AUTH}/register`, { email, password, full_name: fullName });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; email: string; full_name: string | null; created_at: string };
}

export async function login(email: string, password = PASSWORD, headers: Record<string, string> = {}) {
  const res = await postJson(`${AUTH}/login`, { email, password }, headers);
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Tokens;
}

export async function newUser(label?: string) {
  const email = uniqueEmail(label);
  const user = await register(email);
  const tokens = await login(email);
  return { ...user, tokens, auth: { Authorization: `Bearer ${tokens.access_token}` } };
}

export function me(accessToken: string | undefined) {
  return SELF.fetch(
    `${AUTH}/me`,
    accessToken === undefined ? {} : { headers: { Authorization: `Bearer ${accessToken}` } },
  );
}
