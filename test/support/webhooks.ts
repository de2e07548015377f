// Webhooks through the public API, and the test receiver (global-setup.ts) they deliver to.
import { inject } from "vitest";
import { BASE, postJson } from "./auth";

export const WEBHOOKS = `${BASE}/api/v1/webhooks`;

export type CreatedWebhook = {
  id: string;
  url: string;
  events: string[] | null;
  document_id: string | null;
  created_at: string;
  disabled_at: string | null;
  failure_count: number;
  secret: string;
};

export type Received = { method: string; path: string; headers: Record<string, string>; body: string; at: number };

/** A receiver URL answering per `mode` (ok, fail, gone, slow, redirect, flaky/{n}), with a fresh key. */
export function receiverUrl(mode: string): { url: string; key: string } {
  const key = crypto.randomUUID();
  return { url: `${inject("webhookReceiver")}/${mode}/${key}`, key };
}

export async function received(key: string): Promise<Received[]> {
  const res = await fetch(`${inject("webhookReceiver")}/__log/${key}`);
  return (await res.json()) as Received[];
}

export async function createWebhook(
  auth: Record<string, string>,
  body: { url: string; events?: string[] | null; document_id?: string | null },
): Promise<CreatedWebhook> {
  const res = await postJson(WEBHOOKS, body, auth);
  if (res.status !== 201) throw new Error(`create webhook answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as CreatedWebhook;
}

/** Standard Webhooks verification, written apart from the service's code: WebCrypto HMAC-SHA256. */
export async function verifySignature(secret: string, headers: Record<string, string>, body: string) {
  const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signed = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`;
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(signed)));
  const expected = `v1,${btoa(String.fromCharCode(...mac))}`;
  return (headers["webhook-signature"] ?? "").split(" ").includes(expected);
}
