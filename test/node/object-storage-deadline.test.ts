// ObjectStorage.get's deadline (src/storage/object-storage.ts): the answer's headers must come
// within timeoutMs, and then each piece of the body, but a long body that keeps coming is never
// cut, whatever its total time. A store played by a local server that answers slowly on purpose.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DependencyError } from "../../src/lib/failure.ts";
import { ObjectStorage } from "../../src/storage/object-storage.ts";

const TIMEOUT_MS = 300;
const PIECE = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: Server;
let storage: ObjectStorage;

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const key = req.url?.split("/").pop() ?? "";
    if (key === "missing") {
      res.writeHead(404).end();
      return;
    }
    if (key === "encoded") {
      res.writeHead(200, { "content-encoding": "gzip", "content-length": "3" }).end("abc");
      return;
    }
    if (key === "silent") {
      await sleep(TIMEOUT_MS * 3); // no answer within the deadline
      res.end();
      return;
    }
    // ten pieces, 100 ms apart: a second in all, over three deadlines, none missed
    const pieces = key === "stalls" ? 2 : 10;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(10 * PIECE) });
    for (let i = 0; i < pieces; i++) {
      res.write(Buffer.alloc(PIECE, i));
      await sleep(100);
    }
    if (key === "stalls") await sleep(TIMEOUT_MS * 4); // then nothing for longer than the deadline
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  storage = new ObjectStorage(
    {
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_BUCKET: "bucket",
      S3_REGION: "auto",
      S3_ACCESS_KEY_ID: "key",
      S3_SECRET_ACCESS_KEY: "secret",
    },
    { timeoutMs: TIMEOUT_MS },
  );
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("reading an object has a deadline for the answer and for each piece, not for the whole", () => {
  it("a body that keeps coming is read whole, though it takes three deadlines", async () => {
    const started = Date.now();
    const res = await storage.get("slow");
    const bytes = new Uint8Array(await (res as Response).arrayBuffer());
    expect(Date.now() - started).toBeGreaterThan(3 * TIMEOUT_MS);
    expect(bytes.byteLength).toBe(10 * PIECE);
    expect(bytes[9 * PIECE]).toBe(9);
  });

  it("a body that stops coming fails the read with a storage error", async () => {
    const res = await storage.get("stalls");
    const error = await (res as Response).arrayBuffer().then(
      () => null,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(DependencyError);
    expect(String((error as Error).cause)).toContain(`no bytes within ${TIMEOUT_MS} ms`);
  });

  it("no answer within the deadline is a storage error", async () => {
    await expect(storage.get("silent")).rejects.toBeInstanceOf(DependencyError);
  });
});

describe("reading an object in blocks (readBlocks) keeps get's deadline and hands over every byte once", () => {
  // The deadline is per block (workerd's readAtLeast cannot show the pieces): two pieces, 200 ms.
  it("a body that keeps coming is read whole, in blocks of the size asked, though it takes three deadlines", async () => {
    const started = Date.now();
    const blocks: number[] = [];
    const seen: number[] = [];
    const outcome = await storage.readBlocks(
      "slow",
      (block) => {
        blocks.push(block.byteLength);
        for (let i = 0; i < block.byteLength; i += PIECE) seen.push(block[i] as number);
      },
      2 * PIECE,
    );
    expect(outcome).toBe("read");
    expect(Date.now() - started).toBeGreaterThan(3 * TIMEOUT_MS);
    expect(blocks).toEqual([2 * PIECE, 2 * PIECE, 2 * PIECE, 2 * PIECE, 2 * PIECE]);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("a body that stops coming fails the read with a storage error", async () => {
    const error = await storage
      .readBlocks("stalls", () => {}, 2 * PIECE)
      .then(
        () => null,
        (reason: unknown) => reason,
      );
    expect(error).toBeInstanceOf(DependencyError);
    expect(String((error as Error).cause)).toContain(`no bytes within ${TIMEOUT_MS} ms`);
  });

  it("no answer within the deadline is a storage error; no object and an encoded one are told apart", async () => {
    await expect(storage.readBlocks("silent", () => {})).rejects.toBeInstanceOf(DependencyError);
    const blocks: Uint8Array[] = [];
    expect(await storage.readBlocks("missing", (block) => void blocks.push(block))).toBe("missing");
    expect(await storage.readBlocks("encoded", (block) => void blocks.push(block))).toBe("encoded");
    expect(blocks).toEqual([]);
  });

  it("a block the caller refuses ends the read with the caller's own error, not a storage error", async () => {
    const refused = new Error("refused by the caller");
    let blocks = 0;
    const error = await storage
      .readBlocks(
        "slow",
        () => {
          blocks++;
          throw refused;
        },
        2 * PIECE,
      )
      .then(
        () => null,
        (reason: unknown) => reason,
      );
    expect(error).toBe(refused);
    expect(blocks).toBe(1);
  });
});
