// Content search (issue #20): the text of each supported format is extracted by the queue's
// consumer after the upload, searched with the metadata, highlighted with only <mark> as markup,
// served by GET /documents/{id}/content, replaced by a new version's, and refused (failed, not a
// crash) for zip bombs, encrypted and damaged files.
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
  SELF,
  waitOnExecutionContext,
} from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { newUser } from "../support/auth";
import { createDocument, DOCS, multipart, samplePng, uploadDocument, uploadVersion } from "../support/documents";
import { docxWithText, odtWithText, pptxWithText, xlsxWithText, zip } from "../support/office";
import { textPdf } from "../support/pdf";
import { testSql } from "../support/stack";

const sql = testSql();
const BASE_API = DOCS.replace(/\/documents$/, "");
type User = Awaited<ReturnType<typeof newUser>>;
let owner: User;
let stranger: User;

beforeAll(async () => {
  owner = await newUser("content-owner");
  stranger = await newUser("content-stranger");
});

type Doc = { id: string; current_version: number; content_status: string; highlight?: string };

const get = (url: string, auth: Record<string, string>) => SELF.fetch(url, { headers: auth });

/** The document once its current version's extraction has finished (any status but pending). */
async function settled(id: string, auth = owner.auth): Promise<Doc> {
  return vi.waitFor(
    async () => {
      const doc = (await (await get(`${DOCS}/${id}`, auth)).json()) as Doc;
      if (doc.content_status === "pending") throw new Error("still pending");
      return doc;
    },
    { timeout: 15_000, interval: 100 },
  );
}

async function upload(bytes: Uint8Array | string, name: string, fields: Record<string, string> = {}) {
  const res = await uploadDocument(owner.auth, { bytes, name, fields });
  expect(res.status, await res.clone().text()).toBe(201);
  const doc = (await res.json()) as Doc;
  // The upload answers before any extraction: its text is pending.
  expect(doc.content_status).toBe("pending");
  return doc;
}

async function content(id: string, auth = owner.auth) {
  return get(`${DOCS}/${id}/content`, auth);
}

async function search(q: string, auth = owner.auth): Promise<Doc[]> {
  const res = await get(`${DOCS}?q=${encodeURIComponent(q)}&limit=100`, auth);
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Doc[] }).items;
}

/** The Worker with other bindings (an allow-list with HTML), its background work awaited. */
async function withBindings(request: Request, bindings: Partial<Record<keyof Env, string>>) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Parameters<typeof worker.fetch>[0], { ...env, ...bindings } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("every supported format is extracted and searchable", () => {
  const cases: [string, () => Promise<Uint8Array> | Uint8Array | string, string, RegExp, string][] = [
    [
      "plain text",
      () => "Zebrafish husbandry notes\nwater temperature 28 degrees",
      "notes.txt",
      /Zebrafish husbandry notes\nwater temperature 28 degrees/,
      "Zebrafish",
    ],
    [
      "Markdown",
      () => "# Quokka survey\n\n* island population *rising*",
      "survey.md",
      /# Quokka survey\n\n\* island population \*rising\*/,
      "Quokka",
    ],
    [
      "CSV",
      () => "species,count\nnarwhal,12\nbeluga,40\n",
      "counts.csv",
      /species,count\nnarwhal,12\nbeluga,40/,
      "narwhal",
    ],
    [
      "PDF",
      () => textPdf([["Armadillo burrow study"], ["Second page: pangolin scales"]]),
      "study.pdf",
      /Armadillo burrow study[\s\S]*Second page: pangolin scales/,
      "pangolin",
    ],
    [
      "DOCX",
      () => docxWithText(["Capybara grazing patterns", "Tapir & okapi <notes>"]),
      "grazing.docx",
      /Capybara grazing patterns\nTapir & okapi <notes>/,
      "okapi",
    ],
    [
      "XLSX",
      () => xlsxWithText(["Wombat burrow depth", "Numbat diet"], "Bilby inline cell"),
      "burrows.xlsx",
      // Every cell's value but a shared string's index, a boolean and an error; a formula's result, not the formula.
      /^Wombat burrow depth\nNumbat diet\n+ 31337 Bilby inline cell {2}formulaword {2}2\.5\s*$/,
      "Bilby",
    ],
    [
      "PPTX",
      () => pptxWithText(["Axolotl regeneration", "Olm cave habitat"]),
      "deck.pptx",
      /Axolotl regeneration[\s\S]*Olm cave habitat/,
      "Olm",
    ],
    [
      "ODT",
      () => odtWithText(["Kakapo breeding season", "Takahe recovery"]),
      "birds.odt",
      /Kakapo breeding season\nTakahe recovery/,
      "Takahe",
    ],
  ];

  it.each(cases)("%s", async (_, build, name, expected, word) => {
    const doc = await upload(await build(), name);
    expect((await settled(doc.id)).content_status).toBe("indexed");
    const res = await content(doc.id);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toMatch(expected);
    // A word of the content (not of the title, the file name) finds the document.
    const found = await search(word.toLowerCase());
    expect(found.map((d) => d.id)).toContain(doc.id);
    expect(found.find((d) => d.id === doc.id)?.highlight).toContain(`<mark>${word}</mark>`);
  });

  it("HTML: the text only, without scripts and styles, entities decoded", async () => {
    const html =
      "<!DOCTYPE html><html><head><title>Gecko page</title><style>.x{color:red} stylewordzz</style>" +
      "<script>var scriptwordzz = '<p>';</script></head><body><p>Chameleon &amp; iguana &lt;care&gt;</p>" +
      "<noscript>noscriptwordzz</noscript><div>Basilisk lizard</div>" +
      // HTML's named references, not only XML's five; one legacy form without its semicolon.
      "<p>x&mdash;y &copy; &eacute;t&eacute; &uuml;ber&hellip; &euro;5 &nbsp;z &eacute &CounterClockwiseContourIntegral;</p></body></html>";
    const res = await withBindings(
      new Request(DOCS, { method: "POST", headers: owner.auth, body: multipart({ bytes: html, name: "page.html" }) }),
      { ALLOWED_CONTENT_TYPES: "text/html" },
    );
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as Doc;
    expect((await settled(id)).content_status).toBe("indexed");
    const text = await (await content(id)).text();
    expect(text).toContain("Chameleon & iguana <care>");
    expect(text).toContain("Basilisk lizard");
    expect(text).toContain("Gecko page");
    expect(text).toContain("x\u2014y \u00a9 \u00e9t\u00e9 \u00fcber\u2026 \u20ac5 \u00a0z \u00e9 \u2233");
    expect((await search("été")).map((d) => d.id)).toEqual([id]);
    for (const hidden of ["stylewordzz", "scriptwordzz", "noscriptwordzz", "color:red"])
      expect(text).not.toContain(hidden);
    expect(await search("scriptwordzz")).toEqual([]);
    expect((await search("basilisk")).map((d) => d.id)).toEqual([id]);
    // The decoded `<care>` is text, searchable like any word (not taken for a tag).
    expect((await search("care")).map((d) => d.id)).toEqual([id]);
  });

  it("an image is unsupported: no content, searchable by its metadata only", async () => {
    const doc = await upload(samplePng(), "photo.png", { title: "Ocelot photo" });
    expect((await settled(doc.id)).content_status).toBe("unsupported");
    const res = await content(doc.id);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: "content_not_indexed" });
    expect((await search("ocelot")).map((d) => d.id)).toEqual([doc.id]);
  });
});

describe("search over metadata and content together", () => {
  it("words spread over title and content match; title ranks above content", async () => {
    const inTitle = await upload("nothing to see here", "a.txt", { title: "Marmoset enclosure" });
    const inContent = await upload("the marmoset enclosure was cleaned", "b.txt", { title: "Cleaning log" });
    const split = await upload("fed at noon: enclosure", "c.txt", { title: "Tamarin marmoset" });
    await Promise.all([inTitle, inContent, split].map((d) => settled(d.id)));
    const found = await search("marmoset enclosure");
    expect(found.map((d) => d.id).sort()).toEqual([inTitle.id, inContent.id, split.id].sort());
    expect(found[0]?.id).toBe(inTitle.id);
    // Without q there is no highlight; every item says its content status.
    const listed = (await (await get(`${DOCS}?limit=100`, owner.auth)).json()) as { items: Doc[] };
    expect(listed.items.every((d) => d.highlight === undefined && typeof d.content_status === "string")).toBe(true);
  });

  it("angle brackets are punctuation: words in or after <tag>, <style> or <script> are searchable, in text and metadata", async () => {
    // PostgreSQL's parser alone drops `<…>` as a tag and every word after an unclosed <style>
    // or <script>: this text's last words, and the title's word in brackets, were unsearchable.
    const text = "Embedding notes: put <style> in the head, then the tuatara census follows. if a<b then dugong>c";
    const doc = await upload(text, "notes.md", {
      title: "Using <details> blocks",
      description: "see <saiga>",
      tags: "<gerenuk>",
    });
    await settled(doc.id);
    for (const q of ["tuatara census", "style", "<style>", "dugong", "details", "<details>", "saiga", "gerenuk"]) {
      expect(
        (await search(q)).map((d) => d.id),
        q,
      ).toEqual([doc.id]);
    }
    // A script block's words are searchable too.
    const script = await upload("before <script>alert('fennec')</script> after", "snippet.txt");
    await settled(script.id);
    expect((await search("fennec")).map((d) => d.id)).toEqual([script.id]);
    expect((await search("script")).map((d) => d.id)).toEqual([script.id]);
    // The highlight marks the word and escapes its brackets.
    expect((await search("fennec"))[0]?.highlight).toContain("&lt;script&gt;alert('<mark>fennec</mark>')");
    // An edit writes the metadata's vector the same way.
    const edited = await SELF.fetch(`${DOCS}/${doc.id}`, {
      method: "PUT",
      headers: { ...owner.auth, "content-type": "application/json" },
      body: JSON.stringify({ title: "Now <aardvark> inside" }),
    });
    expect(edited.status).toBe(200);
    expect((await search("aardvark")).map((d) => d.id)).toEqual([doc.id]);
    expect((await search("tuatara")).map((d) => d.id)).toEqual([doc.id]);
  });

  it("another user's content is not searched", async () => {
    const doc = await upload("confidential serval census", "serval.txt");
    await settled(doc.id);
    expect(await search("serval", stranger.auth)).toEqual([]);
    expect((await content(doc.id, stranger.auth)).status).toBe(404);
    expect(await (await content(doc.id, stranger.auth)).json()).toMatchObject({ code: "document_not_found" });
  });
});

describe("highlights: only <mark> is markup", () => {
  it("escapes <, >, &, quotes of the content and cannot be forged", async () => {
    const hostile =
      `Intro "quoted" & 'single' text. <img src=x onerror=alert(1)> a < b > c && d; ` +
      `the jaguarundi <b>sleeps</b> & "jaguarundi" hunts. \uE000forged\uE001 <mark>fake</mark> ` +
      "&lt;already-escaped&gt; ".repeat(3) +
      "filler words ".repeat(200);
    const doc = await upload(hostile, "hostile.txt", { title: 'Field <notes> & "more"' });
    await settled(doc.id);
    const [item] = await search("jaguarundi");
    expect(item?.id).toBe(doc.id);
    const highlight = item?.highlight as string;
    expect(highlight).toContain("<mark>jaguarundi</mark>");
    const markup = highlight.match(/<[^>]*>/g) ?? [];
    expect(new Set(markup)).toEqual(new Set(["<mark>", "</mark>"]));
    const plain = highlight.replaceAll("<mark>", "").replaceAll("</mark>", "");
    expect(plain).not.toMatch(/[<>]/);
    // Every & starts one of the contract's three entities; quotes are left as they are.
    expect(plain.replace(/&(amp|lt|gt);/g, "")).not.toContain("&");
    expect(highlight).toContain('&amp; "<mark>jaguarundi</mark>" hunts');
    expect(plain).toContain("&lt;b&gt;sleeps&lt;/b&gt;");
    expect(highlight).not.toContain("<mark>forged");
    expect(plain.length).toBeLessThanOrEqual(240 * 6);
    // At most ~240 visible characters.
    const visible = plain.replace(/&(amp|lt|gt);/g, "x");
    expect(visible.length).toBeLessThanOrEqual(240);

    // The sentinel characters in a query or the text never become markup either.
    const forged = await search("forged");
    expect(forged.map((d) => d.id)).toEqual([doc.id]);
    expect(forged[0]?.highlight).toContain("<mark>forged</mark>");
    expect(forged[0]?.highlight).not.toMatch(/<mark>[^<]*<mark>/);
    expect(forged[0]?.highlight).toContain("&lt;mark&gt;fake&lt;/mark&gt;");
  });

  it("a match deep in a long text is excerpted around it, stemmed forms included", async () => {
    const text = `${"filler words here. ".repeat(400)}The caracal studies were published. ${"more filler text. ".repeat(400)}`;
    const doc = await upload(text, "long.txt", { title: "Long text" });
    await settled(doc.id);
    const [item] = await search("caracal study");
    expect(item?.id).toBe(doc.id);
    expect(item?.highlight).toContain("<mark>caracal</mark> <mark>studies</mark>");
    expect(item?.highlight?.replace(/<\/?mark>/g, "").length).toBeLessThanOrEqual(240);
  });

  it("a word that starts many others is excerpted where it stands (a table's codes, numbered words)", async () => {
    const rows = Array.from({ length: 200 }, (_, i) => `${i},part${1000 + i},Springfield`).join("\n");
    const table = await upload(`id,code,city\n${rows}\n`, "parts.csv");
    const words = Array.from({ length: 200 }, (_, i) => `filler${i}`).join(" ");
    const line = await upload(`${words} ibexlong trailer`, "long.txt");
    await Promise.all([settled(table.id), settled(line.id)]);
    // Each was excerpted, unmarked, where its stem less a letter first appears (part1180, filler4).
    for (const [q, id] of [
      ["part1187", table.id],
      ["part1199", table.id],
      ["filler40", line.id],
      ["filler150", line.id],
    ] as const) {
      const [item] = await search(q);
      expect(item?.id).toBe(id);
      expect(item?.highlight, q).toContain(`<mark>${q}</mark>`);
    }
  });

  it("a match in the title is highlighted in the title, escaped", async () => {
    const doc = await upload("body text without the word", "t.txt", { title: 'Okapi <report> & "summary"' });
    await settled(doc.id);
    const [item] = await search("okapi");
    expect(item?.highlight).toMatch(/^<mark>Okapi<\/mark> &lt;report&gt; &amp; "summary"/);
  });
});

/** Documents whose stored match vector is not their metadata's vector followed by their current content's. */
async function matchVectorsDisagreeing(ids: string[]): Promise<number> {
  const [row] = await sql`select count(*)::int as n from documents d
    where d.id = any(${ids}::uuid[]) and d.match_vector <> d.search_vector || coalesce((select c.search_vector
      from document_contents c where c.document_id = d.id and c.version_number = d.current_version), ''::tsvector)`;
  return row?.n as number;
}

describe("the stored match vector (metadata and content, kept by triggers) follows every write", () => {
  it("an edit after indexing keeps the text searchable and replaces the old metadata", async () => {
    const doc = await upload("the quoll browses at dusk", "quoll.txt", { title: "Forest notes" });
    await settled(doc.id);
    const res = await SELF.fetch(`${DOCS}/${doc.id}`, {
      method: "PUT",
      headers: { ...owner.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ title: "Savanna diary", tags: ["bongo"] }),
    });
    expect(res.status).toBe(200);
    expect((await search("quoll")).map((d) => d.id)).toEqual([doc.id]);
    expect((await search("savanna bongo quoll")).map((d) => d.id)).toEqual([doc.id]);
    expect(await search("forest")).toEqual([]);
    expect(await matchVectorsDisagreeing([doc.id])).toBe(0);
  });

  it("stays right when metadata edits race content writes (each pair at once, plain SQL)", async () => {
    const docs = await Promise.all(
      Array.from({ length: 16 }, (_, i) => upload(`first text ${i}`, `race-${i}.txt`, { title: `race ${i}` })),
    );
    await Promise.all(docs.map((d) => settled(d.id)));
    const ids = docs.map((d) => d.id);
    // Each pair writes both sides of one document at the same moment, in two transactions: the
    // content trigger must rebuild from the edit's metadata, the edit's trigger from the new content.
    await Promise.all(
      ids.flatMap((id, i) => [
        sql`update documents set title = ${`kudu ${i}`}, search_vector = setweight(to_tsvector('english', ${`kudu ${i}`}), 'A') where id = ${id}`,
        sql`update document_contents set text = ${`the nyala drinks ${i}`}, search_vector = strip(to_tsvector('english', ${`the nyala drinks ${i}`})) where document_id = ${id}`,
      ]),
    );
    expect(await matchVectorsDisagreeing(ids)).toBe(0);
    expect((await search("kudu nyala")).map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(await search("first text race")).toEqual([]);
  });
});

describe("a new version replaces the text", () => {
  it("the old version's text no longer matches, at once and after indexing", async () => {
    const doc = await upload("the ibex climbs the cliff", "v1.txt");
    await settled(doc.id);
    expect((await search("ibex")).map((d) => d.id)).toEqual([doc.id]);
    const res = await uploadVersion(owner.auth, doc.id, { bytes: "the chamois grazes the meadow", name: "v2.txt" });
    expect(res.status).toBe(201);
    // Before the new text is indexed: pending, the old text neither searched nor served.
    const [row] = await sql`select version_number from document_contents where document_id = ${doc.id}`;
    if (row?.version_number === 1) {
      expect(await search("ibex")).toEqual([]);
    }
    const after = await settled(doc.id);
    expect(after).toMatchObject({ current_version: 2, content_status: "indexed" });
    expect(await search("ibex")).toEqual([]);
    expect((await search("chamois")).map((d) => d.id)).toEqual([doc.id]);
    expect(await (await content(doc.id)).text()).toBe("the chamois grazes the meadow");
  });

  it("a pending new version answers content_not_indexed, not the old text", async () => {
    const doc = await upload("the first text of the gharial", "v1.txt");
    await settled(doc.id);
    // The version row and its document, without the queue (as if its message were still on the way).
    await sql`update documents set current_version = 2 where id = ${doc.id}`;
    await sql`insert into document_versions (document_id, version_number, storage_key, file_name, content_type, size_bytes, sha256, created_by)
      select document_id, 2, storage_key || '-2', file_name, content_type, size_bytes, sha256, created_by
      from document_versions where document_id = ${doc.id} and version_number = 1`;
    const res = await content(doc.id);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: "content_not_indexed" });
    expect(await search("gharial")).toEqual([]);
    expect(((await (await get(`${DOCS}/${doc.id}`, owner.auth)).json()) as Doc).content_status).toBe("pending");
  });
});

describe("unreadable files fail, with a reason, once", () => {
  async function failed(bytes: Uint8Array, name: string) {
    const doc = await upload(bytes, name);
    expect((await settled(doc.id)).content_status).toBe("failed");
    const [row] = await sql`select status, error, text from document_contents where document_id = ${doc.id}`;
    expect(row).toMatchObject({ status: "failed", text: null });
    expect((await content(doc.id)).status).toBe(404);
    return row?.error as string;
  }

  it("an encrypted PDF", async () => {
    expect(await failed(textPdf([["secret jerboa"]], { encrypted: true }), "locked.pdf")).toMatch(/encrypted/);
    expect(await search("jerboa")).toEqual([]);
  });

  it("a damaged PDF", async () => {
    const bytes = new TextEncoder().encode("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n garbage \n%%EOF");
    expect(await failed(bytes, "broken.pdf")).toMatch(/could not be read/);
  });

  it("a zip bomb (a part inflating 1,000 times its size)", async () => {
    const bomb = `<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>${"a".repeat(20 * 1024 * 1024)}</w:t></w:r></w:p></w:body></w:document>`;
    const bytes = await zip([
      {
        name: "[Content_Types].xml",
        data: '<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      },
      { name: "word/document.xml", data: bomb, deflate: true },
    ]);
    expect(bytes.length).toBeLessThan(100_000);
    expect(await failed(bytes, "bomb.docx")).toMatch(/zip bomb/);
  });

  it("a zip bomb that lies about its size", async () => {
    const bytes = await zip([
      {
        name: "[Content_Types].xml",
        data: '<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      },
      { name: "word/document.xml", data: `<w:t>${"lie ".repeat(100_000)}</w:t>`, deflate: true },
    ]);
    // The central directory now claims 1,000 bytes uncompressed.
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const directory = view.getUint32(bytes.length - 22 + 16, true);
    let at = directory;
    while (view.getUint32(at, true) === 0x02014b50) {
      const nameLength = view.getUint16(at + 28, true);
      const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
      if (name === "word/document.xml") view.setUint32(at + 24, 1000, true);
      at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    }
    expect(await failed(bytes, "liar.docx")).toMatch(/declared size/);
  });

  it("an encrypted package entry", async () => {
    const bytes = await docxWithText(["Hidden dhole"]);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    let at = view.getUint32(bytes.length - 22 + 16, true);
    while (view.getUint32(at, true) === 0x02014b50) {
      view.setUint16(at + 8, view.getUint16(at + 8, true) | 1, true);
      at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    }
    expect(await failed(bytes, "encrypted.docx")).toMatch(/encrypted/);
  });
});

describe("bounds", () => {
  it("keeps at most CONTENT_MAX_CHARS characters", async () => {
    const ctx = createExecutionContext();
    const { indexVersion, contentDeps } = await import("../../src/content/consume");
    const { testConfig } = await import("../support/stack");
    const doc = await createDocument(owner.auth, { bytes: `${"longword ".repeat(1000)}tailword`, name: "long.txt" });
    await settled(doc.id);
    // Indexed again with a 1,000-character bound.
    await sql`update document_contents set status = 'pending' where document_id = ${doc.id}`;
    const { outcome } = await indexVersion(contentDeps({ ...testConfig(), CONTENT_MAX_CHARS: 1000 }), {
      document_id: doc.id,
      version_number: 1,
    });
    await waitOnExecutionContext(ctx);
    expect(outcome).toBe("indexed");
    const text = await (await content(doc.id)).text();
    expect(text.length).toBeLessThanOrEqual(1000);
    expect(text.startsWith("longword longword")).toBe(true);
    expect(await search("tailword")).toEqual([]);
  });
});

describe("the queue: idempotent, retried, dead-lettered", () => {
  const message = (body: unknown, attempts = 1) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts, body });
  async function deliver(
    queue: string,
    messages: ReturnType<typeof message>[],
    bindings: Partial<Record<keyof Env, string>> = {},
  ) {
    const batch = createMessageBatch(queue, messages);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, ...bindings } as Env, ctx);
    return getQueueResult(batch, ctx);
  }
  const row = async (id: string) =>
    (
      await sql`select version_number, status, error, text, updated_at from document_contents where document_id = ${id}`
    )[0];

  it("storage down: retried with a delay, the row says why; the dead letter marks it failed; a later message indexes it", async () => {
    const doc = await upload("the margay climbs trees", "margay.txt");
    await settled(doc.id);
    await sql`delete from document_contents where document_id = ${doc.id}`;
    const body = { document_id: doc.id, version_number: 1 };
    const first = message(body, 2);
    const down = await deliver("docvault-content", [first], {
      S3_ENDPOINT: "http://127.0.0.1:9",
      STORAGE_TIMEOUT_MS: "500",
    });
    expect(down.explicitAcks).toEqual([]);
    expect(down.retryMessages.map((m) => m.msgId)).toEqual([first.id]);
    expect(await row(doc.id)).toMatchObject({ status: "pending", text: null, error: expect.stringMatching(/retried/) });
    expect(((await (await get(`${DOCS}/${doc.id}`, owner.auth)).json()) as Doc).content_status).toBe("pending");

    // Retries exhausted: the dead-letter queue's consumer marks the version failed.
    const dead = message(body, 6);
    const dlq = await deliver("docvault-content-dlq", [dead]);
    expect(dlq.explicitAcks).toEqual([dead.id]);
    expect(await row(doc.id)).toMatchObject({ status: "failed", error: expect.stringMatching(/kept failing/) });
    expect(((await (await get(`${DOCS}/${doc.id}`, owner.auth)).json()) as Doc).content_status).toBe("failed");

    // A failed version is extracted again when asked (the backfill does): storage is back.
    const again = message(body);
    const ok = await deliver("docvault-content", [again]);
    expect(ok.explicitAcks).toEqual([again.id]);
    expect(await row(doc.id)).toMatchObject({ status: "indexed", error: null, text: "the margay climbs trees" });
  });

  it("a repeated message changes nothing; a stale, unknown or malformed one is acknowledged and dropped", async () => {
    const doc = await upload("the fossa hunts lemurs", "fossa.txt");
    await settled(doc.id);
    const before = await row(doc.id);
    const repeated = message({ document_id: doc.id, version_number: 1 });
    const stale = message({ document_id: doc.id, version_number: 7 });
    const unknown = message({ document_id: crypto.randomUUID(), version_number: 1 });
    const malformed = [
      message("nonsense"),
      message({ document_id: "x", version_number: 1 }),
      message({ document_id: doc.id, version_number: 0 }),
    ];
    const result = await deliver("docvault-content", [repeated, stale, unknown, ...malformed]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual([repeated, stale, unknown, ...malformed].map((m) => m.id).sort());
    expect(await row(doc.id)).toEqual(before);
    expect(
      await sql`select 1 from document_contents where document_id = ${(unknown.body as { document_id: string }).document_id}`,
    ).toEqual([]);
  });

  it("a message of an older version, arriving late, never overwrites the current version's text", async () => {
    const doc = await upload("first okapi text", "v1.txt");
    await settled(doc.id);
    expect((await uploadVersion(owner.auth, doc.id, { bytes: "second quagga text", name: "v2.txt" })).status).toBe(201);
    await settled(doc.id);
    await deliver("docvault-content", [message({ document_id: doc.id, version_number: 1 })]);
    // And a dead letter of version 1 does not mark version 2 failed.
    await deliver("docvault-content-dlq", [message({ document_id: doc.id, version_number: 1 })]);
    expect(await row(doc.id)).toMatchObject({ version_number: 2, status: "indexed", text: "second quagga text" });
  });

  it("a trashed document is skipped; purging it removes its text", async () => {
    const doc = await upload("the saola is rarely seen", "saola.txt");
    await settled(doc.id);
    await sql`delete from document_contents where document_id = ${doc.id}`;
    expect((await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    const result = await deliver("docvault-content", [message({ document_id: doc.id, version_number: 1 })]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await row(doc.id)).toBeUndefined();

    // Restored, indexed, trashed again and purged: no text remains.
    expect(
      (await SELF.fetch(`${BASE_API}/trash/${doc.id}/restore`, { method: "POST", headers: owner.auth })).status,
    ).toBe(200);
    await deliver("docvault-content", [message({ document_id: doc.id, version_number: 1 })]);
    expect(await row(doc.id)).toMatchObject({ status: "indexed" });
    expect((await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    expect((await SELF.fetch(`${BASE_API}/trash/${doc.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(
      204,
    );
    expect(await row(doc.id)).toBeUndefined();
  });

  it("a document trashed before its text was extracted is indexed once restored (it stayed pending for good)", async () => {
    const doc = await upload("the zorilla hunts by night", "zorilla.txt");
    await settled(doc.id);
    // As if the upload's message had reached the consumer only while the document was in the trash.
    await sql`delete from document_contents where document_id = ${doc.id}`;
    expect((await SELF.fetch(`${DOCS}/${doc.id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
    await deliver("docvault-content", [message({ document_id: doc.id, version_number: 1 })]);
    expect(await row(doc.id)).toBeUndefined();

    const restored = await SELF.fetch(`${BASE_API}/trash/${doc.id}/restore`, { method: "POST", headers: owner.auth });
    expect(restored.status).toBe(200);
    expect(((await restored.json()) as Doc).content_status).toBe("pending");
    expect((await settled(doc.id)).content_status).toBe("indexed");
    expect((await search("zorilla")).map((d) => d.id)).toEqual([doc.id]);
    expect(await (await content(doc.id)).text()).toBe("the zorilla hunts by night");
  });

  it("backfill: pending rows are sent by the scheduled job and each one handled sends the next", async () => {
    const docs = await Promise.all(["tayra", "kinkajou", "coati"].map((w) => upload(`the ${w} text`, `${w}.txt`)));
    await Promise.all(docs.map((d) => settled(d.id)));
    // What `npm run content:reindex` does: mark rows pending (their text gone, as if never indexed).
    await sql`update document_contents set status = 'pending', text = null, search_vector = ''::tsvector, queued_at = null
      where document_id = any(${docs.map((d) => d.id)}::uuid[])`;
    // Other pending rows of this file's documents are leased first, so every one is sent: one
    // scheduled run sends up to 1,000 and the consumer chain the rest.
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "17 * * * *", scheduledTime: Date.now() }), env);
    await waitOnExecutionContext(ctx);
    for (const doc of docs) expect((await settled(doc.id)).content_status).toBe("indexed");
    expect((await search("kinkajou")).map((d) => d.id)).toEqual([docs[1]?.id]);
    expect(await sql`select 1 from document_contents where status = 'pending' and queued_at is null`).toEqual([]);
  });
});
