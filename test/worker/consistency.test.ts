// Concurrent mixed traffic for a bounded number of operations, then consistency checks of what
// it left: contiguous versions, every version's bytes present with the recorded size and
// digest, exactly one activity row per successful change, no access surviving a revocation.
// Against real PostgreSQL (the second CI pass) the races are real.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { newUser, postJson } from "../support/auth";
import { sha256Hex } from "../support/bytes";
import { createDocument, DOCS, multipart, samplePdf } from "../support/documents";
import { testSql, testStorage } from "../support/stack";

const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;
let owner: User;
let others: User[];
let docs: string[];
const OPERATIONS = 150;
const CONCURRENCY = 10;

beforeAll(async () => {
  owner = await newUser("load-owner");
  others = [await newUser("load-a"), await newUser("load-b"), await newUser("load-c")];
  docs = [];
  for (let i = 0; i < 4; i++) docs.push((await createDocument(owner.auth, { fields: { title: `Load ${i}` } })).id);
});

type Outcome = { kind: string; status: number };

async function operation(i: number): Promise<Outcome> {
  const doc = docs[i % docs.length] as string;
  const other = others[i % others.length] as User;
  switch (i % 6) {
    case 0:
    case 1: {
      const res = await SELF.fetch(`${DOCS}/${doc}/upload-version`, {
        method: "POST",
        headers: owner.auth,
        body: multipart({ bytes: samplePdf(`load ${i}`) }),
      });
      return { kind: "version", status: res.status };
    }
    case 2: {
      const res = await postJson(`${DOCS}/${doc}/permissions`, { user_id: other.id, role: "READ" }, owner.auth);
      return { kind: "grant", status: res.status };
    }
    case 3: {
      const res = await SELF.fetch(`${DOCS}/${doc}`, {
        method: "PUT",
        headers: { ...owner.auth, "Content-Type": "application/json" },
        body: JSON.stringify({ title: `Renamed ${i}`, tags: [`t${i % 5}`] }),
      });
      return { kind: "update", status: res.status };
    }
    case 4: {
      const res = await SELF.fetch(`${DOCS}/${doc}/permissions/${other.id}`, { method: "DELETE", headers: owner.auth });
      return { kind: "revoke", status: res.status };
    }
    default: {
      const res = await SELF.fetch(`${DOCS}?limit=5`, { headers: other.auth });
      return { kind: "list", status: res.status };
    }
  }
}

describe("concurrent mixed traffic", () => {
  it("leaves consistent data behind", async () => {
    const outcomes: Outcome[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < OPERATIONS) outcomes.push(await operation(next++));
      }),
    );
    // Only documented answers: grants may conflict (409), revocations may find nothing (404).
    for (const o of outcomes) {
      const allowed = { version: [201], grant: [201, 409], update: [200], revoke: [204, 404], list: [200] }[o.kind];
      expect(allowed, `${o.kind} answered ${o.status}`).toContain(o.status);
    }

    // Versions: contiguous from 1 to current_version, bytes present with the recorded size and digest.
    const storage = testStorage();
    for (const doc of docs) {
      const versions = await sql`select v.version_number, v.storage_key, v.size_bytes, v.sha256, d.current_version
        from document_versions v join documents d on d.id = v.document_id where d.id = ${doc} order by v.version_number`;
      const numbers = versions.map((v) => v.version_number);
      expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
      expect(versions[0]?.current_version).toBe(numbers.length);
      for (const v of versions) {
        const object = await storage.get(v.storage_key);
        const bytes = new Uint8Array(await (object as Response).arrayBuffer());
        expect(bytes.byteLength).toBe(Number(v.size_bytes));
        expect(await sha256Hex(bytes)).toBe(v.sha256);
      }
    }

    // One activity row per successful change, no more, no fewer.
    const ok = (kind: string, status: number) => outcomes.filter((o) => o.kind === kind && o.status === status).length;
    const rows = await sql`select action, count(*)::int as n from activity_logs
      where document_id = any(${docs}::uuid[]) group by action`;
    const count = (action: string) => rows.find((r) => r.action === action)?.n ?? 0;
    expect(count("version.created")).toBe(ok("version", 201));
    expect(count("permission.granted")).toBe(ok("grant", 201));
    expect(count("permission.revoked")).toBe(ok("revoke", 204));
    expect(count("document.updated")).toBe(ok("update", 200));
    expect(count("document.created")).toBe(docs.length);

    // Revoke everything that is left; no access may survive.
    for (const doc of docs) {
      for (const other of others) {
        await SELF.fetch(`${DOCS}/${doc}/permissions/${other.id}`, { method: "DELETE", headers: owner.auth });
        expect((await SELF.fetch(`${DOCS}/${doc}`, { headers: other.auth })).status).toBe(404);
      }
    }
    const [left] =
      await sql`select count(*)::int as n from document_permissions where document_id = any(${docs}::uuid[])`;
    expect(left?.n).toBe(0);
  });
});
