// Hostile multipart bodies stay cheap (#12 finding 4): the body is parsed as a stream, only the
// documented fields are kept, and more than 100 parts or a field over 64 KiB is a 413 as soon as
// it is seen, without reading the rest of the body.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { newUser } from "../support/auth";
import { concatBytes, sha256Hex } from "../support/bytes";
import { createDocument, DOCS, samplePdf } from "../support/documents";
import { testSql, testStorage } from "../support/stack";

const sql = testSql();
let user: Awaited<ReturnType<typeof newUser>>;

beforeAll(async () => {
  user = await newUser("multipart-limits");
});

const BOUNDARY = "----limits7MA4YWxkTrZu0gW";
const encoder = new TextEncoder();

type Part = { name: string; data: Uint8Array | string; filename?: string; type?: string };

const filePart = (data: Uint8Array = samplePdf(), filename = "report.pdf"): Part => ({
  name: "file",
  data,
  filename,
  type: "application/pdf",
});

function encodePart(part: Part): Uint8Array {
  const disposition = `form-data; name="${part.name}"${part.filename === undefined ? "" : `; filename="${part.filename}"`}`;
  const head = encoder.encode(
    `--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${part.type ? `Content-Type: ${part.type}\r\n` : ""}\r\n`,
  );
  const data = typeof part.data === "string" ? encoder.encode(part.data) : part.data;
  const out = new Uint8Array(head.length + data.length + 2);
  out.set(head);
  out.set(data, head.length);
  out.set(encoder.encode("\r\n"), head.length + data.length);
  return out;
}

function encodeBody(parts: Part[]): Uint8Array {
  return concatBytes([...parts.map(encodePart), encoder.encode(`--${BOUNDARY}--\r\n`)]);
}

const headers = () => ({ ...user.auth, "Content-Type": `multipart/form-data; boundary=${BOUNDARY}` });
const post = (body: BodyInit, url = DOCS) => SELF.fetch(url, { method: "POST", headers: headers(), body });

/** A body that sends `start`, then never sends anything more and never ends. */
function stalled(start: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (sent) return new Promise<void>(() => {});
      sent = true;
      for (let i = 0; i < start.length; i += 16_384) controller.enqueue(start.slice(i, i + 16_384));
    },
  });
}

async function state() {
  const [row] =
    await sql`select (select count(*) from documents)::int as docs, (select count(*) from document_versions)::int as versions`;
  return { ...row, objects: (await testStorage().listKeys("documents/")).length };
}

async function expectProblem(res: Response, status: number, detail: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(((await res.json()) as { detail: string }).detail).toContain(detail);
}

const tagParts = (count: number): Part[] => Array.from({ length: count }, (_, i) => ({ name: "tags", data: `t${i}` }));

describe("part count", () => {
  it("answers 80,000 repeated tags parts (4.5 MB) with 413 in well under a second", async () => {
    const body = encodeBody([filePart(), ...tagParts(80_000)]);
    expect(body.length).toBeGreaterThan(4_500_000);
    const before = await state();
    const started = Date.now();
    const res = await post(body);
    const elapsed = Date.now() - started;
    await expectProblem(res, 413, "more than 100 parts");
    expect(elapsed).toBeLessThan(1000);
    expect(await state()).toEqual(before);
  });

  it("accepts 100 parts and refuses 101", async () => {
    const extra = (count: number): Part[] => Array.from({ length: count }, (_, i) => ({ name: `x${i}`, data: "x" }));
    expect((await post(encodeBody([filePart(), ...extra(99)]))).status).toBe(201);
    const before = await state();
    await expectProblem(await post(encodeBody([filePart(), ...extra(100)])), 413, "more than 100 parts");
    expect(await state()).toEqual(before);
  });

  it("answers at once, without waiting for the rest of a body that never ends", async () => {
    const start = encodeBody([filePart(), ...tagParts(200)]);
    await expectProblem(await post(stalled(start.subarray(0, start.length - 50))), 413, "more than 100 parts");
  });
});

describe("field size", () => {
  const KiB = 1024;

  it("refuses a 65 KiB description with 413, and lets a 64 KiB one through to validation (422)", async () => {
    const before = await state();
    const over = await post(encodeBody([filePart(), { name: "description", data: "d".repeat(65 * KiB) }]));
    await expectProblem(over, 413, "exceeds 65536 bytes");
    const at = await post(encodeBody([filePart(), { name: "description", data: "d".repeat(64 * KiB) }]));
    expect(at.status).toBe(422);
    expect(await state()).toEqual(before);
  });

  it("caps undocumented fields and a version's comment the same way", async () => {
    await expectProblem(
      await post(encodeBody([filePart(), { name: "unknown", data: "u".repeat(65 * KiB) }])),
      413,
      "exceeds 65536 bytes",
    );
    const doc = await createDocument(user.auth);
    await expectProblem(
      await post(
        encodeBody([filePart(), { name: "comment", data: "c".repeat(65 * KiB) }]),
        `${DOCS}/${doc.id}/upload-version`,
      ),
      413,
      "exceeds 65536 bytes",
    );
  });

  it("answers at once while an oversized field is still arriving", async () => {
    const start = encodeBody([filePart(), { name: "description", data: "d".repeat(200 * KiB) }]);
    await expectProblem(await post(stalled(start.subarray(0, 150 * KiB))), 413, "exceeds 65536 bytes");
  });

  it("answers at once while an oversized field after a larger file is still arriving", async () => {
    const whole = encodeBody([
      filePart(samplePdf("p".repeat(100 * KiB))),
      { name: "description", data: "d".repeat(600 * KiB) },
    ]);
    const start = whole.subarray(0, whole.length - 100 * KiB);
    await expectProblem(await post(stalled(start)), 413, "exceeds 65536 bytes");
    const withLength = new Request(DOCS, {
      method: "POST",
      headers: { ...headers(), "Content-Length": String(whole.length) },
      body: stalled(start),
      duplex: "half",
    } as RequestInit);
    await expectProblem(await SELF.fetch(withLength), 413, "exceeds 65536 bytes");
  });
});

describe("fields", () => {
  it("keeps only the documented fields and the file part, ignoring other parts with a file name", async () => {
    const first = samplePdf("first");
    const res = await post(
      encodeBody([
        { name: "title", data: "Kept" },
        { name: "owner_id", data: crypto.randomUUID() },
        { name: "current_version", data: "99" },
        { name: "comment", data: "not a document field" },
        filePart(first, "first.pdf"),
        { name: "attachment", data: samplePdf("attachment"), filename: "other.pdf", type: "application/pdf" },
        { name: "tags", data: "a, b" },
        { name: "tags", data: "c" },
      ]),
    );
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      title: "Kept",
      owner_id: user.id,
      current_version: 1,
      file_name: "first.pdf",
      sha256: await sha256Hex(first),
      tags: ["a", "b", "c"],
    });
  });

  it("refuses a second file part with 422, for a document and for a version, storing neither", async () => {
    const doc = await createDocument(user.auth);
    const before = await state();
    for (const url of [DOCS, `${DOCS}/${doc.id}/upload-version`]) {
      const res = await post(
        encodeBody([filePart(samplePdf("first"), "first.pdf"), filePart(samplePdf("second"), "second.pdf")]),
        url,
      );
      expect(res.status).toBe(422);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(((await res.json()) as { errors: { path: string }[] }).errors).toEqual([
        { path: "body.file", message: "Only one file per upload: the body has a second `file` part" },
      ]);
    }
    expect(await state()).toEqual(before);
  });

  it("ignores a version's undocumented fields", async () => {
    const doc = await createDocument(user.auth, { fields: { title: "Same", description: "same" } });
    const res = await post(
      encodeBody([
        filePart(samplePdf("v2"), "v2.pdf"),
        { name: "comment", data: "second" },
        { name: "title", data: "Changed?" },
        { name: "description", data: "changed?" },
      ]),
      `${DOCS}/${doc.id}/upload-version`,
    );
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ version_number: 2, comment: "second", file_name: "v2.pdf" });
    const now = await SELF.fetch(`${DOCS}/${doc.id}`, { headers: user.auth });
    expect(await now.json()).toMatchObject({ title: "Same", description: "same", current_version: 2 });
  });

  it("counts an ignored file part against the size limit, and stops there", async () => {
    const before = await state();
    const body = encodeBody([
      filePart(),
      { name: "attachment", data: new Uint8Array(300_000).fill(0x41), filename: "big.bin", type: "application/pdf" },
      { name: "title", data: "never read" },
    ]);
    const ctx = createExecutionContext();
    const request = new Request(DOCS, { method: "POST", headers: headers(), body: stalled(body) });
    const res = await worker.fetch(
      request as Parameters<typeof worker.fetch>[0],
      { ...env, MAX_UPLOAD_BYTES: "100000" } as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    await expectProblem(res, 413, "upload limit of 100000 bytes");
    expect(await state()).toEqual(before);
  });

  it("answers 400 for a body without a boundary or with a malformed part header", async () => {
    for (const contentType of ["multipart/form-data; charset=utf-8", "multipart/form-data", "Multipart/Form-Data  "]) {
      const noBoundary = await SELF.fetch(DOCS, {
        method: "POST",
        headers: { ...user.auth, "Content-Type": contentType },
        body: encodeBody([filePart()]),
      });
      await expectProblem(noBoundary, 400, "could not be parsed");
    }
    const malformed = encoder.encode(`--${BOUNDARY}\r\nContent-Disposition form-data\r\n\r\nx\r\n--${BOUNDARY}--\r\n`);
    await expectProblem(await post(malformed), 400, "could not be parsed");
    const unterminated = encodeBody([filePart()]).subarray(0, 200);
    await expectProblem(await post(unterminated), 400, "could not be parsed");
  });
});
