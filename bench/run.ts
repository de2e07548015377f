// `npm run bench`: the service in workerd (started from a generated config: no dev proxy, no
// Miniflare workers in the path) on the local stack with a real PostgreSQL (DEV_POSTGRES_URL,
// default this machine's server) and s3rver, a seeded data set (1,000 users, 100,000 documents
// with versions, tags and shares), and autocannon driving load from a worker thread. For each
// scenario, after a short warm-up: requests/s, p50/p99 latency, ratio to a bare Hono route in the
// same harness, and database round trips per request (counted by the local Neon endpoint).
// Writes bench/results.json and bench/results.md (bench/results.partial.* for a BENCH_ONLY run)
// and checks the budgets of the benchmark issue.
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import autocannon from "autocannon";
import pg from "pg";
import { prepareBenchDatabase } from "./database.ts";
import { bundleWorker, loginBenchUser, ROOT, serviceBindings, startBenchStack, startWorker } from "./harness.ts";
import { BENCH_EMAIL, BENCH_PASSWORD } from "./seed.ts";
import { measureUploadMemory, uploadMemoryTable } from "./upload-memory.ts";
import type { RunningWorker } from "./workerd.ts";

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const size = { users: Number(process.env.USERS ?? 1000), documents: Number(process.env.DOCS ?? 100_000) };

const log = (line: string) => console.log(`[bench] ${line}`);

// ---------------------------------------------------------------- upload memory
// workerd's peak memory growth per API upload (bench/upload-memory.ts): its own stack (PGlite,
// s3rver), no seeded data. BENCH_ONLY=memory runs just this scenario and writes its figures into
// bench/results.json under `uploadMemory`, leaving the other results there as they were.
const UPLOAD_MEMORY = "upload memory";
const onlyWords = process.env.BENCH_ONLY?.split(",").filter(Boolean);
if (onlyWords?.every((word) => UPLOAD_MEMORY.includes(word))) {
  const uploadMemory = await measureUploadMemory(log);
  const path = join(ROOT, "bench/results.json");
  const previous = JSON.parse(await readFile(path, "utf8").catch(() => "{}")) as Record<string, unknown>;
  await writeFile(path, `${JSON.stringify({ ...previous, uploadMemory }, null, 2)}\n`);
  console.log(`\n${uploadMemoryTable(uploadMemory)}\n\n[bench] written bench/results.json (uploadMemory)`);
  process.exit(0);
}

// ---------------------------------------------------------------- stack and data
log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, node ${process.version}`);
const databaseUrl = await prepareBenchDatabase(size, (l) => log(l.trim()));
const stack = await startBenchStack(databaseUrl);
const database = stack.database;
log(`stack: PostgreSQL behind ${database.url}, s3rver at ${stack.storage?.endpoint}`);

const buildDir = await mkdtemp(join(tmpdir(), "docvault-bench-build-"));
const api = await startWorker(await bundleWorker("src/index.ts", buildDir), {
  ...serviceBindings(stack),
  // The bench logs in far more often than a person could; keep throttling out of the numbers.
  LOGIN_MAX_FAILURES_PER_ADDRESS: "100000",
});
const ceiling = await startWorker(await bundleWorker("bench/ceiling-worker.ts", buildDir), {});
log(`workers: api ${api.url}, ceiling ${ceiling.url}`);
const probe = await fetch(`${api.url}/health`);
if (probe.status !== 200) throw new Error(`the service is not healthy: ${probe.status} ${await probe.text()}`);

const sqlClient = new pg.Client({ connectionString: databaseUrl });
await sqlClient.connect();
const email = BENCH_EMAIL(500);
const tokens = await loginBenchUser(api.url, 500);
const auth = { authorization: `Bearer ${tokens.access_token}` };
const userId = (await sqlClient.query("select id from users where email = $1", [email])).rows[0]?.id as string;
const docId = (await sqlClient.query("select id from documents where owner_id = $1 limit 1", [userId])).rows[0]
  ?.id as string;

// Refresh tokens are single use: mint enough straight into the database (same hashing as the service).
async function mintRefreshTokens(count: number): Promise<string[]> {
  const { createHash, randomBytes, randomUUID } = await import("node:crypto");
  const minted = Array.from({ length: count }, () => randomBytes(32).toString("base64url"));
  const chain = randomUUID();
  await sqlClient.query(
    `insert into refresh_tokens (user_id, chain_id, token_hash, expires_at)
     select $1, $2, decode(h, 'hex'), now() + interval '1 day' from unnest($3::text[]) h`,
    [userId, chain, minted.map((t) => createHash("sha256").update(t).digest("hex"))],
  );
  return minted;
}

// A string body: autocannon's worker thread receives options by structured clone, which turns a
// Buffer into a plain Uint8Array that it refuses. The file is ASCII, so the string is its bytes.
function multipartBody(name: string, content: string) {
  const boundary = "----docvaultbench";
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/pdf\r\n\r\n${content}\r\n--${boundary}--\r\n`;
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
const pdf = `%PDF-1.7\n${"A".repeat(100 * 1024 - 9)}`;
const upload = multipartBody("bench.pdf", pdf);

// ---------------------------------------------------------------- scenarios
type Scenario = {
  name: string;
  worker: RunningWorker;
  options: Partial<autocannon.Options> & { path?: string };
  /** The body of the sequential probe requests, when the load's body is made per request. */
  probeBody?: () => string;
  /** Runs before each load (warm-up and measured), e.g. to hand out fresh single-use tokens. */
  beforeLoad?: () => Promise<void>;
  seconds?: number;
  connections?: number;
  budget?: { maxRoundTrips?: number; minRps?: number; maxP99?: number };
};

// Fresh tokens for every load (handed to autocannon's thread through a file) and another chain for
// the probe: presenting a spent token would revoke its whole chain.
const refreshTokensFile = join(buildDir, "refresh-tokens.json");
process.env.BENCH_REFRESH_TOKENS = refreshTokensFile;
const probeRefreshTokens = await mintRefreshTokens(10);
const allScenarios: Scenario[] = [
  { name: "bare Hono route (ceiling)", worker: ceiling, options: { path: "/" } },
  { name: "GET /health/live", worker: api, options: { path: "/health/live" } },
  {
    name: "get document",
    worker: api,
    options: { path: `/api/v1/documents/${docId}`, headers: auth },
    budget: { maxRoundTrips: 1, minRps: 1000 },
  },
  {
    name: "list documents",
    worker: api,
    options: { path: "/api/v1/documents?limit=20", headers: auth },
    budget: { maxRoundTrips: 1, maxP99: 50 },
  },
  {
    name: "search (q=budget)",
    worker: api,
    options: { path: "/api/v1/documents?q=budget%20report", headers: auth },
    budget: { maxRoundTrips: 1, maxP99: 50 },
  },
  {
    name: "content search (q=warranty renewal)",
    worker: api,
    options: { path: "/api/v1/documents?q=warranty%20renewal", headers: auth },
    budget: { maxRoundTrips: 1, maxP99: 50 },
  },
  {
    name: "download (presign)",
    worker: api,
    options: { path: `/api/v1/documents/${docId}/download`, headers: auth },
    budget: { maxRoundTrips: 1 },
  },
  {
    name: "login (scrypt)",
    worker: api,
    options: {
      path: "/api/v1/auth/login",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: BENCH_PASSWORD }),
    },
    connections: 4,
    budget: { maxRoundTrips: 2 },
  },
  {
    name: "refresh",
    worker: api,
    options: {
      path: "/api/v1/auth/refresh",
      method: "POST",
      headers: { "content-type": "application/json" },
      requests: [{ setupRequest: join(ROOT, "bench/refresh-request.cjs") as never }],
    },
    probeBody: () => JSON.stringify({ refresh_token: probeRefreshTokens.pop() ?? "spent" }),
    beforeLoad: async () => writeFile(refreshTokensFile, JSON.stringify(await mintRefreshTokens(30_000))),
    budget: { maxRoundTrips: 2 },
  },
  {
    name: "upload 100 KiB",
    worker: api,
    options: {
      path: "/api/v1/documents",
      method: "POST",
      headers: { ...auth, "content-type": upload.contentType },
      body: upload.body,
    },
    budget: { maxRoundTrips: 2 },
  },
  {
    name: "upload-version 100 KiB",
    worker: api,
    options: {
      path: `/api/v1/documents/${docId}/upload-version`,
      method: "POST",
      headers: { ...auth, "content-type": upload.contentType },
      body: upload.body,
    },
    budget: { maxRoundTrips: 2 },
  },
];

// BENCH_ONLY=get,list runs the scenarios whose names contain one of these words (and the ceiling).
const only = process.env.BENCH_ONLY?.split(",").filter(Boolean);
const scenarios = only
  ? allScenarios.filter((s, i) => i === 0 || only.some((word) => s.name.includes(word)))
  : allScenarios;

type Result = {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  roundTrips: number;
  /** workerd's CPU time per request during the measured load (all its threads). */
  workerCpuMs: number | null;
  ratio: number;
  budget: string;
};
const results: Result[] = [];
let ceilingRps = 0;

for (const scenario of scenarios) {
  const seconds = scenario.seconds ?? DURATION;
  const connections = scenario.connections ?? CONNECTIONS;
  process.stdout.write(`[bench] ${scenario.name}: ${connections} connections for ${seconds} s … `);
  const { path = "/", ...options } = scenario.options;
  const url = `${scenario.worker.url}${path}`;
  // autocannon runs in a worker thread: on the main thread its timing would wait behind the local
  // database endpoint, which shares this process. A short unmeasured load first lets V8 optimise
  // the Worker's code (the first seconds of a fresh isolate run interpreted code).
  const load = async (duration: number) => {
    await scenario.beforeLoad?.();
    return autocannon({ url, connections, duration, workers: 1, ...options });
  };
  if (WARMUP > 0) await load(WARMUP);
  const cpuBefore = scenario.worker.cpuMs();
  const run = await load(seconds);
  const cpuAfter = scenario.worker.cpuMs();
  const completed = run.requests.total;
  // Round trips per request from a quiet, sequential probe: under load, requests still in flight
  // when autocannon stops would be counted by the database but not by autocannon.
  for (let last = -1; last !== database.roundTrips(); ) {
    last = database.roundTrips();
    await new Promise((r) => setTimeout(r, 1000));
  }
  const PROBES = 5;
  const before = database.roundTrips();
  for (let i = 0; i < PROBES; i++) {
    const body = scenario.probeBody ? scenario.probeBody() : (options.body as string | Buffer | undefined);
    const res = await fetch(url, {
      method: options.method ?? "GET",
      headers: options.headers as Record<string, string>,
      body,
    });
    await res.arrayBuffer();
  }
  const trips = (database.roundTrips() - before) * (completed / PROBES);
  const result: Result = {
    name: scenario.name,
    rps: Math.round(run.requests.average),
    p50: run.latency.p50,
    p99: run.latency.p99,
    requests: completed,
    non2xx: run.non2xx,
    errors: run.errors,
    roundTrips: completed ? Number((trips / completed).toFixed(2)) : 0,
    workerCpuMs:
      cpuBefore !== undefined && cpuAfter !== undefined && completed
        ? Number(((cpuAfter - cpuBefore) / completed).toFixed(3))
        : null,
    ratio: 0,
    budget: "",
  };
  if (scenario.worker === ceiling) ceilingRps = result.rps;
  result.ratio = ceilingRps ? Number((result.rps / ceilingRps).toFixed(3)) : 0;
  const misses: string[] = [];
  const b = scenario.budget;
  if (b?.maxRoundTrips !== undefined && result.roundTrips > b.maxRoundTrips)
    misses.push(`round trips ${result.roundTrips} > ${b.maxRoundTrips}`);
  if (b?.minRps !== undefined && result.rps < b.minRps) misses.push(`${result.rps} req/s < ${b.minRps}`);
  if (b?.maxP99 !== undefined && result.p99 > b.maxP99) misses.push(`p99 ${result.p99} ms > ${b.maxP99}`);
  if (result.non2xx > 0 || result.errors > 0) misses.push(`${result.non2xx} non-2xx, ${result.errors} errors`);
  result.budget = b ? (misses.length ? `MISSED: ${misses.join("; ")}` : "met") : misses.join("; ");
  results.push(result);
  console.log(
    `${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.roundTrips} round trips/request, workerd ${result.workerCpuMs ?? "?"} ms CPU/request ${result.budget ? `(${result.budget})` : ""}`,
  );
}

// ---------------------------------------------------------------- indexing throughput
// Documents per second through the content queue's consumer (src/content/consume.ts), run in its
// own workerd: per format, INDEX_DOCS fresh uploads, then batches of 4 (wrangler.toml's
// max_batch_size), two batches at a time (two consumer invocations on two cores).
const INDEX_DOCS = Number(process.env.BENCH_INDEX_DOCS ?? 100);
type Throughput = { format: string; documents: number; seconds: number; perSecond: number; acked: number };
const throughput: Throughput[] = [];
if (!only || only.some((word) => "indexing".includes(word))) {
  const consumer = await startWorker(
    await bundleWorker("bench/content-consumer-worker.ts", buildDir),
    serviceBindings(stack),
  );
  const { docxWithText } = await import("../test/support/office.ts");
  const { textPdf } = await import("../test/support/pdf.ts");
  const prose = (n: number) =>
    Array.from(
      { length: 40 },
      (_, i) => `Line ${i} of document ${n}: the supplier warranty renewal terms and the quarterly budget review.`,
    );
  const formats: [string, string, (n: number) => Promise<Uint8Array> | Uint8Array][] = [
    ["text (3 KB)", "notes.txt", (n) => new TextEncoder().encode(prose(n).join("\n"))],
    ["DOCX (3 KB of text)", "notes.docx", (n) => docxWithText(prose(n))],
    ["PDF (2 pages)", "notes.pdf", (n) => textPdf([prose(n).slice(0, 20), prose(n).slice(20)])],
  ];
  for (const [format, name, build] of formats) {
    const messages: { document_id: string; version_number: number }[] = [];
    for (let n = 0; n < INDEX_DOCS; n++) {
      const form = new FormData();
      form.append("file", new File([(await build(n)) as Uint8Array<ArrayBuffer>], name));
      const res = await fetch(`${api.url}/api/v1/documents`, { method: "POST", headers: auth, body: form });
      if (res.status !== 201) throw new Error(`upload for indexing answered ${res.status}: ${await res.text()}`);
      messages.push({ document_id: ((await res.json()) as { id: string }).id, version_number: 1 });
    }
    // One batch first: loads the extractor (pdf.js) outside the measurement.
    await fetch(consumer.url, { method: "POST", body: JSON.stringify(messages.splice(0, 4)) });
    const batches = Array.from({ length: Math.ceil(messages.length / 4) }, (_, i) => messages.slice(i * 4, i * 4 + 4));
    const started = performance.now();
    let acked = 0;
    const lanes = [0, 1].map(async (lane) => {
      for (let i = lane; i < batches.length; i += 2) {
        const res = await fetch(consumer.url, { method: "POST", body: JSON.stringify(batches[i]) });
        acked += ((await res.json()) as { acked: number }).acked;
      }
    });
    await Promise.all(lanes);
    const seconds = (performance.now() - started) / 1000;
    const indexed = (
      await sqlClient.query(
        "select count(*)::int as n from document_contents where document_id = any($1::uuid[]) and status = 'indexed'",
        [messages.map((m) => m.document_id)],
      )
    ).rows[0]?.n as number;
    if (indexed !== messages.length) throw new Error(`${format}: ${indexed} of ${messages.length} indexed`);
    const row = {
      format,
      documents: messages.length,
      seconds: Number(seconds.toFixed(2)),
      perSecond: Number((messages.length / seconds).toFixed(1)),
      acked,
    };
    throughput.push(row);
    log(`indexing ${format}: ${row.documents} documents in ${row.seconds} s, ${row.perSecond} documents/s`);
  }
  await consumer.dispose();
}

// ---------------------------------------------------------------- bundle size
process.stdout.write("[bench] bundle: wrangler deploy --dry-run … ");
const outdir = await mkdtemp(join(tmpdir(), "docvault-bench-dist-"));
execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir], {
  cwd: ROOT,
  stdio: "ignore",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
let bundleBytes = 0;
let bundleGzip = 0;
for (const file of await readdir(outdir)) {
  if (!file.endsWith(".js")) continue;
  const bytes = await readFile(join(outdir, file));
  bundleBytes += bytes.byteLength;
  bundleGzip += gzipSync(bytes).byteLength;
}
const bundleOk = bundleGzip < 1024 * 1024;
console.log(
  `${(bundleBytes / 1024).toFixed(0)} KiB, ${(bundleGzip / 1024).toFixed(0)} KiB gzipped (${bundleOk ? "met" : "MISSED"}: < 1 MiB)`,
);

process.stdout.write("[bench] upload memory …\n");
const uploadMemory = await measureUploadMemory(log);

// ---------------------------------------------------------------- report
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, PostgreSQL ${(await sqlClient.query("show server_version")).rows[0]?.server_version} on the same cores`;
const table = [
  `Machine: ${machine}. ${size.documents.toLocaleString("en")} documents, ${size.users.toLocaleString("en")} users; ${CONNECTIONS} connections (login: 4), ${DURATION} s each; ${new Date().toISOString().slice(0, 10)}.`,
  "",
  "| scenario | req/s | p50 ms | p99 ms | × ceiling | DB round trips/req | workerd CPU ms/req | budget |",
  "|---|---|---|---|---|---|---|---|",
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.ratio} | ${r.roundTrips} | ${r.workerCpuMs ?? "—"} | ${r.budget || "—"} |`,
  ),
  `| bundle (wrangler deploy --dry-run) | | | | | | | ${(bundleGzip / 1024).toFixed(0)} KiB gzipped: ${bundleOk ? "met" : "MISSED"} (< 1 MiB) |`,
  "",
  ...(throughput.length
    ? [
        "Indexing throughput (content queue consumer, batches of 4, two at a time):",
        "",
        "| format | documents | seconds | documents/s |",
        "|---|---|---|---|",
        ...throughput.map((t) => `| ${t.format} | ${t.documents} | ${t.seconds} | ${t.perSecond} |`),
        "",
      ]
    : []),
  uploadMemoryTable(uploadMemory),
].join("\n");
// A narrowed run (BENCH_ONLY) must not replace the full table the README quotes.
const resultsName = only ? "bench/results.partial" : "bench/results";
await writeFile(join(ROOT, `${resultsName}.md`), `${table}\n`);
await writeFile(
  join(ROOT, `${resultsName}.json`),
  `${JSON.stringify({ date: new Date().toISOString(), machine, size, connections: CONNECTIONS, seconds: DURATION, results, throughput, bundle: { bytes: bundleBytes, gzip: bundleGzip }, uploadMemory }, null, 2)}\n`,
);
console.log(`\n${table}\n\n[bench] written ${resultsName}.md and ${resultsName}.json`);

await sqlClient.end();
await api.dispose();
await ceiling.dispose();
await stack.close();
await rm(buildDir, { recursive: true, force: true });
await rm(outdir, { recursive: true, force: true });
