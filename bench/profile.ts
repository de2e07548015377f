// `npm run bench:profile`: a CPU profile of the service's isolate under load, to see where a
// request's time goes inside the Worker. Same stack as `npm run bench` (seeded PostgreSQL, local
// Neon endpoint, s3rver); the isolate runs with an inspector, and V8's sampling profiler records
// while autocannon drives PROFILE_PATH (default: the document list; `{document}` in it is one of
// the typical caller's own documents). Prints self time by package and the functions with
// the most self time, and the inclusive time of the service's own functions.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import getPort from "get-port";
import pg from "pg";
import { pickCallers } from "./callers.ts";
import { benchSize, prepareBenchDatabase } from "./database.ts";
import { bundleWorker, loginBenchUser, serviceBindings, startBenchStack, startWorker } from "./harness.ts";
import { MODULE_NAME } from "./workerd.ts";

const profilePath = process.env.PROFILE_PATH ?? "/api/v1/documents?limit=20";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

const size = benchSize();
const databaseUrl = await prepareBenchDatabase(size, () => {});
const stack = await startBenchStack(databaseUrl);
const buildDir = await mkdtemp(join(tmpdir(), "docvault-profile-"));
const inspectorPort = await getPort({ host: "127.0.0.1" });
const bundle = await bundleWorker("src/index.ts", buildDir, { sourcemap: true });
const worker = await startWorker(bundle, serviceBindings(stack), { inspectorPort });
const base = worker.url;
// The bench's typical caller (bench/callers.ts), whatever the data set's size.
const client = new pg.Client({ connectionString: databaseUrl });
await client.connect();
const { typical } = await pickCallers(client, size).finally(() => client.end());
const { access_token } = await loginBenchUser(base, typical.email);
// `{document}` in PROFILE_PATH stands for one of the bench user's own documents.
const mine = await fetch(`${base}/api/v1/documents?owner=me&limit=1`, {
  headers: { authorization: `Bearer ${access_token}` },
});
const documentId = ((await mine.json()) as { items: { id: string }[] }).items[0]?.id ?? "none";
const path = profilePath.replace("{document}", documentId);

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

// Warm-up first: the profile should show the optimised code, not V8 compiling it.
await autocannon({
  url: `${base}${path}`,
  connections: 10,
  duration: 3,
  headers: { authorization: `Bearer ${access_token}` },
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
    nodes: {
      id: number;
      callFrame: { functionName: string; url: string; lineNumber: number };
      children?: number[];
    }[];
    samples: number[];
  };
};
if (process.env.PROFILE_SAVE) await writeFile(process.env.PROFILE_SAVE, JSON.stringify(profile));
console.log(`${path}: ${Math.round(run.requests.average)} req/s, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms`);

const self = new Map<number, number>();
for (const sample of profile.samples) self.set(sample, (self.get(sample) ?? 0) + 1);
const total = profile.samples.length;
const byFunction = new Map<string, number>();
const byModule = new Map<string, number>();
const moduleAt = await moduleIndex(bundle);
for (const node of profile.nodes) {
  const count = self.get(node.id) ?? 0;
  if (!count) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || "(anonymous)"} ${url.split("/").pop()}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + count);
  // Frames outside the bundle are workerd's own (fetch, Response, URL, GC, idle, …).
  const module = url.endsWith(MODULE_NAME) ? moduleAt(lineNumber + 1) : `runtime: ${functionName || "(native)"}`;
  byModule.set(module, (byModule.get(module) ?? 0) + count);
}
const top = (map: Map<string, number>, n: number) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, count]) => `${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join("\n");
console.log(`\nself time by package or source folder (${total} samples):\n${top(groupByPackage(byModule), 20)}`);
console.log(`\nself time by function:\n${top(byFunction, Number(process.env.PROFILE_TOP ?? 25))}`);

// Inclusive time of the service's own functions (src/…): the share of samples with the function
// anywhere on the stack, counted once per sample however deep it recurses. Says which of our steps
// (a middleware, a store call, a view) costs what with everything it calls.
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
const inclusive = new Map<string, number>();
for (const [leaf, count] of self) {
  const seen = new Set<string>();
  for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
    const node = nodeById.get(id);
    if (!node?.callFrame.url.endsWith(MODULE_NAME)) continue;
    const module = moduleAt(node.callFrame.lineNumber + 1);
    if (!module.startsWith("src/")) continue;
    const key = `${node.callFrame.functionName || "(anonymous)"} ${module}:${node.callFrame.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + count);
  }
}
console.log(
  `\ninclusive time of the service's functions (bundle lines):\n${top(inclusive, Number(process.env.PROFILE_TOP ?? 25))}`,
);

/** Maps a line of the unminified bundle to the module esbuild placed there (its `// path` markers). */
async function moduleIndex(file: string) {
  const lines = (await readFile(file, "utf8")).split("\n");
  const starts: { line: number; module: string }[] = [];
  lines.forEach((text, i) => {
    const m = /^\/\/ ((?:node_modules|src|bench)\/\S+)$/.exec(text);
    if (m?.[1]) starts.push({ line: i + 1, module: m[1] });
  });
  return (line: number) => {
    let found = "(bundle)";
    for (const s of starts) {
      if (s.line > line) break;
      found = s.module;
    }
    return found;
  };
}

/** node_modules/<package>/… → <package>; src/<folder>/… → src/<folder>; runtime frames as they are. */
function groupByPackage(byModule: Map<string, number>) {
  const grouped = new Map<string, number>();
  for (const [module, count] of byModule) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module) ?? /^(src\/[^/]+|bench)/.exec(module);
    const key = m?.[1] ?? module;
    grouped.set(key, (grouped.get(key) ?? 0) + count);
  }
  return grouped;
}

ws.close();
await worker.dispose();
await stack.close();
await rm(buildDir, { recursive: true, force: true });
