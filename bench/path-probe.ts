// `npm run bench:path`: where a request's time goes on this machine. The same harness as
// `npm run bench` (workerd via Miniflare, the local Neon endpoint over PostgreSQL), with routes
// that do one thing each: nothing ("/"), verify a JWT ("/jwt"), one raw fetch of `select 1` to the
// local Neon endpoint ("/fetch"), and the same through Neon's driver ("/neon").
import autocannon from "autocannon";
import * as esbuild from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { startNeonHttpServer } from "../devstack/neon-http-server.ts";
import { PostgresBackend } from "../devstack/sql-backend.ts";
import { benchDatabaseUrl } from "./database.ts";

const backend = new PostgresBackend(benchDatabaseUrl(), 20);
const server = await startNeonHttpServer(backend);
await esbuild.build({
  entryPoints: ["bench/path-probe-worker.ts"],
  bundle: true,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["node:*", "cloudflare:*"],
  outfile: "/tmp/docvault-path-probe.js",
  logLevel: "error",
});
const mf = new Miniflare(
  convertV4MiniflareOptions({
    modules: [{ type: "ESModule", path: "/tmp/docvault-path-probe.js" }],
    modulesRoot: "/tmp",
    compatibilityDate: "2026-11-01",
    compatibilityFlags: ["nodejs_compat"],
    bindings: { NEON: server.url },
    host: "127.0.0.1",
    port: 0,
  }),
);
const base = (await mf.ready).toString().replace(/\/$/, "");
for (const path of ["/", "/jwt", "/fetch", "/neon"]) {
  const r = await autocannon({ url: base + path, connections: 10, duration: 4 });
  console.log(
    `${path.padEnd(8)} ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, non-2xx ${r.non2xx}`,
  );
}
await mf.dispose();
await server.close();
await backend.close();
