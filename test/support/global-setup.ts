// Starts the stack the Worker under test talks to: an in-memory PGlite (or, when
// DEV_POSTGRES_URL is set, a fresh database created on that PostgreSQL server) behind the local
// Neon HTTP endpoint, and s3rver in a temporary folder behind the front that verifies Signature V4
// (devstack/s3-front.ts), so a request the Worker signs wrongly fails here as on S3 and R2.
// Their addresses reach the Worker as bindings.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startLocalStack } from "../../devstack/stack.ts";
import { createScratchDatabase } from "./scratch-database.ts";

/** Listens on a free loopback port; `close` drops open connections (`dropConnections`) first. */
async function onLoopback(
  server: NetServer,
  dropConnections: () => void,
): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        dropConnections();
        server.close(() => resolve());
      }),
  };
}

/** A server that accepts connections and never answers: a dependency that hangs. */
async function startBlackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  });
  return onLoopback(server, () => {
    for (const socket of sockets) socket.destroy();
  });
}

/**
 * A proxy in front of the local Neon endpoint that forwards every statement at once but holds
 * back the answer to writes: `{url}/delay/{ms}/sql` answers a request whose SQL inserts only
 * `ms` after the database executed (and committed) it. A client with a shorter deadline sees
 * a failure although the write happened, as a real network can arrange.
 */
async function startSlowWriteProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer(async (req, res) => {
    try {
      const match = /^\/delay\/(\d+)\/sql/.exec(req.url ?? "");
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string" && !["host", "content-length", "connection"].includes(name)) {
          headers.set(name, value);
        }
      }
      const answer = await fetch(target, {
        method: req.method,
        headers,
        body: req.method === "POST" ? body : undefined,
      });
      const text = await answer.text();
      if (match && /\binsert\s+into\b/i.test(body.toString("utf8"))) {
        await new Promise((resolve) => setTimeout(resolve, Number(match[1])));
      }
      res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
      res.end(text);
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  });
  return onLoopback(server, () => server.closeAllConnections());
}

/**
 * A proxy in front of the object store that breaks S3 multipart uploads half-way: it forwards
 * every request unchanged (Host included, so signatures still verify), except UploadPart of part
 * 2 or later, which it answers with a 500 InternalError (`mode: "error"`) or cuts by dropping the
 * connection while the part is still arriving (`mode: "drop"`). Storage failing in the middle of
 * a streamed upload, as a real network or an overloaded store can arrange.
 */
async function startFailingPartsProxy(
  target: string,
  mode: "error" | "drop",
): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const server = createHttpServer((req, res) => {
    const query = new URL(req.url ?? "/", "http://local").searchParams;
    const part = Number(query.get("partNumber") ?? 0);
    if (req.method === "PUT" && query.has("uploadId") && part >= 2) {
      if (mode === "drop") {
        req.once("data", () => req.socket.destroy());
        return;
      }
      req.resume();
      req.on("end", () => {
        res.writeHead(500, { "content-type": "application/xml" });
        res.end("<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>");
      });
      return;
    }
    const forward = httpRequest(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  return onLoopback(server, () => server.closeAllConnections());
}

/**
 * A webhook receiver: records every request (method, path, headers, body) and answers by the
 * path's first segment: `/ok/…` 200, `/fail/…` 500, `/gone/…` 410, `/redirect/…` 302 to `/ok/…`,
 * `/slow/…` after 12 s (past the 10 s attempt timeout), `/flaky/{n}/…` 500 to the first n requests
 * of that path, then 200. `GET /__log/{key}` answers the requests whose path ends with `/{key}`.
 */
async function startWebhookReceiver(): Promise<{ url: string; close(): Promise<void> }> {
  type Recorded = { method: string; path: string; headers: Record<string, string>; body: string; at: number };
  const recorded: Recorded[] = [];
  const server = createHttpServer(async (req, res) => {
    const path = req.url ?? "/";
    if (req.method === "GET" && path.startsWith("/__log/")) {
      const key = path.slice("/__log/".length);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(recorded.filter((r) => r.path.endsWith(`/${key}`))));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
    recorded.push({
      method: req.method ?? "",
      path,
      headers,
      body: Buffer.concat(chunks).toString("utf8"),
      at: Date.now(),
    });
    const [, mode, arg] = path.split("/");
    const seen = recorded.filter((r) => r.path === path).length;
    const answer = (status: number, extra: Record<string, string> = {}) => {
      if (res.destroyed) return;
      res.writeHead(status, extra);
      res.end();
    };
    if (mode === "fail") answer(500);
    else if (mode === "gone") answer(410);
    else if (mode === "redirect") answer(302, { location: path.replace("/redirect/", "/ok/") });
    else if (mode === "slow") setTimeout(() => answer(200), 12_000);
    else if (mode === "flaky") answer(seen <= Number(arg) ? 500 : 200);
    else answer(200);
  });
  return onLoopback(server, () => server.closeAllConnections());
}

export default async function setup(project: TestProject) {
  const s3Directory = await mkdtemp(join(tmpdir(), "docvault-s3-"));
  const serverUrl = process.env.DEV_POSTGRES_URL;
  const scratch = serverUrl ? await createScratchDatabase(serverUrl) : undefined;
  const stack = await startLocalStack({ postgresUrl: scratch?.url, s3Directory });
  project.provide("stackBindings", stack.bindings);
  project.provide("databaseEngine", stack.backend.name);
  const blackHole = await startBlackHole();
  project.provide("blackHole", blackHole.url);
  const slowWrites = await startSlowWriteProxy(stack.database.url);
  project.provide("slowWrites", slowWrites.url);
  const failingParts = await startFailingPartsProxy(stack.bindings.S3_ENDPOINT as string, "error");
  project.provide("failingParts", failingParts.url);
  const droppedParts = await startFailingPartsProxy(stack.bindings.S3_ENDPOINT as string, "drop");
  project.provide("droppedParts", droppedParts.url);
  const receiver = await startWebhookReceiver();
  project.provide("webhookReceiver", receiver.url);
  return async () => {
    await receiver.close();
    await droppedParts.close();
    await failingParts.close();
    await slowWrites.close();
    await blackHole.close();
    await stack.close();
    await scratch?.drop();
    await rm(s3Directory, { recursive: true, force: true });
  };
}
