// `npm run bench:profile`: a CPU profile of the service's isolate under load, to see where a
// request's time goes inside the Worker. Same stack as `npm run bench` (seeded PostgreSQL, local
// Neon endpoint, s3rver); the isolate runs with an inspector, and V8's sampling profiler records
// while autocannon drives PROFILE_PATH (default: the document list). Prints the functions with
// the most self time.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import getPort from "get-port";
import { prepareBenchDatabase } from "./database.ts";
import { bundleWorker, loginBenchUser, serviceBindings, startBenchStack, startWorker } from "./harness.ts";

const path = process.env.PROFILE_PATH ?? "/api/v1/documents?limit=20";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

const databaseUrl = await prepareBenchDatabase({ users: 1000, documents: 100_000 }, () => {});
const stack = await startBenchStack(databaseUrl);
const buildDir = await mkdtemp(join(tmpdir(), "docvault-profile-"));
const inspectorPort = await getPort({ host: "127.0.0.1" });
const { mf, url: base } = await startWorker(
  await bundleWorker("src/index.ts", buildDir, { sourcemap: true }),
  serviceBindings(stack),
  { inspectorPort },
);
const { access_token } = await loginBenchUser(base, 500);

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
await stack.close();
await rm(buildDir, { recursive: true, force: true });
