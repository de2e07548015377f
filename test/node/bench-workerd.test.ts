// The benchmark's workerd harness (bench/workerd.ts, bench/harness.ts). `npm run bench` is not
// part of CI (minutes of load on a seeded database), so its moving parts are checked here: the
// generated config delivers bindings, subrequests reach loopback servers directly (no Miniflare
// interceptor adding CF-Worker), the service bundle starts with wrangler.toml's compatibility
// settings, and disposing stops the process.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, startWorker, wranglerCompatibility } from "../../bench/harness.ts";
import { type RunningWorker, startWorkerd, workerdConfig } from "../../bench/workerd.ts";

let dir: string;
let upstream: Server;
let upstreamUrl: string;
const seenHeaders: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "docvault-bench-workerd-"));
  upstream = createServer((req, res) => {
    seenHeaders.push(req.headers);
    res.end("from upstream");
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise((resolve) => upstream.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const probeWorker = `export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/env") return Response.json({ greeting: env.GREETING, tricky: env.TRICKY });
    const res = await fetch(env.UPSTREAM);
    return new Response(await res.text());
  },
};`;

describe("bench workerd harness", () => {
  let worker: RunningWorker;

  beforeAll(async () => {
    const script = join(dir, "probe.js");
    await writeFile(script, probeWorker);
    worker = await startWorkerd(script, {
      GREETING: "hello",
      TRICKY: 'quotes " and back\\slashes',
      UPSTREAM: upstreamUrl,
    });
  });

  afterAll(async () => {
    await worker.dispose();
  });

  it("passes text bindings through the generated config unchanged", async () => {
    const res = await fetch(`${worker.url}/env`);
    expect(await res.json()).toEqual({ greeting: "hello", tricky: 'quotes " and back\\slashes' });
  });

  it("sends subrequests straight to loopback servers, with no interceptor headers", async () => {
    const res = await fetch(`${worker.url}/upstream`);
    expect(await res.text()).toBe("from upstream");
    const headers = seenHeaders.at(-1) ?? {};
    expect(headers["cf-worker"]).toBeUndefined();
  });

  it("reports workerd's CPU time, which grows with the work it does", async () => {
    const before = worker.cpuMs();
    expect(before).toEqual(expect.any(Number));
    // /proc counts in clock ticks (10 ms here): send requests until at least one tick passes.
    const deadline = Date.now() + 10_000;
    while (worker.cpuMs() === before && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 50 }, async () => (await fetch(`${worker.url}/env`)).arrayBuffer()));
    }
    expect(worker.cpuMs()).toBeGreaterThan(before as number);
  });

  it("refuses binding values it cannot write as capnp text", () => {
    expect(() =>
      workerdConfig({
        script: "x.js",
        bindings: { A: "snow ☃" },
        compatibilityDate: "2026-11-01",
        compatibilityFlags: [],
      }),
    ).toThrow(/printable ASCII/);
  });

  it("stops workerd on dispose", async () => {
    const script = join(dir, "short-lived.js");
    await writeFile(script, probeWorker);
    const shortLived = await startWorkerd(script, { UPSTREAM: upstreamUrl });
    await shortLived.dispose();
    expect(() => process.kill(shortLived.pid, 0)).toThrow();
  });
});

describe("bench harness with the service bundle", () => {
  it("reads wrangler.toml's compatibility settings", () => {
    expect(wranglerCompatibility()).toEqual({
      compatibilityDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      compatibilityFlags: expect.arrayContaining(["nodejs_compat"]),
    });
  });

  it("bundles the service and serves /health/live from workerd", async () => {
    const script = await bundleWorker("src/index.ts", dir);
    const service = await startWorker(script, {
      DATABASE_URL: "postgresql://u:p@db.invalid:5432/x",
      S3_ENDPOINT: "http://127.0.0.1:9",
      S3_BUCKET: "documents",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "secret",
      // Test-only (openssl rand -base64 32): the Worker refuses typed-in secrets.
      JWT_SECRET: "b24eTTFil0lmUVztN1afPumdRgUgzBR+UprAOQggz1s=",
      PASSWORD_PEPPER: "aTjMob1aMT5rmiWIgvr4Wzr6PbRy2CosPRL+x/d4KP5=",
      WEBHOOK_SECRET_KEY: "Hx7Kq2Lm9Np4Rs1Tv6Wy3Za8Bc5De0Fg2Hj7Km4Np9Q=",
      LOG_LEVEL: "error",
    });
    try {
      const res = await fetch(`${service.url}/health/live`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok" });
    } finally {
      await service.dispose();
    }
  });
});
