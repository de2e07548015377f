// `npm run bench:path`: where a request's time goes on this machine. The same harness as
// `npm run bench` (workerd itself, the local Neon endpoint over PostgreSQL), with routes
// that do one thing each: nothing ("/"), verify a JWT ("/jwt"), one raw fetch of `select 1` to the
// local Neon endpoint ("/fetch"), and the same through Neon's driver ("/neon").
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { benchDatabaseUrl, benchSize } from "./database.ts";
import { bundleWorker, startBenchStack, startWorker } from "./harness.ts";

const stack = await startBenchStack(benchDatabaseUrl(benchSize()), { storage: false });
const buildDir = await mkdtemp(join(tmpdir(), "docvault-path-probe-"));
const worker = await startWorker(await bundleWorker("bench/path-probe-worker.ts", buildDir), {
  NEON: stack.database.url,
});
const base = worker.url;
for (const path of ["/", "/jwt", "/fetch", "/neon"]) {
  const r = await autocannon({ url: base + path, connections: 10, duration: 4 });
  console.log(
    `${path.padEnd(8)} ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, non-2xx ${r.non2xx}`,
  );
}
await worker.dispose();
await stack.close();
await rm(buildDir, { recursive: true, force: true });
