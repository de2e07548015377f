// Reading the changes feed through the public API.
import { SELF } from "cloudflare:test";
import { BASE } from "./auth";

export const CHANGES = `${BASE}/api/v1/changes`;

export type Change = {
  id: string;
  action: string;
  actor_id: string | null;
  document_id: string;
  details: Record<string, unknown>;
  created_at: string;
  cursor: string;
};
export type ChangesPage = { items: Change[]; next_cursor: string; has_more: boolean };

export async function changes(
  auth: Record<string, string>,
  query: { cursor?: string; limit?: number; wait?: number } = {},
): Promise<ChangesPage> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const res = await SELF.fetch(`${CHANGES}?${params}`, { headers: auth });
  if (res.status !== 200) throw new Error(`changes answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as ChangesPage;
}

/** Every change after `cursor`, page by page; answers them and the final cursor. */
export async function drain(auth: Record<string, string>, cursor?: string, limit = 100) {
  const all: Change[] = [];
  let next = cursor;
  for (;;) {
    const page = await changes(auth, { cursor: next, limit });
    all.push(...page.items);
    next = page.next_cursor;
    if (!page.has_more) return { items: all, cursor: next };
  }
}

export async function latest(auth: Record<string, string>): Promise<string> {
  const res = await SELF.fetch(`${CHANGES}/latest`, { headers: auth });
  if (res.status !== 200) throw new Error(`latest answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { cursor: string }).cursor;
}
