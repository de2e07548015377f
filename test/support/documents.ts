// Helpers for document tests: sample files of real types, uploads through the API.
import { SELF } from "cloudflare:test";
import { vi } from "vitest";
import { BASE } from "./auth";

export const DOCS = `${BASE}/api/v1/documents`;

export const samplePdf = (text = "hello") =>
  new TextEncoder().encode(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% ${text}\ntrailer << >>\n%%EOF\n`);
export const samplePng = () =>
  new Uint8Array([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6,
    0, 0, 0,
  ]);
export const sampleExe = () =>
  new Uint8Array([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0xff, 0xff]);

export type Upload = {
  bytes: Uint8Array | string;
  name?: string;
  type?: string;
  fields?: Record<string, string | string[]>;
};

export function multipart(upload: Upload): FormData {
  const form = new FormData();
  const bytes = typeof upload.bytes === "string" ? new TextEncoder().encode(upload.bytes) : upload.bytes;
  form.append(
    "file",
    new File([bytes], upload.name ?? "report.pdf", { type: upload.type ?? "application/octet-stream" }),
  );
  for (const [name, value] of Object.entries(upload.fields ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) form.append(name, v);
  }
  return form;
}

export function uploadDocument(auth: Record<string, string>, upload: Upload) {
  return SELF.fetch(DOCS, { method: "POST", headers: auth, body: multipart(upload) });
}

export async function createDocument(auth: Record<string, string>, upload: Partial<Upload> = {}) {
  const res = await uploadDocument(auth, { bytes: samplePdf(), ...upload });
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown> & { id: string; current_version: number };
}

export function uploadVersion(auth: Record<string, string>, id: string, upload: Upload) {
  return SELF.fetch(`${DOCS}/${id}/upload-version`, { method: "POST", headers: auth, body: multipart(upload) });
}

export async function download(auth: Record<string, string>, id: string, version?: number) {
  const res = await SELF.fetch(`${DOCS}/${id}/download${version ? `?version=${version}` : ""}`, { headers: auth });
  return res;
}

/**
 * Waits until the content queue's consumer has finished the document's current version (any
 * status but pending). Its `content.indexed` activity row commits with that status, so a test that
 * then counts changes, deliveries or pushes does not race with the background indexing.
 */
export async function indexingFinished(auth: Record<string, string>, id: string, timeout = 15_000): Promise<void> {
  await vi.waitFor(
    async () => {
      const res = await SELF.fetch(`${DOCS}/${id}`, { headers: auth });
      const doc = (await res.json()) as { content_status?: string };
      if (res.status !== 200 || doc.content_status === "pending") throw new Error(`${id}: content still pending`);
    },
    { timeout, interval: 100 },
  );
}
