// `npm run bench:profile`: a CPU profile of the service's isolate under load, to see where a
// request's time goes inside the Worker. Same stack as `npm run bench` (seeded PostgreSQL, local
// Neon endpoint, s3rver); the isolate runs with an inspector, and V8's sampling profiler records
// while autocannon drives PROFILE_PATH (default: the document list). Prints the functions with
// the most self time.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import * as esbuild from "esbuild";
import getPort from "get-port";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { startNeonHttpServer } from "../devstack/neon-http-server.ts";
import { LOCAL_S3_CREDENTIALS, startS3Server } from "../devstack/s3-server.ts";
import { PostgresBackend } from "../devstack/sql-backend.ts";
import { LOCAL_DATABASE_URL } from "../devstack/stack.ts";
import { prepareBenchDatabase } from "./database.ts";
import { BENCH_EMAIL, BENCH_PASSWORD, BENCH_PEPPER } from "./seed.ts";

const root = new URL("..", import.meta.url).pathname;
const path = process.env.PROFILE_PATH ?? "/api/v1/documents?limit=20";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

const databaseUrl = await prepareBenchDatabase({ users: 1000, documents: 100_000 }, () => {});
const backend = new PostgresBackend(databaseUrl, 20);
const database = await startNeonHttpServer(backend);
const s3Dir = await mkdtemp(join(tmpdir(), "docvault-profile-s3-"));
const storage = await startS3Server({ directory: s3Dir, bucket: "documents" });
const outfile = join(await mkdtemp(join(tmpdir(), "docvault-profile-")), "worker.js");
await esbuild.build({
  entryPoints: [join(root, "src/index.ts")],
  bundle: true,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["node:*", "cloudflare:*"],
  outfile,
  sourcemap: "inline",
  logLevel: "error",
});
const inspectorPort = await getPort({ host: "127.0.0.1" });
const mf = new Miniflare(
  convertV4MiniflareOptions({
    modules: [{ type: "ESModule", path: outfile }],
    modulesRoot: join(outfile, ".."),
    compatibilityDate: "2026-11-01",
    compatibilityFlags: ["nodejs_compat"],
    bindings: {
      DATABASE_URL: LOCAL_DATABASE_URL,
      NEON_HTTP_ENDPOINT: database.url,
      S3_ENDPOINT: storage.endpoint,
      S3_BUCKET: "documents",
      S3_REGION: "us-east-1",
      S3_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      JWT_SECRET: "bench-jwt-secret-0123456789abcdef0123456789",
      PASSWORD_PEPPER: BENCH_PEPPER,
      LOG_LEVEL: "error",
    },
    host: "127.0.0.1",
    port: 0,
    inspectorPort,
  }),
);
const base = (await mf.ready).toString().replace(/\/$/, "");
const login = await fetch(`${base}/api/v1/auth/login`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email: BENCH_EMAIL(500), password: BENCH_PASSWORD }),
});
const { access_token } = (await login.json()) as { access_token: string };

// Chrome DevTools Protocol over the isolate's inspector.
const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as {
  webSocketDebuggerUrl: string;
  title?: string;
}[];
const target = targets.find((t) => !String(t.title).includes("internal")) ?? targets[0];
const ws = new WebSocket(target?.webSocketDebuggerUrl as string);
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = reject;
});
let id = 0;
const pending = new Map<number, (value: unknown) => void>();
ws.onmessage = (event) => {
  const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
  if (message.id !== undefined) pending.get(message.id)?.(message.result);
};
const send = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve) => {
    pending.set(++id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });

await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 200 });
await send("Profiler.start");
const run = await autocannon({
  url: `${base}${path}`,
  connections: 10,
  duration: seconds,
  headers: { authorization: `Bearer ${access_token}` },
});
const { profile } = (await send("Profiler.stop")) as {
  profile: {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
  };
};
console.log(`${path}: ${Math.round(run.requests.average)} req/s, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms`);

const self = new Map<number, number>();
for (const sample of profile.samples) self.set(sample, (self.get(sample) ?? 0) + 1);
const byFunction = new Map<string, number>();
for (const node of profile.nodes) {
  const count = self.get(node.id) ?? 0;
  if (!count) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || "(anonymous)"} ${url.split("/").pop()}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + count);
}
const total = profile.samples.length;
console.log(`\nself time by function (${total} samples):`);
for (const [name, count] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`);
}

ws.close();
await mf.dispose();
await database.close();
await backend.close();
await storage.close();
await rm(s3Dir, { recursive: true, force: true });
