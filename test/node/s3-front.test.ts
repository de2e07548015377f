// The local S3's verifying front (devstack/s3-front.ts): Signature V4 checked as S3 checks it
// (AWS's published examples replayed, then live requests signed by aws4fetch as the Worker signs
// them, and tampered ones), and the multipart operations s3rver lacks.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AwsClient } from "aws4fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSignature, MIN_PART_SIZE } from "../../devstack/s3-front.ts";
import { LOCAL_S3_CREDENTIALS, type S3Server, startS3Server } from "../../devstack/s3-server.ts";

// AWS's examples: "Authenticating Requests: Using the Authorization Header" and "… Using Query
// Parameters" (Signature Version 4) in the Amazon S3 API reference, bucket examplebucket,
// signed 2013-05-24T00:00:00Z.
const EXAMPLE = {
  credentials: { AKIAIOSFODNN7EXAMPLE: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
  region: "us-east-1",
  now: new Date("2013-05-24T00:05:00Z"),
};
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const exampleAuth = (signedHeaders: string, signature: string) =>
  `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
const host = "examplebucket.s3.amazonaws.com";

const GET_OBJECT = {
  method: "GET",
  url: "/test.txt",
  headers: {
    host,
    range: "bytes=0-9",
    "x-amz-content-sha256": EMPTY_SHA256,
    "x-amz-date": "20130524T000000Z",
    authorization: exampleAuth(
      "host;range;x-amz-content-sha256;x-amz-date",
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    ),
  },
};

describe("AWS's published Signature V4 examples", () => {
  it("accepts the GET Object example, and refuses it with any signed part changed", async () => {
    expect(await checkSignature(GET_OBJECT, EXAMPLE)).toBeNull();
    const mismatch = { status: 403, code: "SignatureDoesNotMatch" };
    const tampered = [
      { ...GET_OBJECT, url: "/test.txx" },
      { ...GET_OBJECT, url: "/test.txt?versionId=1" },
      { ...GET_OBJECT, method: "HEAD" },
      { ...GET_OBJECT, headers: { ...GET_OBJECT.headers, range: "bytes=0-10" } },
      { ...GET_OBJECT, headers: { ...GET_OBJECT.headers, host: "otherbucket.s3.amazonaws.com" } },
      {
        ...GET_OBJECT,
        headers: { ...GET_OBJECT.headers, authorization: GET_OBJECT.headers.authorization.replace(/1$/, "2") },
      },
    ];
    for (const request of tampered) expect(await checkSignature(request, EXAMPLE)).toMatchObject(mismatch);
    // A header the signature does not cover may not change what S3 does.
    expect(
      await checkSignature({ ...GET_OBJECT, headers: { ...GET_OBJECT.headers, "x-amz-meta-a": "b" } }, EXAMPLE),
    ).toMatchObject({ status: 403, code: "AccessDenied" });
    // …but one that is not x-amz-* and not signed is ignored, as by S3.
    expect(
      await checkSignature({ ...GET_OBJECT, headers: { ...GET_OBJECT.headers, accept: "*/*" } }, EXAMPLE),
    ).toBeNull();
  });

  it("accepts the PUT Object example (a key needing encoding, a signed Date header)", async () => {
    const put = {
      method: "PUT",
      url: "/test%24file.text",
      headers: {
        host,
        date: "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        authorization: exampleAuth(
          "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
          "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        ),
      },
    };
    expect(await checkSignature(put, EXAMPLE)).toBeNull();
    expect(await checkSignature({ ...put, url: "/test$file.text" }, EXAMPLE)).toBeNull(); // same canonical URI
    expect(
      await checkSignature({ ...put, headers: { ...put.headers, "x-amz-storage-class": "STANDARD" } }, EXAMPLE),
    ).toMatchObject({ code: "SignatureDoesNotMatch" });
  });

  it("accepts the GET Bucket Lifecycle and List Objects examples (query parameters)", async () => {
    const headers = { host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": "20130524T000000Z" };
    const signed = "host;x-amz-content-sha256;x-amz-date";
    const lifecycle = {
      method: "GET",
      url: "/?lifecycle",
      headers: {
        ...headers,
        authorization: exampleAuth(signed, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
      },
    };
    expect(await checkSignature(lifecycle, EXAMPLE)).toBeNull();
    const list = {
      method: "GET",
      url: "/?max-keys=2&prefix=J",
      headers: {
        ...headers,
        authorization: exampleAuth(signed, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
      },
    };
    expect(await checkSignature(list, EXAMPLE)).toBeNull();
    expect(await checkSignature({ ...list, url: "/?prefix=J&max-keys=2" }, EXAMPLE)).toBeNull(); // order is canonical
    expect(await checkSignature({ ...list, url: "/?max-keys=3&prefix=J" }, EXAMPLE)).toMatchObject({
      code: "SignatureDoesNotMatch",
    });
  });

  it("accepts the presigned GET example until it expires", async () => {
    const presigned = {
      method: "GET",
      url:
        "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
      headers: { host },
    };
    expect(await checkSignature(presigned, EXAMPLE)).toBeNull();
    expect(await checkSignature(presigned, { ...EXAMPLE, now: new Date("2013-05-24T23:59:59Z") })).toBeNull();
    expect(await checkSignature(presigned, { ...EXAMPLE, now: new Date("2013-05-25T00:00:01Z") })).toEqual({
      status: 403,
      code: "AccessDenied",
      message: "Request has expired",
    });
    // A longer life is part of what was signed.
    expect(
      await checkSignature({ ...presigned, url: presigned.url.replace("Expires=86400", "Expires=86401") }, EXAMPLE),
    ).toMatchObject({ code: "SignatureDoesNotMatch" });
    expect(await checkSignature(presigned, { ...EXAMPLE, credentials: { OTHERKEY: "x" } })).toMatchObject({
      status: 403,
      code: "InvalidAccessKeyId",
    });
  });
});

let s3: S3Server;
let directory: string;
const client = new AwsClient({ ...LOCAL_S3_CREDENTIALS, service: "s3", region: "us-east-1", retries: 0 });
const objectUrl = (key: string) => `${s3.endpoint}/${s3.bucket}/${key}`;
const errorCode = async (res: Response) => /<Code>([^<]*)<\/Code>/.exec(await res.text())?.[1];

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "docvault-s3-front-"));
  s3 = await startS3Server({ directory, bucket: "documents" });
});

afterAll(async () => {
  await s3?.close();
  await rm(directory, { recursive: true, force: true });
});

describe("the front over s3rver", () => {
  it("passes requests signed as the Worker signs them (aws4fetch, header and query)", async () => {
    const key = `a/${crypto.randomUUID()} é!(1).txt`.replace(/ /g, "%20").replace("é", "%C3%A9");
    const put = await client.fetch(objectUrl(key), {
      method: "PUT",
      body: "hello",
      headers: { "content-type": "text/plain" },
    });
    expect(put.status).toBe(200);
    const get = await client.fetch(objectUrl(key));
    expect(get.status).toBe(200);
    expect(await get.text()).toBe("hello");
    const presigned = await client.sign(`${objectUrl(key)}?X-Amz-Expires=60&response-content-type=text%2Fcsv`, {
      aws: { signQuery: true },
    });
    const viaUrl = await fetch(presigned.url);
    expect(viaUrl.status).toBe(200);
    expect(viaUrl.headers.get("content-type")).toBe("text/csv");
    // A body digest given as x-amz-content-sha256 is signed and checked against the bytes.
    const digest = createHash("sha256").update("exact").digest("hex");
    const signedBody = await client.fetch(objectUrl(`${key}.2`), {
      method: "PUT",
      body: "exact",
      headers: { "x-amz-content-sha256": digest },
    });
    expect(signedBody.status).toBe(200);
  });

  it("refuses a tampered signature, path, query or signed header with 403 SignatureDoesNotMatch", async () => {
    const key = `b/${crypto.randomUUID()}`;
    await client.fetch(objectUrl(key), { method: "PUT", body: "x" });
    const url = new URL((await client.sign(`${objectUrl(key)}?X-Amz-Expires=60`, { aws: { signQuery: true } })).url);
    const signature = url.searchParams.get("X-Amz-Signature") as string;

    const flipped = new URL(url);
    flipped.searchParams.set(
      "X-Amz-Signature",
      signature.replace(/^./, (c) => (c === "a" ? "b" : "a")),
    );
    const otherPath = new URL(url);
    otherPath.pathname = `/${s3.bucket}/b/${crypto.randomUUID()}`;
    const extraQuery = new URL(url);
    extraQuery.searchParams.set("response-content-type", "text/html");
    const longer = new URL(url);
    longer.searchParams.set("X-Amz-Expires", "61");
    for (const tampered of [flipped, otherPath, extraQuery, longer]) {
      const res = await fetch(tampered);
      expect(res.status).toBe(403);
      expect(res.headers.get("content-type")).toBe("application/xml");
      expect(await errorCode(res)).toBe("SignatureDoesNotMatch");
    }

    // A header-signed request whose signed header changed on the way.
    const signed = await client.sign(objectUrl(key), { method: "GET", headers: { "x-amz-meta-who": "me" } });
    const headers = new Headers(signed.headers);
    headers.set("x-amz-meta-who", "someone else");
    const res = await fetch(signed.url, { headers });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("SignatureDoesNotMatch");
    expect((await fetch(signed.url, { headers: signed.headers })).status).toBe(200);
  });

  it("refuses an expired presigned URL, an unsigned request, and an unknown access key", async () => {
    const key = `c/${crypto.randomUUID()}`;
    await client.fetch(objectUrl(key), { method: "PUT", body: "x" });
    const datetime = new Date(Date.now() - 120_000).toISOString().replace(/[:-]|\.\d{3}/g, "");
    const expired = await client.sign(`${objectUrl(key)}?X-Amz-Expires=60`, { aws: { signQuery: true, datetime } });
    const late = await fetch(expired.url);
    expect(late.status).toBe(403);
    expect(await late.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);

    const anonymous = await fetch(objectUrl(key));
    expect(anonymous.status).toBe(403);
    expect(await errorCode(anonymous)).toBe("AccessDenied");
    const unsignedPut = await fetch(objectUrl(key), { method: "PUT", body: "overwritten" });
    expect(unsignedPut.status).toBe(403);
    expect(await (await client.fetch(objectUrl(key))).text()).toBe("x");

    const stranger = new AwsClient({
      accessKeyId: "NOTAKEY",
      secretAccessKey: "S3RVER",
      service: "s3",
      region: "us-east-1",
    });
    const res = await stranger.fetch(objectUrl(key));
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("InvalidAccessKeyId");
    // The right key with the wrong secret is a signature mismatch.
    const wrongSecret = new AwsClient({
      accessKeyId: "S3RVER",
      secretAccessKey: "guess",
      service: "s3",
      region: "us-east-1",
    });
    expect(await errorCode(await wrongSecret.fetch(objectUrl(key)))).toBe("SignatureDoesNotMatch");
  });

  it("refuses a body that does not match its signed x-amz-content-sha256, storing nothing", async () => {
    const key = `d/${crypto.randomUUID()}`;
    const res = await client.fetch(objectUrl(key), {
      method: "PUT",
      body: "other bytes",
      headers: { "x-amz-content-sha256": createHash("sha256").update("declared").digest("hex") },
    });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("XAmzContentSHA256Mismatch");
    expect((await client.fetch(objectUrl(key), { method: "HEAD" })).status).toBe(404);
  });
});

describe("multipart uploads through the front", () => {
  const big = new Uint8Array(MIN_PART_SIZE).fill(7);

  async function create(key: string): Promise<string> {
    const res = await client.fetch(`${objectUrl(key)}?uploads`, { method: "POST" });
    expect(res.status).toBe(200);
    return /<UploadId>([^<]+)<\/UploadId>/.exec(await res.text())?.[1] as string;
  }
  async function part(key: string, uploadId: string, n: number, body: Uint8Array): Promise<string> {
    const res = await client.fetch(`${objectUrl(key)}?partNumber=${n}&uploadId=${uploadId}`, { method: "PUT", body });
    expect(res.status).toBe(200);
    return res.headers.get("etag") as string;
  }
  const completeXml = (parts: { n: number; etag: string }[]) =>
    `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.n}</PartNumber><ETag>${p.etag}</ETag></Part>`).join("")}</CompleteMultipartUpload>`;
  const complete = (key: string, uploadId: string, parts: { n: number; etag: string }[]) =>
    client.fetch(`${objectUrl(key)}?uploadId=${uploadId}`, { method: "POST", body: completeXml(parts) });

  it("lists the parts (ListParts) and assembles them (CompleteMultipartUpload)", async () => {
    const key = `mp/${crypto.randomUUID()}`;
    const uploadId = await create(key);
    const tail = new TextEncoder().encode("tail");
    const second = await part(key, uploadId, 2, tail);
    const first = await part(key, uploadId, 1, big);

    const listed = await client.fetch(`${objectUrl(key)}?uploadId=${uploadId}`);
    expect(listed.status).toBe(200);
    const xml = await listed.text();
    expect(xml).toContain(`<UploadId>${uploadId}</UploadId>`);
    const parts = [
      ...xml.matchAll(
        /<Part><PartNumber>(\d+)<\/PartNumber><LastModified>[^<]+<\/LastModified><ETag>([^<]+)<\/ETag><Size>(\d+)<\/Size><\/Part>/g,
      ),
    ];
    expect(parts.map((m) => [Number(m[1]), m[2]?.replace(/&quot;/g, '"'), Number(m[3])])).toEqual([
      [1, first, MIN_PART_SIZE],
      [2, second, 4],
    ]);
    const page = await (await client.fetch(`${objectUrl(key)}?uploadId=${uploadId}&max-parts=1`)).text();
    expect(page).toContain("<IsTruncated>true</IsTruncated>");
    expect(page).toContain("<NextPartNumberMarker>1</NextPartNumberMarker>");

    const done = await complete(key, uploadId, [
      { n: 1, etag: first },
      { n: 2, etag: second },
    ]);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("<CompleteMultipartUploadResult");
    const object = new Uint8Array(await (await client.fetch(objectUrl(key))).arrayBuffer());
    expect(object.length).toBe(MIN_PART_SIZE + 4);
    expect(new TextDecoder().decode(object.subarray(MIN_PART_SIZE))).toBe("tail");
    // A completed upload is gone.
    expect(await errorCode(await client.fetch(`${objectUrl(key)}?uploadId=${uploadId}`))).toBe("NoSuchUpload");
  });

  it("aborts an upload (AbortMultipartUpload): its parts are removed from the store", async () => {
    const key = `mp/${crypto.randomUUID()}`;
    const uploadId = await create(key);
    await part(key, uploadId, 1, new Uint8Array(1000));
    const partsDir = join(directory, s3.bucket, "._S3rver_uploads", uploadId);
    expect(existsSync(join(partsDir, "1"))).toBe(true);

    const aborted = await client.fetch(`${objectUrl(key)}?uploadId=${uploadId}`, { method: "DELETE" });
    expect(aborted.status).toBe(204);
    expect(existsSync(partsDir)).toBe(false);
    for (const res of [
      await client.fetch(`${objectUrl(key)}?uploadId=${uploadId}`),
      await client.fetch(`${objectUrl(key)}?uploadId=${uploadId}`, { method: "DELETE" }),
      await client.fetch(`${objectUrl(key)}?partNumber=2&uploadId=${uploadId}`, { method: "PUT", body: "x" }),
      await complete(key, uploadId, [{ n: 1, etag: '"x"' }]),
    ]) {
      expect(res.status).toBe(404);
      expect(await errorCode(res)).toBe("NoSuchUpload");
    }
    expect(existsSync(partsDir)).toBe(false);
    expect((await client.fetch(objectUrl(key), { method: "HEAD" })).status).toBe(404);
    // An upload id belongs to its key.
    const other = await create(key);
    expect(await errorCode(await client.fetch(`${objectUrl(`${key}-x`)}?uploadId=${other}`))).toBe("NoSuchUpload");
  });

  it("decides concurrent completes and aborts of one upload one at a time, as S3 does", async () => {
    // Five completes and an abort at once: one wins, every other finds the upload gone, and the
    // store (s3rver reads the part files the winner deletes) keeps serving.
    for (let round = 0; round < 3; round++) {
      const key = `mp/${crypto.randomUUID()}`;
      const uploadId = await create(key);
      const etag = await part(key, uploadId, 1, big);
      const results = await Promise.all([
        ...Array.from({ length: 5 }, () => complete(key, uploadId, [{ n: 1, etag }])),
        client.fetch(`${objectUrl(key)}?uploadId=${uploadId}`, { method: "DELETE" }),
      ]);
      const outcomes = await Promise.all(
        results.map(async (res) => (res.ok ? String(res.status) : `${res.status} ${await errorCode(res)}`)),
      );
      expect(
        outcomes.filter((o) => o === "200" || o === "204"),
        outcomes.join(", "),
      ).toHaveLength(1);
      expect(outcomes.filter((o) => o === "404 NoSuchUpload")).toHaveLength(5);
      const head = await client.fetch(objectUrl(key), { method: "HEAD" });
      // Completed: the object is whole; aborted first: there is none.
      if (outcomes.includes("200")) expect(head.headers.get("content-length")).toBe(String(MIN_PART_SIZE));
      else expect(head.status).toBe(404);
    }
  });

  it("refuses a part under 5 MiB but the last (EntityTooSmall), a wrong ETag and a wrong order", async () => {
    const key = `mp/${crypto.randomUUID()}`;
    const uploadId = await create(key);
    const small = await part(key, uploadId, 1, new Uint8Array(MIN_PART_SIZE - 1));
    const last = await part(key, uploadId, 2, new Uint8Array(10));
    const cases: [{ n: number; etag: string }[], string][] = [
      [
        [
          { n: 1, etag: small },
          { n: 2, etag: last },
        ],
        "EntityTooSmall",
      ],
      [
        [
          { n: 1, etag: small },
          { n: 2, etag: '"0123"' },
        ],
        "InvalidPart",
      ],
      [
        [
          { n: 1, etag: small },
          { n: 3, etag: last },
        ],
        "InvalidPart",
      ],
      [
        [
          { n: 2, etag: last },
          { n: 1, etag: small },
        ],
        "InvalidPartOrder",
      ],
    ];
    for (const [parts, code] of cases) {
      const res = await complete(key, uploadId, parts);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe(code);
    }
    expect((await client.fetch(objectUrl(key), { method: "HEAD" })).status).toBe(404);
    // One part alone is also the last: any size.
    expect((await complete(key, uploadId, [{ n: 2, etag: last }])).status).toBe(200);
    expect(
      (
        await client.fetch(`${objectUrl(key)}?partNumber=10001&uploadId=${await create(key)}`, {
          method: "PUT",
          body: "x",
        })
      ).status,
    ).toBe(400);
  });
});

describe("conditional PUTs (conditionalPuts)", () => {
  let strict: S3Server;
  let strictDir: string;
  beforeAll(async () => {
    strictDir = await mkdtemp(join(tmpdir(), "docvault-s3-front-strict-"));
    strict = await startS3Server({ directory: strictDir, bucket: "documents", conditionalPuts: true });
  });
  afterAll(async () => {
    await strict?.close();
    await rm(strictDir, { recursive: true, force: true });
  });

  async function presignedPut(key: string, headers: Record<string, string>) {
    const signed = await client.sign(`${strict.endpoint}/documents/${key}?X-Amz-Expires=60`, {
      method: "PUT",
      headers,
      aws: { signQuery: true, allHeaders: true },
    });
    return (body: string) => fetch(signed.url, { method: "PUT", headers, body });
  }

  it("refuses a second write under If-None-Match: * (412)", async () => {
    const put = await presignedPut(`e/${crypto.randomUUID()}`, { "if-none-match": "*" });
    expect((await put("first")).status).toBe(200);
    const again = await put("second");
    expect(again.status).toBe(412);
    expect(await errorCode(again)).toBe("PreconditionFailed");
  });

  it("refuses bytes that do not match x-amz-checksum-sha256 (400 BadDigest), keeping nothing", async () => {
    const key = `f/${crypto.randomUUID()}`;
    const checksum = createHash("sha256").update("declared").digest("base64");
    const put = await presignedPut(key, { "x-amz-checksum-sha256": checksum });
    const bad = await put("something else");
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe("BadDigest");
    expect((await client.fetch(`${strict.endpoint}/documents/${key}`, { method: "HEAD" })).status).toBe(404);
    expect((await put("declared")).status).toBe(200);
    expect(await (await client.fetch(`${strict.endpoint}/documents/${key}`)).text()).toBe("declared");
  });
});
