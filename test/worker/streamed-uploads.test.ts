// Streamed API uploads (#14 part 1): a file larger than one part (5 MiB) goes to storage as an S3
// multipart upload while it arrives, against the local store's verifying front (part sizes,
// ETags, order and signatures as S3 and R2 check them). Served byte for byte; on every failure
// (a cap passed, a cut body, a refused type, a bad field after the file) the multipart upload is
// aborted before the answer: no object and no part stays. Bodies are generated as streams, so
// the test holds no whole file either.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { PART_BYTES, stageUpload } from "../../src/documents/upload";
import worker from "../../src/index";
import { newUser } from "../support/auth";
import { createDocument, DOCS } from "../support/documents";
import { wordPackage } from "../support/office";
import { databaseSnapshot, storedKeys, testConfig, testStorage } from "../support/stack";

const MiB = 1024 * 1024;
const BOUNDARY = "----streamed9Xk2LmQ";
const encoder = new TextEncoder();
let user: Awaited<ReturnType<typeof newUser>>;

beforeAll(async () => {
  user = await newUser("streamed");
});

const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** 1 MiB of random bytes, repeated with each 64 KiB chunk stamped with its index: no two chunks alike. */
const noise = (() => {
  const bytes = new Uint8Array(MiB);
  for (let at = 0; at < MiB; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
})();
const CHUNK = 64 * 1024;

/** A text field, or with `filename` a (small) file part. */
type Field = { name: string; value: string; filename?: string };
type BodyOptions = {
  size: number;
  /** The file's first bytes (its magic number); or the whole file when `bytes` is given. */
  prefix?: Uint8Array;
  bytes?: Uint8Array;
  name?: string;
  before?: Field[];
  after?: Field[];
  /** The body ends (cleanly) after this many bytes of the file. */
  cutAt?: number;
  /** The body fails (the client goes away) after this many bytes of the file. */
  failAt?: number;
};

/** A multipart body as a stream, and the SHA-256 of the file it carries once it has been read. */
function streamedBody(options: BodyOptions): { body: ReadableStream<Uint8Array>; sha256: Promise<string> } {
  const field = (f: Field) =>
    encoder.encode(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${f.name}"${f.filename ? `; filename="${f.filename}"` : ""}\r\n\r\n${f.value}\r\n`,
    );
  const head = encoder.encode(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${options.name ?? "big.pdf"}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = [encoder.encode("\r\n"), ...(options.after ?? []).map(field), encoder.encode(`--${BOUNDARY}--\r\n`)];
  const digest = new crypto.DigestStream("SHA-256");
  const hasher = digest.getWriter();
  const size = options.bytes?.byteLength ?? options.size;
  let sent = 0;
  let index = 0;
  const stop = options.cutAt ?? options.failAt;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const f of options.before ?? []) controller.enqueue(field(f));
      controller.enqueue(head);
    },
    async pull(controller) {
      if (stop !== undefined && sent >= stop) {
        if (options.failAt !== undefined) controller.error(new Error("client went away"));
        else controller.close();
        return;
      }
      if (sent >= size) {
        for (const chunk of tail) controller.enqueue(chunk);
        await hasher.close();
        controller.close();
        return;
      }
      const length = Math.min(CHUNK, size - sent);
      let chunk: Uint8Array;
      if (options.bytes) chunk = options.bytes.slice(sent, sent + length);
      else {
        const offset = (index * CHUNK) % MiB;
        chunk = noise.slice(offset, offset + length);
        if (length >= 4) new DataView(chunk.buffer).setUint32(0, index);
        if (sent === 0 && options.prefix) chunk.set(options.prefix);
      }
      index++;
      sent += length;
      await hasher.write(chunk);
      controller.enqueue(chunk);
    },
  });
  return { body, sha256: digest.digest.then(hex) };
}

const headers = () => ({ ...user.auth, "Content-Type": `multipart/form-data; boundary=${BOUNDARY}` });

/** The Worker with other bindings, waiting for its background work before the test looks. */
async function call(
  url: string,
  body: ReadableStream<Uint8Array>,
  bindings: Record<string, string> = {},
  extraHeaders: Record<string, string> = {},
) {
  const ctx = createExecutionContext();
  const request = new Request(url, { method: "POST", headers: { ...headers(), ...extraHeaders }, body }) as Parameters<
    typeof worker.fetch
  >[0];
  const res = await worker.fetch(request, { ...env, ...bindings } as Env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, json: () => JSON.parse(text) as Record<string, unknown> & { id: string } };
}

/** Everything a failed upload must leave as it was: rows, objects and unfinished multipart uploads. */
async function state() {
  return {
    rows: await databaseSnapshot(),
    objects: await storedKeys("documents/"),
    multipart: await testStorage().listMultipartUploads("documents/"),
  };
}

async function downloadedSha256(id: string): Promise<{ sha256: string; contentType: string | null }> {
  const res = await SELF.fetch(`${DOCS}/${id}/download`, { headers: user.auth });
  expect(res.status).toBe(200);
  const file = await fetch(((await res.json()) as { url: string }).url);
  expect(file.status).toBe(200);
  const digest = new crypto.DigestStream("SHA-256");
  await file.body?.pipeTo(digest);
  return { sha256: hex(await digest.digest), contentType: file.headers.get("content-type") };
}

const PDF = encoder.encode("%PDF-1.7\n");

/** The file's bytes of a streamedBody without fields: the multipart framing around them removed. */
async function readMultipartFile(body: ReadableStream<Uint8Array>) {
  const bytes = new Uint8Array(await new Response(body).arrayBuffer());
  // The part's headers are ASCII: their end's index in the decoded text is its index in the bytes.
  const start = new TextDecoder().decode(bytes.subarray(0, 400)).indexOf("\r\n\r\n") + 4;
  const end = bytes.byteLength - encoder.encode(`\r\n--${BOUNDARY}--\r\n`).byteLength;
  return {
    name: "big.pdf",
    type: "application/pdf",
    stream: new Response(bytes.subarray(start, end)).body as ReadableStream<Uint8Array>,
  };
}

describe("large uploads", () => {
  it("stores three concurrent 45 MiB uploads as multipart uploads, served byte for byte", async () => {
    const size = 45 * MiB + 123;
    const uploads = [0, 1, 2].map(() => streamedBody({ size, prefix: PDF }));
    // Through SELF: the Worker gets a byte stream, read with its BYOB reader and reused buffers.
    const results = await Promise.all(
      uploads.map(async ({ body }) => {
        const res = await SELF.fetch(DOCS, { method: "POST", headers: headers(), body });
        const text = await res.text();
        return { status: res.status, json: () => JSON.parse(text) as Record<string, unknown> & { id: string } };
      }),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    for (const [i, result] of results.entries()) {
      const doc = result.json();
      const sha256 = await uploads[i]?.sha256;
      expect(doc).toMatchObject({ size_bytes: size, content_type: "application/pdf", sha256 });
      expect((await downloadedSha256(doc.id)).sha256).toBe(sha256);
    }
    expect(await testStorage().listMultipartUploads("documents/")).toEqual([]);
  }, 120_000);

  it("stores a new version the same way, and a file of exactly one part with one PUT", async () => {
    const doc = await createDocument(user.auth);
    const big = streamedBody({ size: 2 * PART_BYTES + 1, prefix: PDF, before: [{ name: "comment", value: "big" }] });
    const version = await call(`${DOCS}/${doc.id}/upload-version`, big.body);
    expect(version.status).toBe(201);
    expect(version.json()).toMatchObject({ version_number: 2, comment: "big", sha256: await big.sha256 });
    expect((await downloadedSha256(doc.id)).sha256).toBe(await big.sha256);

    const exact = streamedBody({ size: PART_BYTES, prefix: PDF });
    const one = await call(DOCS, exact.body);
    expect(one.status).toBe(201);
    expect((await downloadedSha256(one.json().id)).sha256).toBe(await exact.sha256);
  }, 60_000);

  it("stores files at the buffers' edges byte for byte, sent with a Content-Length (the first buffer's bound) or without", async () => {
    // The first 64 KiB are read into a head buffer; past it, one buffer of a part's size, or of
    // the request's length when that is smaller; past a part, a second part buffer.
    const HEAD = 64 * 1024;
    for (const size of [HEAD - 1, HEAD, HEAD + 1, PART_BYTES - 1, PART_BYTES, PART_BYTES + 1]) {
      const streamed = streamedBody({ size, prefix: PDF });
      const whole = new Uint8Array(await new Response(streamed.body).arrayBuffer());
      for (const body of [whole, new Response(whole).body as ReadableStream<Uint8Array>]) {
        const res = await call(DOCS, body as unknown as ReadableStream<Uint8Array>);
        expect(res.status, `${size} bytes`).toBe(201);
        expect(res.json()).toMatchObject({ size_bytes: size, sha256: await streamed.sha256 });
        expect((await downloadedSha256(res.json().id)).sha256).toBe(await streamed.sha256);
      }
    }
  }, 120_000);

  it("stores a file larger than the bound it was announced with (the domain does not rely on it)", async () => {
    // Through HTTP the bound comes from Content-Length, which workerd enforces; the domain checks anyway.
    const { body, sha256 } = streamedBody({ size: PART_BYTES + 70_000, prefix: PDF });
    const file = await readMultipartFile(body);
    const storage = testStorage();
    const staged = await stageUpload(testConfig(), storage, crypto.randomUUID(), { ...file, sizeAtMost: 100_000 });
    const stored = await staged.commit();
    expect(stored).toMatchObject({ sizeBytes: PART_BYTES + 70_000, sha256: await sha256 });
    const res = await storage.get(stored.storageKey);
    const digest = new crypto.DigestStream("SHA-256");
    await res?.body?.pipeTo(digest);
    expect(hex(await digest.digest)).toBe(await sha256);
    await storage.delete(stored.storageKey);
  }, 60_000);

  it("reads the fields after the file too", async () => {
    const upload = streamedBody({
      size: PART_BYTES + 10,
      prefix: PDF,
      after: [
        { name: "title", value: "After the file" },
        { name: "tags", value: "late, fields" },
      ],
    });
    const res = await call(DOCS, upload.body);
    expect(res.status).toBe(201);
    expect(res.json()).toMatchObject({ title: "After the file", tags: ["fields", "late"] });
  });

  it("reads the fields after the file when a Content-Length lets the file be read in large blocks", async () => {
    // With a Content-Length, a file's bytes are read in 256 KiB blocks that run on into what
    // follows it; the file's end falls at several places in a block here.
    for (const size of [PDF.byteLength, 200_000, 262_144, 700_001, PART_BYTES + 123_457]) {
      const upload = streamedBody({
        size,
        prefix: PDF,
        after: [
          { name: "title", value: `After ${size} bytes` },
          { name: "tags", value: "late, fields" },
        ],
      });
      const whole = new Uint8Array(await new Response(upload.body).arrayBuffer());
      // A Request built here has no Content-Length header unless given one, as an HTTP client sends it.
      const res = await call(
        DOCS,
        whole as unknown as ReadableStream<Uint8Array>,
        {},
        {
          "Content-Length": String(whole.byteLength),
        },
      );
      expect(res.status, `${size} bytes`).toBe(201);
      expect(res.json()).toMatchObject({
        title: `After ${size} bytes`,
        tags: ["fields", "late"],
        size_bytes: size,
        sha256: await upload.sha256,
      });
    }
  }, 60_000);

  it("checks a large Office file's directory once stored, and records the type it finds", async () => {
    const docx = await wordPackage({ padding: 6 * MiB });
    const upload = streamedBody({ size: docx.byteLength, bytes: docx, name: "big.docx" });
    const res = await call(DOCS, upload.body);
    expect(res.status).toBe(201);
    const doc = res.json();
    const type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    expect(doc).toMatchObject({ content_type: type, file_name: "big.docx", size_bytes: docx.byteLength });
    const key = (await storedKeys(`documents/${doc.id}/`))[0] as string;
    expect((await testStorage().head(key))?.contentType).toBe(type);
    expect((await downloadedSha256(doc.id)).sha256).toBe(await upload.sha256);
  }, 60_000);
});

describe("failures leave no object and no part", () => {
  it("refuses a large Office file whose macros are past its first part (415), deleting what was stored", async () => {
    const docm = await wordPackage({ macros: true, padding: 6 * MiB });
    const before = await state();
    const res = await call(DOCS, streamedBody({ size: docm.byteLength, bytes: docm, name: "big.docx" }).body);
    expect(res.status).toBe(415);
    expect(res.json().detail).toContain("macros");
    expect(await state()).toEqual(before);
  }, 60_000);

  it("refuses a type from the file's first bytes before storing any (415)", async () => {
    const before = await state();
    const exe = new Uint8Array([0x4d, 0x5a, 0x90, 0x00]);
    const res = await call(DOCS, streamedBody({ size: 3 * PART_BYTES, prefix: exe, name: "setup.pdf" }).body);
    expect(res.status).toBe(415);
    expect(await state()).toEqual(before);
  });

  it("answers 413 as soon as the file passes MAX_UPLOAD_BYTES, parts already sent or not", async () => {
    const before = await state();
    const res = await call(DOCS, streamedBody({ size: 40 * MiB, prefix: PDF }).body, {
      MAX_UPLOAD_BYTES: String(12 * MiB),
    });
    expect(res.status).toBe(413);
    expect(res.json().detail).toContain(`upload limit of ${12 * MiB} bytes`);
    expect(await state()).toEqual(before);
  }, 60_000);

  it("answers 400 for a body cut off mid-file, and for a client that goes away", async () => {
    const before = await state();
    const cut = await call(DOCS, streamedBody({ size: 20 * MiB, prefix: PDF, cutAt: 2 * PART_BYTES + CHUNK }).body);
    expect(cut.status).toBe(400);
    expect(await state()).toEqual(before);
    const gone = await call(DOCS, streamedBody({ size: 20 * MiB, prefix: PDF, failAt: 2 * PART_BYTES + CHUNK }).body);
    expect(gone.status).toBe(400);
    expect(await state()).toEqual(before);
  }, 60_000);

  it("answers 422 for a field after the file, and 422 at once for one before it", async () => {
    const before = await state();
    const late = streamedBody({
      size: PART_BYTES * 2,
      prefix: PDF,
      after: [{ name: "title", value: "t".repeat(501) }],
    });
    expect((await call(DOCS, late.body)).status).toBe(422);
    expect(await state()).toEqual(before);
    const early = streamedBody({ size: 20 * MiB, prefix: PDF, before: [{ name: "title", value: "t".repeat(501) }] });
    expect((await call(DOCS, early.body)).status).toBe(422);
    expect(await state()).toEqual(before);
  }, 60_000);

  it("answers 507 as soon as the file passes the quota's room", async () => {
    const before = await state();
    const res = await call(DOCS, streamedBody({ size: 30 * MiB, prefix: PDF }).body, {
      STORAGE_QUOTA_BYTES: String(12 * MiB),
    });
    expect(res.status).toBe(507);
    expect(res.json().code).toBe("quota_exceeded");
    // The detail says what is known: the room left, and how far the file got (not its size).
    const detail = res.json().detail as string;
    expect(detail).toMatch(/quota of 12582912 bytes \(\d+ bytes used, \d+ left\): refused after its first \d+ bytes/);
    expect(await state()).toEqual(before);
  }, 60_000);

  it("answers 503 when storage fails in the middle of the file (a 500, or a dropped connection), aborting what was sent", async () => {
    // Part 1 reaches the store, part 2 fails: the multipart upload must be aborted through the
    // same (working) store before the answer, leaving no row, object or part. The proxies forward
    // everything but UploadPart of parts 2+, so the abort itself goes through.
    for (const endpoint of [inject("failingParts"), inject("droppedParts")]) {
      const before = await state();
      const res = await call(DOCS, streamedBody({ size: 3 * PART_BYTES, prefix: PDF }).body, { S3_ENDPOINT: endpoint });
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ code: "storage_unavailable" });
      expect(JSON.stringify(res.json())).not.toMatch(/uploadId|documents\//);
      expect(await state()).toEqual(before);
    }
  }, 60_000);

  it("answers 503 for a new version when storage fails mid-file, leaving the document as it was", async () => {
    const doc = await createDocument(user.auth);
    const before = await state();
    const res = await call(
      `${DOCS}/${doc.id}/upload-version`,
      streamedBody({ size: 2 * PART_BYTES + 1, prefix: PDF }).body,
      {
        S3_ENDPOINT: inject("failingParts"),
      },
    );
    expect(res.status).toBe(503);
    expect(await state()).toEqual(before);
  }, 60_000);

  it("answers 422 for a second file part, undoing the first (stored as a multipart upload, or with one PUT)", async () => {
    const before = await state();
    for (const size of [PART_BYTES * 2 + CHUNK, CHUNK]) {
      const twice = streamedBody({
        size,
        prefix: PDF,
        after: [{ name: "file", value: "%PDF-1.7\nthe second", filename: "second.pdf" }],
      });
      const res = await call(DOCS, twice.body);
      expect(res.status).toBe(422);
      expect(res.json()).toMatchObject({
        code: "validation_failed",
        errors: [{ path: "body.file", message: expect.stringContaining("second `file` part") }],
      });
      expect(await state()).toEqual(before);
    }
  }, 60_000);

  it("lists no part left under any aborted upload (ListParts through the front)", async () => {
    // An upload aborted by the service is gone for the store too: ListParts answers NoSuchUpload.
    const storage = testStorage();
    const key = `documents/${crypto.randomUUID()}/${crypto.randomUUID()}`;
    const uploadId = await storage.createMultipart(key, { contentType: "application/pdf" });
    await storage.uploadPart(key, uploadId, 1, new Uint8Array(1024));
    expect(await storage.listParts(key, uploadId)).toMatchObject([{ partNumber: 1, size: 1024 }]);
    expect(await storage.listMultipartUploads("documents/")).toEqual([{ key, uploadId }]);
    await storage.abortMultipart(key, uploadId);
    expect(await storage.listParts(key, uploadId)).toBeNull();
    expect(await storage.listMultipartUploads("documents/")).toEqual([]);
  });
});
