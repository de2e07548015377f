// `npm run dev`: the whole API on an embedded local stack, with no configuration.
//   1. the database: PGlite persisted in .local/pglite (or DEV_POSTGRES_URL's PostgreSQL),
//      migrated, behind a local Neon HTTP endpoint on a free port;
//   2. s3rver persisted in .local/s3 with the bucket created, behind a front that verifies
//      Signature V4 (devstack/s3-front.ts), on a free port;
//   3. `wrangler dev` on 127.0.0.1:$PORT (default 8787), wired to both through an env file.
// DEV_POSTGRES_URL, PORT and DEV_DATA_DIR (default .local/) are the knobs of the stack, all
// optional. Values in .dev.vars override the generated ones, and any configuration variable set
// in this command's environment overrides both. Ctrl-C stops everything; data survives.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalStack } from "./stack.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
// DEV_DATA_DIR moves the persisted data (the dev command's own test uses a temporary folder).
const dataDir = process.env.DEV_DATA_DIR || join(root, ".local");
const port = Number(process.env.PORT ?? 8787);
const log = (line: string) => console.log(`[dev] ${line}`);

await mkdir(join(dataDir, "s3"), { recursive: true });
log(`starting the local stack (data in ${dataDir})`);
const stack = await startLocalStack({
  pgliteDir: join(dataDir, "pglite"),
  postgresUrl: process.env.DEV_POSTGRES_URL || undefined,
  s3Directory: join(dataDir, "s3"),
  log,
});
log(`database endpoint ${stack.database.url}`);

// Local secrets: random on first run, kept in the data folder so tokens survive a restart.
const secretsFile = join(dataDir, "secrets.json");
// A secret added by a later version is generated into an existing file.
const random = () => randomBytes(32).toString("base64url");
const secrets = (existsSync(secretsFile) ? JSON.parse(await readFile(secretsFile, "utf8")) : {}) as Record<
  string,
  string
>;
const missing = ["JWT_SECRET", "PASSWORD_PEPPER", "WEBHOOK_SECRET_KEY"].filter((name) => !secrets[name]);
for (const name of missing) secrets[name] = random();
if (missing.length > 0) await writeFile(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
// A person points a webhook at a receiver on this machine (.dev.vars or the environment may say otherwise).
secrets.WEBHOOK_ALLOW_PRIVATE_URLS = "true";

// Written as an env file rather than --var flags, so wrangler treats the values as secrets and
// does not print them.
const stackVars = join(dataDir, "stack.vars");
await writeFile(
  stackVars,
  `${Object.entries({ ...stack.bindings, ...secrets })
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join("\n")}\n`,
);
// Configuration set in this command's environment (`STORAGE_QUOTA_BYTES=2000000 npm run dev`)
// reaches the Worker too, over the generated values and .dev.vars: the variables are those
// .dev.vars.example lists (every one the Worker reads; a test keeps the two in step).
const configNames = (await readFile(join(root, ".dev.vars.example"), "utf8"))
  .split("\n")
  .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
  .filter((name): name is string => name !== undefined);
const fromEnvironment = configNames.filter((name) => process.env[name] !== undefined);
const environmentVars = join(dataDir, "environment.vars");
await writeFile(
  environmentVars,
  fromEnvironment.map((name) => `${name}=${JSON.stringify(process.env[name])}\n`).join(""),
  { mode: 0o600 },
);
if (fromEnvironment.length > 0) log(`from the environment: ${fromEnvironment.join(", ")}`);
const envFiles = [
  stackVars,
  ...(existsSync(join(root, ".dev.vars")) ? [join(root, ".dev.vars")] : []),
  environmentVars,
];

log(`starting wrangler dev on http://127.0.0.1:${port}`);
const wrangler = spawn(
  "wrangler",
  [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--show-interactive-dev-session=false",
    // GET /__scheduled runs the scheduled job now (the content backfill, the sweeps) instead of hourly.
    "--test-scheduled",
    ...envFiles.flatMap((file) => ["--env-file", file]),
  ],
  { cwd: root, stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
);
log(`API: http://127.0.0.1:${port}  docs: http://127.0.0.1:${port}/docs  health: http://127.0.0.1:${port}/health`);

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  log("stopping");
  if (wrangler.exitCode === null) {
    const exited = new Promise((resolve) => wrangler.once("exit", resolve));
    wrangler.kill("SIGTERM");
    await exited;
  }
  await stack.close();
  process.exit(code);
}

process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
wrangler.on("exit", (code) => void stop(code ?? 0));
