// The storage module against the local S3 server: signed calls and presigned URLs move exact
// bytes. (s3rver does not verify V4 signatures; the URL's scope and expiry are checked here.)

import { describe, expect, it } from "vitest";
import { ObjectStorage } from "../../src/storage/object-storage";
import { randomBytes } from "../support/bytes";
import { testStorage } from "../support/stack";

const storage = testStorage();

describe("ObjectStorage", () => {
  it("puts, heads, reads, lists and deletes an object", async () => {
    const key = `documents/${crypto.randomUUID()}/${crypto.randomUUID()}`;
    const bytes = randomBytes(300_000);
    await storage.put(key, bytes, { contentType: "application/pdf", contentLength: bytes.byteLength });

    expect(await storage.head(key)).toMatchObject({ size: bytes.byteLength, contentType: "application/pdf" });
    const res = await storage.get(key);
    expect(new Uint8Array(await (res as Response).arrayBuffer())).toEqual(bytes);

    const first = await storage.get(key, { start: 0, end: 7 });
    expect(first?.status).toBe(206);
    expect(new Uint8Array(await (first as Response).arrayBuffer())).toEqual(bytes.subarray(0, 8));

    expect(await storage.listKeys("documents/")).toContain(key);

    await storage.delete(key);
    expect(await storage.head(key)).toBeNull();
    expect(await storage.get(key)).toBeNull();
    await storage.delete(key); // deleting twice is not an error
  });

  it("lists page after page, and only under the prefix", async () => {
    const prefix = `paging/${crypto.randomUUID()}/`;
    const keys = Array.from({ length: 23 }, (_, i) => `${prefix}${String(i).padStart(2, "0")}&<é>`);
    await Promise.all(keys.map((k) => storage.put(k, "x", { contentType: "text/plain" })));
    await storage.put(`other/${crypto.randomUUID()}`, "x", { contentType: "text/plain" });
    expect(await storage.listKeys(prefix, { pageSize: 5 })).toEqual(keys);
    expect(await storage.listKeys(prefix)).toEqual(keys);
    // s3rver's file store races on concurrent deletes in one folder; S3 does not.
    for (const key of keys) await storage.delete(key);
    expect(await storage.listKeys(prefix)).toEqual([]);
  });

  it("presigns a GET that returns the exact bytes with the requested disposition", async () => {
    const key = `documents/${crypto.randomUUID()}/v1`;
    const bytes = randomBytes(1024);
    await storage.put(key, bytes, { contentType: "application/octet-stream" });
    const disposition = `attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%9C%93.pdf`;
    const url = await storage.presign("GET", key, {
      expiresInSeconds: 900,
      query: { "response-content-disposition": disposition, "response-content-type": "application/pdf" },
    });
    const parsed = new URL(url);
    expect(parsed.searchParams.get("X-Amz-Expires")).toBe("900");
    expect(parsed.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(parsed.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(parsed.searchParams.get("X-Amz-Credential")).toMatch(/\/us-east-1\/s3\/aws4_request$/);

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(disposition);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it("presigns a PUT that stores the uploaded bytes", async () => {
    const key = `uploads/${crypto.randomUUID()}`;
    const bytes = randomBytes(4096);
    const url = await storage.presign("PUT", key, {
      expiresInSeconds: 60,
      headers: { "content-type": "image/png" },
    });
    expect(new URL(url).searchParams.get("X-Amz-SignedHeaders")).toContain("content-type");
    const put = await fetch(url, { method: "PUT", body: bytes, headers: { "content-type": "image/png" } });
    expect(put.status).toBe(200);
    expect(await storage.head(key)).toMatchObject({ size: 4096, contentType: "image/png" });
  });
});

describe("ObjectStorage for the sweeper and direct uploads", () => {
  it("deletes up to 1,000 keys in one DeleteObjects call", async () => {
    const prefix = `batch/${crypto.randomUUID()}/`;
    const keys = Array.from({ length: 1000 }, (_, i) => `${prefix}${String(i).padStart(4, "0")}&<'>`);
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((k) => storage.put(k, "x", { contentType: "text/plain" })));
    }
    const kept = `${prefix}kept`;
    await storage.put(kept, "x", { contentType: "text/plain" });
    expect(await storage.deleteMany([...keys])).toEqual({ failed: [] });
    expect(await storage.listKeys(prefix)).toEqual([kept]);
    // Keys that do not exist count as deleted; more than 1,000 is the caller's bug.
    expect(await storage.deleteMany([`${prefix}missing`])).toEqual({ failed: [] });
    await expect(storage.deleteMany([...keys, kept])).rejects.toThrow(/at most 1000/);
    await storage.delete(kept);
  }, 60_000);

  it("lists one page at a time from a marker, with null at the end", async () => {
    const prefix = `pages/${crypto.randomUUID()}/`;
    const keys = Array.from({ length: 7 }, (_, i) => `${prefix}${i}`);
    for (const key of keys) await storage.put(key, "x", { contentType: "text/plain" });
    const first = await storage.listPage(prefix, { maxKeys: 3 });
    expect(first.objects.map((o) => o.key)).toEqual(keys.slice(0, 3));
    expect(first.nextMarker).toBe(keys[2]);
    const last = await storage.listPage(prefix, { marker: keys[5], maxKeys: 3 });
    expect(last.objects.map((o) => o.key)).toEqual([keys[6]]);
    expect(last.nextMarker).toBeNull();
    await storage.deleteMany(keys);
  });

  it("copies server-side with the service's metadata only", async () => {
    const source = `uploads/${crypto.randomUUID()}`;
    const bytes = randomBytes(5000);
    const url = await storage.presign("PUT", source, {
      expiresInSeconds: 60,
      headers: { "content-type": "text/html" },
    });
    await fetch(url, {
      method: "PUT",
      body: bytes,
      headers: { "content-type": "text/html", "content-encoding": "gzip", "cache-control": "max-age=999" },
    });
    const staged = await storage.head(source);
    expect(staged).toMatchObject({ size: 5000, contentEncoding: "gzip" });
    const target = `documents/${crypto.randomUUID()}/${crypto.randomUUID()}`;
    const copied = await storage.copy(source, target, { contentType: "text/plain", sourceEtag: staged?.etag });
    expect(copied?.etag).toBe(staged?.etag);
    expect(await storage.head(target)).toMatchObject({ size: 5000, contentType: "text/plain", contentEncoding: null });
    const read = await storage.get(target);
    expect(read?.headers.get("cache-control")).toBeNull();
    expect(new Uint8Array(await (read as Response).arrayBuffer())).toEqual(bytes);
    expect(await storage.copy(`uploads/${crypto.randomUUID()}`, target, { contentType: "text/plain" })).toBeNull();
    await storage.deleteMany([source, target]);
  });
});

describe("Signature V4 presigning", () => {
  // AWS's published example: "Authenticating Requests: Using Query Parameters (AWS Signature
  // Version 4)" in the Amazon S3 API reference. s3rver does not check signatures, so this is
  // what proves the presigned URLs would pass on S3 and R2.
  it("reproduces AWS's example presigned GET exactly", async () => {
    const aws = new ObjectStorage(
      {
        S3_ENDPOINT: "https://s3.amazonaws.com",
        S3_BUCKET: "examplebucket",
        S3_REGION: "us-east-1",
        S3_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
        S3_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      },
      { virtualHosted: true },
    );
    const url = new URL(
      await aws.presign("GET", "test.txt", { expiresInSeconds: 86400, signedAt: new Date("2013-05-24T00:00:00Z") }),
    );
    expect(url.origin + url.pathname).toBe("https://examplebucket.s3.amazonaws.com/test.txt");
    expect(url.searchParams.get("X-Amz-Credential")).toBe("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request");
    expect(url.searchParams.get("X-Amz-Date")).toBe("20130524T000000Z");
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    expect(url.searchParams.get("X-Amz-Signature")).toBe(
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
  });

  it("changes the signature when anything signed changes", async () => {
    const base = { expiresInSeconds: 900, signedAt: new Date("2026-11-25T00:00:00Z") };
    const signature = async (key: string, options = base) =>
      new URL(await storage.presign("GET", key, options)).searchParams.get("X-Amz-Signature");
    const reference = await signature("documents/a/b");
    expect(await signature("documents/a/b")).toBe(reference);
    expect(await signature("documents/a/c")).not.toBe(reference);
    expect(await signature("documents/a/b", { ...base, expiresInSeconds: 901 })).not.toBe(reference);
    expect(
      await signature("documents/a/b", {
        ...base,
        query: { "response-content-disposition": "attachment" },
      } as typeof base),
    ).not.toBe(reference);
  });
});
