// What the benchmark scripts share: the local stack over the seeded PostgreSQL, Worker bundles,
// workerd itself (no dev proxy, no Miniflare), and the service's bindings for that stack.

import { mkdtemp, rm } from "node:fs/promises";
import { builtinModules } from "node:module";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as esbuild from "esbuild";
import { unstable_readConfig } from "wrangler";
import { type NeonHttpServer, startNeonHttpServer } from "../devstack/neon-http-server.ts";
import { LOCAL_S3_CREDENTIALS, LOCAL_S3_REGION, type S3Server, startS3Server } from "../devstack/s3-server.ts";
import { PostgresBackend } from "../devstack/sql-backend.ts";
import { LOCAL_DATABASE_URL } from "../devstack/stack.ts";
import { BENCH_EMAIL, BENCH_PASSWORD, BENCH_PEPPER } from "./seed.ts";
import { type RunningWorker, startWorkerd } from "./workerd.ts";

export const ROOT = new URL("..", import.meta.url).pathname;

export type BenchStack = {
  database: NeonHttpServer;
  /** Absent when started without storage. */
  storage?: S3Server;
  close(): Promise<void>;
};

/**
 * The local Neon endpoint over `databaseUrl` and, unless `storage: false`, s3rver in a temporary
 * folder behind the Signature V4 checking front (the Worker is measured against what it talks to
 * in dev and tests).
 */
export async function startBenchStack(databaseUrl: string, options: { storage?: boolean } = {}): Promise<BenchStack> {
  // Two connections per core, the usual PostgreSQL pool size: with more, ten concurrent requests
  // become ten backends time-sliced on two cores, and the tail latency grows (DESIGN.md).
  const poolSize = Number(process.env.BENCH_PG_POOL ?? 2 * cpus().length);
  const backend = new PostgresBackend(databaseUrl, poolSize);
  const database = await startNeonHttpServer(backend);
  const s3Dir = options.storage === false ? undefined : await mkdtemp(join(tmpdir(), "docvault-bench-s3-"));
  const storage = s3Dir ? await startS3Server({ directory: s3Dir, bucket: "documents" }) : undefined;
  return {
    database,
    storage,
    async close() {
      await database.close();
      await backend.close();
      await storage?.close();
      if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
    },
  };
}

/** The service's bindings for a bench stack. */
export function serviceBindings(stack: BenchStack): Record<string, string> {
  return {
    DATABASE_URL: LOCAL_DATABASE_URL,
    NEON_HTTP_ENDPOINT: stack.database.url,
    S3_ENDPOINT: stack.storage?.endpoint ?? "http://127.0.0.1:9",
    S3_BUCKET: "documents",
    S3_REGION: LOCAL_S3_REGION,
    S3_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    // Bench-only (openssl rand -base64 32): the Worker refuses typed-in secrets.
    JWT_SECRET: "t4mbUX96oAbEAIOoc/W5qQldcNgZGG7cg3rpmgdnT5w=",
    PASSWORD_PEPPER: BENCH_PEPPER,
    WEBHOOK_SECRET_KEY: "Zb4nQ1xW7rT0yU3iO8pA5sD2fG6hJ9kL1zX4cV7bN0m=",
    LOG_LEVEL: "error",
    CORS_ORIGINS: "",
  };
}

// CommonJS dependencies (busboy) `require("stream")`. An ES module Worker has no `require`, so,
// as wrangler does under nodejs_compat, such calls become imports of workerd's `node:` modules.
const NODE_BUILTINS = new Set(builtinModules.filter((name) => !name.startsWith("_")));
const nodeBuiltinRequires: esbuild.Plugin = {
  name: "node-builtin-requires",
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, "");
      if (!NODE_BUILTINS.has(name)) return undefined;
      return args.kind === "require-call"
        ? { path: `node:${name}`, namespace: "node-builtin-require" }
        : { path: `node:${name}`, external: true };
    });
    build.onLoad({ filter: /.*/, namespace: "node-builtin-require" }, (args) => ({
      contents: `import builtin from ${JSON.stringify(args.path)}; module.exports = builtin;`,
      loader: "js",
    }));
  },
};

/** wrangler.toml as wrangler reads it: what the bundles and the workerd configs take from it. */
const wranglerConfig = () => unstable_readConfig({ config: join(ROOT, "wrangler.toml") });

/** wrangler.toml's `minify` and `keep_names` (wrangler's default for keep_names is true). */
export function wranglerMinify(): { minify: boolean; keepNames: boolean } {
  const config = wranglerConfig();
  return { minify: config.minify === true, keepNames: config.keep_names !== false };
}

/**
 * Bundles a Worker entry (a path relative to the repository, or absolute) into `outdir`, as
 * wrangler would: minified when wrangler.toml says so (unless `minify` says otherwise), so the
 * bench and the node tests run the code that deploys.
 */
export async function bundleWorker(
  entry: string,
  outdir: string,
  options: { sourcemap?: boolean; minify?: boolean } = {},
) {
  const outfile = join(outdir, `${entry.replace(/\W/g, "_")}.js`);
  const { minify, keepNames } = wranglerMinify();
  await esbuild.build({
    minify: options.minify ?? minify,
    keepNames,
    entryPoints: [resolve(ROOT, entry)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2024",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["node:*", "cloudflare:*"],
    plugins: [nodeBuiltinRequires],
    outfile,
    sourcemap: options.sourcemap ? "inline" : false,
    logLevel: "error",
  });
  return outfile;
}

/** The compatibility date and flags the service deploys with (wrangler.toml), for the bench's workerd. */
export function wranglerCompatibility(): { compatibilityDate: string; compatibilityFlags: string[] } {
  const config = wranglerConfig();
  if (!config.compatibility_date) throw new Error("wrangler.toml has no compatibility_date");
  return { compatibilityDate: config.compatibility_date, compatibilityFlags: config.compatibility_flags };
}

/** The names of wrangler.toml's Rate Limiting bindings. */
export function wranglerRateLimits(): string[] {
  return wranglerConfig().ratelimits.map((binding: { name: string }) => binding.name);
}

/** Runs a bundled Worker in workerd itself (bench/workerd.ts says why not Miniflare) on a free loopback port. */
export async function startWorker(
  scriptPath: string,
  bindings: Record<string, string>,
  options: { inspectorPort?: number; v8Flags?: string[] } = {},
): Promise<RunningWorker> {
  // wrangler.toml's Rate Limiting bindings, each allowing every request (the service needs them).
  return startWorkerd(scriptPath, bindings, {
    ...wranglerCompatibility(),
    rateLimits: wranglerRateLimits(),
    ...options,
  });
}

/** Logs in as the seeded bench user `n` (or the bench user with that email) and returns the tokens. */
export async function loginBenchUser(apiUrl: string, user: number | string = 500) {
  const res = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: typeof user === "number" ? BENCH_EMAIL(user) : user, password: BENCH_PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`bench login answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { access_token: string; refresh_token: string };
}
