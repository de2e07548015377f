// Sharing and the one authorisation rule: a security matrix of every document and permission
// endpoint against every kind of caller, then the rules around owners, self-removal, role
// changes with old tokens, and the activity trail.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { newUser, postJson } from "../support/auth";
import { createDocument, DOCS, indexingFinished, multipart, samplePdf } from "../support/documents";
import { testSql } from "../support/stack";

const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;
let owner: User;
let admin: User;
let editor: User;
let reader: User;
let stranger: User;
let target: User;

beforeAll(async () => {
  owner = await newUser("share-owner");
  admin = await newUser("share-admin");
  editor = await newUser("share-editor");
  reader = await newUser("share-reader");
  stranger = await newUser("share-stranger");
  target = await newUser("share-target");
});

const json = (auth: Record<string, string>, method: string, body: unknown): RequestInit => ({
  method,
  headers: { ...auth, "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

async function grant(docId: string, by: User, who: User, role: string) {
  const res = await postJson(`${DOCS}/${docId}/permissions`, { user_id: who.id, role }, by.auth);
  expect(res.status).toBe(201);
}

/** A fresh document of `owner`, shared with admin (ADMIN), editor (EDIT), reader and target (READ). */
async function sharedDocument() {
  const doc = await createDocument(owner.auth);
  await grant(doc.id, owner, admin, "ADMIN");
  await grant(doc.id, owner, editor, "EDIT");
  await grant(doc.id, owner, reader, "READ");
  await grant(doc.id, owner, target, "READ");
  return doc.id;
}

type Caller = "owner" | "admin" | "editor" | "reader" | "stranger" | "anonymous";
const CALLERS: Caller[] = ["owner", "admin", "editor", "reader", "stranger", "anonymous"];
const authOf = (caller: Caller): Record<string, string> =>
  caller === "anonymous" ? {} : { owner, admin, editor, reader, stranger }[caller].auth;

type Endpoint = {
  name: string;
  request: (id: string, auth: Record<string, string>) => Promise<Response>;
  expected: number[];
  /** The scheme of a 401's WWW-Authenticate (Bearer unless said). */
  challenge?: string;
};

const ENDPOINTS: Endpoint[] = [
  {
    name: "GET document",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}`, { headers: a }),
    expected: [200, 200, 200, 200, 404, 401],
  },
  {
    name: "PUT document",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}`, json(a, "PUT", { title: "Edited" })),
    expected: [200, 200, 200, 403, 404, 401],
  },
  {
    name: "DELETE document",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}`, { method: "DELETE", headers: a }),
    expected: [204, 204, 403, 403, 404, 401],
  },
  {
    name: "GET download",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}/download`, { headers: a }),
    expected: [200, 200, 200, 200, 404, 401],
  },
  {
    name: "GET versions",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}/versions`, { headers: a }),
    expected: [200, 200, 200, 200, 404, 401],
  },
  {
    name: "POST upload-version",
    request: (id, a) =>
      SELF.fetch(`${DOCS}/${id}/upload-version`, {
        method: "POST",
        headers: a,
        body: multipart({ bytes: samplePdf() }),
      }),
    expected: [201, 201, 201, 403, 404, 401],
  },
  {
    name: "GET activity",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}/activity`, { headers: a }),
    expected: [200, 200, 200, 200, 404, 401],
  },
  {
    name: "GET permissions",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}/permissions`, { headers: a }),
    expected: [200, 200, 200, 200, 404, 401],
  },
  {
    name: "POST permissions",
    request: (id, a) =>
      SELF.fetch(`${DOCS}/${id}/permissions`, json(a, "POST", { email: stranger.email, role: "READ" })),
    expected: [201, 201, 403, 403, 404, 401],
  },
  {
    name: "PUT permission",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}/permissions/${target.id}`, json(a, "PUT", { role: "EDIT" })),
    expected: [200, 200, 403, 403, 404, 401],
  },
  {
    name: "DELETE permission",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}/permissions/${target.id}`, { method: "DELETE", headers: a }),
    expected: [204, 204, 403, 403, 404, 401],
  },
  {
    name: "POST uploads (new version)",
    request: (id, a) =>
      SELF.fetch(
        "http://api.test/api/v1/uploads",
        json(a, "POST", { file_name: "v.pdf", content_type: "application/pdf", size_bytes: 10, document_id: id }),
      ),
    expected: [201, 201, 201, 403, 404, 401],
  },
  {
    name: "POST uploads (multipart new version)",
    request: (id, a) =>
      SELF.fetch(
        "http://api.test/api/v1/uploads",
        json(a, "POST", {
          file_name: "v.pdf",
          content_type: "application/pdf",
          size_bytes: 6 * 1024 * 1024,
          document_id: id,
          multipart: true,
        }),
      ),
    expected: [201, 201, 201, 403, 404, 401],
  },
  {
    name: "POST trash restore (after the owner deleted it)",
    request: async (id, a) => {
      expect((await SELF.fetch(`${DOCS}/${id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
      return SELF.fetch(`http://api.test/api/v1/trash/${id}/restore`, { method: "POST", headers: a });
    },
    // EDIT and READ: not in their trash (what they own or hold ADMIN on), so 404 as the contract says.
    expected: [200, 200, 404, 404, 404, 401],
  },
  {
    name: "GET content (once the owner's text version is indexed)",
    request: async (id, a) => {
      const text = multipart({ bytes: "matrix content text", name: "v.txt" });
      expect(
        (await SELF.fetch(`${DOCS}/${id}/upload-version`, { method: "POST", headers: owner.auth, body: text })).status,
      ).toBe(201);
      await vi.waitFor(
        async () => expect((await SELF.fetch(`${DOCS}/${id}/content`, { headers: owner.auth })).status).toBe(200),
        {
          timeout: 15_000,
          interval: 100,
        },
      );
      return SELF.fetch(`${DOCS}/${id}/content`, { headers: a });
    },
    expected: [200, 200, 200, 200, 404, 401],
  },
  {
    name: "DELETE trash (purge, after the owner deleted it)",
    request: async (id, a) => {
      expect((await SELF.fetch(`${DOCS}/${id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
      return SELF.fetch(`http://api.test/api/v1/trash/${id}`, { method: "DELETE", headers: a });
    },
    expected: [204, 403, 404, 404, 404, 401],
  },
  {
    name: "POST links",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}/links`, json(a, "POST", { max_downloads: 3 })),
    expected: [201, 201, 201, 403, 404, 401],
  },
  {
    name: "GET links",
    request: (id, a) => SELF.fetch(`${DOCS}/${id}/links`, { headers: a }),
    expected: [200, 200, 200, 403, 404, 401],
  },
  {
    name: "DELETE link (the owner's)",
    request: async (id, a) =>
      SELF.fetch(`${DOCS}/${id}/links/${(await ownerLink(id)).id}`, { method: "DELETE", headers: a }),
    expected: [204, 204, 403, 403, 404, 401],
  },
  // The public routes read no token: whoever calls (even with another user's token) gets the same.
  {
    name: "GET link (public)",
    request: async (id, a) => SELF.fetch(`http://api.test/api/v1/links/${(await ownerLink(id)).token}`, { headers: a }),
    expected: [200, 200, 200, 200, 200, 200],
  },
  {
    name: "POST link download (public)",
    request: async (id, a) =>
      SELF.fetch(`http://api.test/api/v1/links/${(await ownerLink(id)).token}/download`, {
        method: "POST",
        headers: a,
      }),
    expected: [200, 200, 200, 200, 200, 200],
  },
  {
    name: "GET link download (public)",
    request: async (id, a) =>
      SELF.fetch(`http://api.test/api/v1/links/${(await ownerLink(id)).token}/download`, {
        headers: a,
        redirect: "manual",
      }),
    expected: [302, 302, 302, 302, 302, 302],
  },
  // A WebSocket authenticated by a ticket the caller's token buys (none without a token: 401 with
  // the ticket realm's Bearer challenge).
  {
    name: "GET presence (socket, with the caller's ticket)",
    request: async (id, a) => {
      const issued = await SELF.fetch("http://api.test/api/v1/events/ticket", { method: "POST", headers: a });
      const ticket = issued.status === 201 ? ((await issued.json()) as { ticket: string }).ticket : "";
      const res = await SELF.fetch(`${DOCS}/${id}/presence?ticket=${ticket}`, { headers: { Upgrade: "websocket" } });
      if (res.webSocket) {
        res.webSocket.accept();
        res.webSocket.close(1000);
      }
      return res;
    },
    expected: [101, 101, 101, 101, 404, 401],
    challenge: 'Bearer realm="docvault live events"',
  },
];

/** A share link the owner made on document `id`. */
async function ownerLink(id: string): Promise<{ id: string; token: string }> {
  const res = await postJson(`${DOCS}/${id}/links`, {}, owner.auth);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; token: string };
}

describe("security matrix", () => {
  const cells = ENDPOINTS.flatMap((endpoint) =>
    CALLERS.map((caller, i) => [endpoint.name, caller, endpoint.expected[i] as number, endpoint] as const),
  );
  it.each(cells)("%s as %s → %i", async (_, caller, expected, endpoint) => {
    const id = await sharedDocument();
    const res = await endpoint.request(id, authOf(caller));
    expect(res.status).toBe(expected);
    if (expected >= 400) {
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      if (expected === 401) expect(res.headers.get("www-authenticate")).toContain(endpoint.challenge ?? "Bearer");
    }
  });

  it("covers every document and permission operation in the OpenAPI document", async () => {
    const doc = (await (await SELF.fetch("http://api.test/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.entries(doc.paths)
      .filter(
        ([path]) =>
          path.startsWith("/api/v1/documents/{id}") ||
          path.startsWith("/api/v1/trash/{id}") ||
          path.startsWith("/api/v1/links/"),
      )
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    // 21 of the matrix rows are these operations; a new one must be added to the matrix.
    expect(operations.sort()).toEqual(
      [
        "GET /api/v1/documents/{id}",
        "PUT /api/v1/documents/{id}",
        "DELETE /api/v1/documents/{id}",
        "GET /api/v1/documents/{id}/download",
        "GET /api/v1/documents/{id}/content",
        "GET /api/v1/documents/{id}/versions",
        "POST /api/v1/documents/{id}/upload-version",
        "GET /api/v1/documents/{id}/activity",
        "GET /api/v1/documents/{id}/permissions",
        "POST /api/v1/documents/{id}/permissions",
        "PUT /api/v1/documents/{id}/permissions/{user_id}",
        "DELETE /api/v1/documents/{id}/permissions/{user_id}",
        "POST /api/v1/trash/{id}/restore",
        "DELETE /api/v1/trash/{id}",
        "POST /api/v1/documents/{id}/links",
        "GET /api/v1/documents/{id}/links",
        "DELETE /api/v1/documents/{id}/links/{link_id}",
        "GET /api/v1/links/{token}",
        "POST /api/v1/links/{token}/download",
        "GET /api/v1/links/{token}/download",
        "GET /api/v1/documents/{id}/presence",
      ].sort(),
    );
  });
});

describe("sharing rules", () => {
  it("shares by email case-insensitively and answers the Permission", async () => {
    const doc = await createDocument(owner.auth);
    const res = await postJson(
      `${DOCS}/${doc.id}/permissions`,
      { email: reader.email.toUpperCase(), role: "EDIT" },
      owner.auth,
    );
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["created_at", "email", "granted_by", "role", "user_id"]);
    expect(body).toMatchObject({ user_id: reader.id, email: reader.email, role: "EDIT", granted_by: owner.id });
    const seen = (await (await SELF.fetch(`${DOCS}/${doc.id}`, { headers: reader.auth })).json()) as {
      my_role: string;
    };
    expect(seen.my_role).toBe("EDIT");
  });

  it("answers 409 for a second share and for the owner, 404 for unknown users, 422 for bad bodies", async () => {
    const id = await sharedDocument();
    const share = (body: unknown) => postJson(`${DOCS}/${id}/permissions`, body, owner.auth);
    expect((await share({ user_id: reader.id, role: "EDIT" })).status).toBe(409);
    expect((await share({ user_id: owner.id, role: "READ" })).status).toBe(409);
    expect((await share({ email: owner.email, role: "ADMIN" })).status).toBe(409);
    expect((await share({ email: "nobody@example.com", role: "READ" })).status).toBe(404);
    expect((await share({ user_id: crypto.randomUUID(), role: "READ" })).status).toBe(404);
    for (const body of [
      { role: "READ" },
      { email: stranger.email, user_id: stranger.id, role: "READ" },
      { email: stranger.email, role: "OWNER" },
      { email: stranger.email },
      { email: "not-an-email", role: "READ" },
    ]) {
      expect((await share(body)).status, JSON.stringify(body)).toBe(422);
    }
  });

  it("never demotes or removes the owner", async () => {
    const id = await sharedDocument();
    for (const by of [owner, admin]) {
      expect(
        (await SELF.fetch(`${DOCS}/${id}/permissions/${owner.id}`, json(by.auth, "PUT", { role: "READ" }))).status,
      ).toBe(409);
      expect(
        (await SELF.fetch(`${DOCS}/${id}/permissions/${owner.id}`, { method: "DELETE", headers: by.auth })).status,
      ).toBe(409);
    }
    // Below ADMIN the role decides first, as on every other access change: 403, not 409.
    for (const by of [editor, reader]) {
      const put = await SELF.fetch(`${DOCS}/${id}/permissions/${owner.id}`, json(by.auth, "PUT", { role: "READ" }));
      expect(((await put.json()) as { code: string }).code).toBe("role_too_low");
      const del = await SELF.fetch(`${DOCS}/${id}/permissions/${owner.id}`, { method: "DELETE", headers: by.auth });
      expect(del.status).toBe(403);
      expect(((await del.json()) as { code: string }).code).toBe("role_too_low");
    }
    const doc = (await (await SELF.fetch(`${DOCS}/${id}`, { headers: owner.auth })).json()) as { my_role: string };
    expect(doc.my_role).toBe("OWNER");
  });

  it("lets anyone remove their own access, and answers 404 for users without a permission", async () => {
    const id = await sharedDocument();
    expect(
      (await SELF.fetch(`${DOCS}/${id}/permissions/${reader.id}`, { method: "DELETE", headers: reader.auth })).status,
    ).toBe(204);
    expect((await SELF.fetch(`${DOCS}/${id}`, { headers: reader.auth })).status).toBe(404);
    expect(
      (await SELF.fetch(`${DOCS}/${id}/permissions/${stranger.id}`, { method: "DELETE", headers: owner.auth })).status,
    ).toBe(404);
    expect(
      (await SELF.fetch(`${DOCS}/${id}/permissions/${stranger.id}`, json(owner.auth, "PUT", { role: "EDIT" }))).status,
    ).toBe(404);
  });

  it("applies role changes and revocations to the next request, with the same access token", async () => {
    const doc = await createDocument(owner.auth);
    await grant(doc.id, owner, stranger, "READ");
    const edit = () => SELF.fetch(`${DOCS}/${doc.id}`, json(stranger.auth, "PUT", { title: "By the stranger" }));
    expect((await edit()).status).toBe(403);
    await SELF.fetch(`${DOCS}/${doc.id}/permissions/${stranger.id}`, json(owner.auth, "PUT", { role: "EDIT" }));
    expect((await edit()).status).toBe(200);
    await SELF.fetch(`${DOCS}/${doc.id}/permissions/${stranger.id}`, { method: "DELETE", headers: owner.auth });
    expect((await edit()).status).toBe(404);
    expect((await SELF.fetch(`${DOCS}/${doc.id}`, { headers: stranger.auth })).status).toBe(404);
    const list = (await (await SELF.fetch(`${DOCS}?owner=shared`, { headers: stranger.auth })).json()) as {
      items: { id: string }[];
    };
    expect(list.items.map((d) => d.id)).not.toContain(doc.id);
  });

  it("lists who has access to any role", async () => {
    const id = await sharedDocument();
    const res = await SELF.fetch(`${DOCS}/${id}/permissions`, { headers: reader.auth });
    const { items } = (await res.json()) as { items: { user_id: string; role: string }[] };
    expect(items.map((p) => [p.user_id, p.role]).sort()).toEqual(
      [
        [admin.id, "ADMIN"],
        [editor.id, "EDIT"],
        [reader.id, "READ"],
        [target.id, "READ"],
      ].sort(),
    );
  });
});

describe("activity", () => {
  it("records each permission change once, and nothing for refused ones or a role set again", async () => {
    const doc = await createDocument(owner.auth);
    // Its text's indexing (by the service, in the background) is recorded before the changes below.
    await indexingFinished(owner.auth, doc.id);
    await grant(doc.id, owner, reader, "READ");
    await SELF.fetch(`${DOCS}/${doc.id}/permissions/${reader.id}`, json(owner.auth, "PUT", { role: "EDIT" }));
    // The same role again is no change: answered like any update, recorded nowhere.
    const same = await SELF.fetch(
      `${DOCS}/${doc.id}/permissions/${reader.id}`,
      json(owner.auth, "PUT", { role: "EDIT" }),
    );
    expect(same.status).toBe(200);
    expect(await same.json()).toMatchObject({ user_id: reader.id, role: "EDIT" });
    await postJson(`${DOCS}/${doc.id}/permissions`, { user_id: reader.id, role: "READ" }, owner.auth); // 409
    await SELF.fetch(`${DOCS}/${doc.id}/permissions/${owner.id}`, { method: "DELETE", headers: owner.auth }); // 409
    await SELF.fetch(`${DOCS}/${doc.id}/permissions/${reader.id}`, { method: "DELETE", headers: owner.auth });

    const res = await SELF.fetch(`${DOCS}/${doc.id}/activity`, { headers: owner.auth });
    const page = (await res.json()) as {
      items: { action: string; actor_id: string; details: Record<string, unknown> }[];
      total: number;
    };
    expect(page.items.map((a) => a.action)).toEqual([
      "permission.revoked",
      "permission.updated",
      "permission.granted",
      "content.indexed",
      "document.created",
    ]);
    expect(page.total).toBe(5);
    expect(page.items[1]?.details).toEqual({ user_id: reader.id, from: "READ", to: "EDIT" });
    const [row] = await sql`select count(*)::int as n from activity_logs where document_id = ${doc.id}`;
    expect(row?.n).toBe(5);
  });

  it("paginates newest first", async () => {
    const doc = await createDocument(owner.auth);
    for (let i = 0; i < 4; i++) await SELF.fetch(`${DOCS}/${doc.id}`, json(owner.auth, "PUT", { title: `T${i}` }));
    const first = (await (await SELF.fetch(`${DOCS}/${doc.id}/activity?limit=2`, { headers: owner.auth })).json()) as {
      items: { action: string; details: { title?: { to: string } } }[];
      total: number;
    };
    expect(first.total).toBe(5);
    expect(first.items.map((a) => a.details.title?.to)).toEqual(["T3", "T2"]);
    const last = (await (
      await SELF.fetch(`${DOCS}/${doc.id}/activity?limit=2&page=3`, { headers: owner.auth })
    ).json()) as {
      items: { action: string }[];
    };
    expect(last.items.map((a) => a.action)).toEqual(["document.created"]);
    expect((await SELF.fetch(`${DOCS}/${doc.id}/activity?limit=101`, { headers: owner.auth })).status).toBe(422);
  });
});
