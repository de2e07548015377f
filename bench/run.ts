// `npm run bench`: the service in workerd (started from a generated config: no dev proxy, no
// Miniflare workers in the path) on the local stack with a real PostgreSQL (DEV_POSTGRES_URL,
// default this machine's server), a seeded data set (bench/database.ts: DOCS documents, default
// 1,000,000, with versions, tags, shares, content and activity) and s3rver, and autocannon
// driving load from a worker thread. For each scenario, after a short warm-up: requests/s,
// p50/p99 latency, ratio to a bare Hono route in the same harness, database round trips per
// request (counted by the local Neon endpoint), workerd CPU per request and, for each
// database-backed read, the database ceiling: the scenario's own statements replayed straight on
// PostgreSQL (bench/scenarios.ts, bench/db-ceiling.ts). Reads are measured for a typical and a
// heavy caller (bench/callers.ts), then the list and search scenarios again on smaller data sets
// (bench/growth.ts). Writes bench/results.json and bench/results.md (bench/results.partial.* for
// a narrowed run) and checks the budgets of the benchmark issues.
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import pg from "pg";
import { BENCH_TITLE, fillTrash, logIn, pickCallers, undoBenchWrites, undoEarlierRun } from "./callers.ts";
import { type CpuSplit, cpuTotal } from "./cpu.ts";
import { benchSize, prepareBenchDatabase } from "./database.ts";
import {
  type GrowthRow,
  growthRow,
  growthSizes,
  growthTable,
  measureGrowthSize,
  SEARCHES,
  searchScenarios,
} from "./growth.ts";
import { bundleWorker, ROOT, serviceBindings, startBenchStack, startWorker } from "./harness.ts";
import { describeResult, measureScenario, type Result, type Scenario } from "./scenarios.ts";
import { BENCH_PASSWORD } from "./seed.ts";
import { measureUploadMemory, uploadMemoryTable } from "./upload-memory.ts";

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const TRASHED = 5;
/** Scenarios whose fixtures are made only when they run. */
const NAMES = {
  changes: "changes feed page (limit=100, from a cursor)",
  trash: `trash list (${TRASHED} trashed)`,
  refresh: "refresh",
  uploadVersion: "upload-version 100 KiB",
};
const size = benchSize();
const startedAt = performance.now();
const elapsed = () => {
  const s = Math.round((performance.now() - startedAt) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};
const log = (line: string) => console.log(`[bench ${elapsed()}] ${line}`);

// ---------------------------------------------------------------- what to run
// BENCH_ONLY=get,list runs the scenarios whose names contain one of these words (and the bare
// Hono ceiling), and of the other parts only those named: growth, indexing, bundle, memory.
// BENCH_SKIP_GROWTH=1 leaves the growth curve out. A narrowed run writes bench/results.partial.*.
const only = process.env.BENCH_ONLY?.split(",").filter(Boolean);
const part = (name: string) => !only || only.some((word) => name.includes(word));
const runGrowth = process.env.BENCH_SKIP_GROWTH !== "1" && part("growth");

// ---------------------------------------------------------------- upload memory
// workerd's peak memory growth per API upload (bench/upload-memory.ts): its own stack (PGlite,
// s3rver), no seeded data. BENCH_ONLY=memory runs just this scenario and writes its figures into
// bench/results.json under `uploadMemory`, leaving the other results there as they were.
const UPLOAD_MEMORY = "upload memory";
if (only?.every((word) => UPLOAD_MEMORY.includes(word))) {
  const uploadMemory = await measureUploadMemory(log);
  const path = join(ROOT, "bench/results.json");
  const previous = JSON.parse(await readFile(path, "utf8").catch(() => "{}")) as Record<string, unknown>;
  await writeFile(path, `${JSON.stringify({ ...previous, uploadMemory }, null, 2)}\n`);
  console.log(`\n${uploadMemoryTable(uploadMemory)}\n\n[bench] written bench/results.json (uploadMemory)`);
  process.exit(0);
}

// ---------------------------------------------------------------- stack and data
log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, node ${process.version}`);
// What a run stopped before its cleanup left behind goes first: the run measures the data set as seeded.
const leftover = await undoEarlierRun(size);
if (leftover?.documents) log(`removed ${leftover.documents} documents left by an earlier run`);
const databaseUrl = await prepareBenchDatabase(size, (l) => log(l.trim()));
const sqlClient = new pg.Client({ connectionString: databaseUrl });
await sqlClient.connect();
const picked = await pickCallers(sqlClient, size);
const owners = [picked.typical.userId];
const loggedIn = [picked.typical.userId, picked.heavy.userId];

const stack = await startBenchStack(databaseUrl);
const database = stack.database;
log(`stack: PostgreSQL behind ${database.url}, s3rver at ${stack.storage?.endpoint}`);

const buildDir = await mkdtemp(join(tmpdir(), "docvault-bench-build-"));
const apiBundle = await bundleWorker("src/index.ts", buildDir);
const api = await startWorker(apiBundle, {
  ...serviceBindings(stack),
  // The bench logs in far more often than a person could; keep throttling out of the numbers.
  LOGIN_MAX_FAILURES_PER_ADDRESS: "100000",
});
const ceiling = await startWorker(await bundleWorker("bench/ceiling-worker.ts", buildDir), {});
log(`workers: api ${api.url}, ceiling ${ceiling.url}`);
const probe = await fetch(`${api.url}/health`);
if (probe.status !== 200) throw new Error(`the service is not healthy: ${probe.status} ${await probe.text()}`);

const results: Result[] = [];
const growthRows: GrowthRow[] = [];
type Throughput = { format: string; documents: number; seconds: number; perSecond: number; acked: number };
const throughput: Throughput[] = [];
let bundleBytes = 0;
let bundleGzip = 0;
let uploadMemory: Awaited<ReturnType<typeof measureUploadMemory>> | undefined;

try {
  const callers = { typical: await logIn(api.url, picked.typical), heavy: await logIn(api.url, picked.heavy) };
  const { typical } = callers;
  const auth = typical.auth;
  log(
    `callers: typical ${typical.email} sees ${picked.typical.visible.toLocaleString("en")} documents, heavy ${picked.heavy.email} sees ${picked.heavy.visible.toLocaleString("en")}`,
  );
  const docId = (
    await sqlClient.query(
      "select id from documents where owner_id = $1 and deleted_at is null and title not like $2 order by id limit 1",
      [typical.userId, `${BENCH_TITLE}%`],
    )
  ).rows[0]?.id as string;

  // Refresh tokens are single use: mint enough straight into the database (same hashing as the service).
  const mintRefreshTokens = async (count: number): Promise<string[]> => {
    const { createHash, randomBytes, randomUUID } = await import("node:crypto");
    const minted = Array.from({ length: count }, () => randomBytes(32).toString("base64url"));
    await sqlClient.query(
      `insert into refresh_tokens (user_id, chain_id, token_hash, expires_at)
       select $1, $2, decode(h, 'hex'), now() + interval '1 day' from unnest($3::text[]) h`,
      [typical.userId, randomUUID(), minted.map((t) => createHash("sha256").update(t).digest("hex"))],
    );
    return minted;
  };

  // A string body: autocannon's worker thread receives options by structured clone, which turns a
  // Buffer into a plain Uint8Array that it refuses. The file is ASCII, so the string is its bytes.
  const boundary = "----docvaultbench";
  const pdf = `%PDF-1.7\n${"A".repeat(100 * 1024 - 9)}`;
  const upload = {
    body:
      `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n${BENCH_TITLE} upload\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.pdf"\r\nContent-Type: application/pdf\r\n\r\n${pdf}\r\n--${boundary}--\r\n`,
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
  const uploadHeaders = { ...auth, "content-type": upload.contentType };

  // Fixtures, all removed by undoBenchWrites at the end: documents in the typical user's trash,
  // and a document of theirs for upload-version (the seeded ones stay as seeded).
  if (part(NAMES.trash)) await fillTrash(api.url, typical, TRASHED);
  let versionTarget = "";
  if (part(NAMES.uploadVersion)) {
    const res = await fetch(`${api.url}/api/v1/documents`, {
      method: "POST",
      headers: uploadHeaders,
      body: upload.body,
    });
    if (res.status !== 201) throw new Error(`bench upload answered ${res.status}: ${await res.text()}`);
    versionTarget = ((await res.json()) as { id: string }).id;
  }
  // The changes feed from a cursor: the second page of the typical user's history.
  let changesPath = "/api/v1/changes?limit=100";
  if (part(NAMES.changes)) {
    const first = (await (await fetch(`${api.url}${changesPath}`, { headers: auth })).json()) as {
      next_cursor: string;
      items: unknown[];
    };
    changesPath = `/api/v1/changes?limit=100&cursor=${encodeURIComponent(first.next_cursor)}`;
    const second = (await (await fetch(`${api.url}${changesPath}`, { headers: auth })).json()) as { items: unknown[] };
    log(`changes feed: page 1 has ${first.items.length} changes, page 2 (measured) ${second.items.length}`);
  }

  // Fresh tokens for every load (handed to autocannon's thread through a file) and another chain for
  // the probe: presenting a spent token would revoke its whole chain.
  const refreshTokensFile = join(buildDir, "refresh-tokens.json");
  process.env.BENCH_REFRESH_TOKENS = refreshTokensFile;
  const probeRefreshTokens = part(NAMES.refresh) ? await mintRefreshTokens(10) : [];
  const read = { maxRoundTrips: 1, minDbRatio: 0.7 };
  const typicalGet = { path: `/api/v1/documents/${docId}`, headers: auth };
  const allScenarios: Scenario[] = [
    { name: "bare Hono route (ceiling)", worker: ceiling, options: { path: "/" } },
    { name: "GET /health/live", worker: api, options: { path: "/health/live" } },
    {
      name: "get document",
      worker: api,
      options: typicalGet,
      dbCeiling: true,
      budget: { ...read, minRps: 1000, maxCpuMs: 0.5 },
    },
    ...searchScenarios(api, callers, { dbCeiling: true }),
    {
      name: "download (presign)",
      worker: api,
      options: { ...typicalGet, path: `${typicalGet.path}/download` },
      dbCeiling: true,
      budget: read,
    },
    {
      name: NAMES.changes,
      worker: api,
      options: { path: changesPath, headers: auth },
      dbCeiling: true,
      budget: read,
    },
    {
      name: NAMES.trash,
      worker: api,
      options: { path: "/api/v1/trash", headers: auth },
      dbCeiling: true,
      budget: read,
    },
    {
      name: "login (scrypt)",
      worker: api,
      options: {
        path: "/api/v1/auth/login",
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: typical.email, password: BENCH_PASSWORD }),
      },
      connections: 4,
      budget: { maxRoundTrips: 2 },
    },
    {
      name: NAMES.refresh,
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
      options: { path: "/api/v1/documents", method: "POST", headers: uploadHeaders, body: upload.body },
      budget: { maxRoundTrips: 2 },
    },
    {
      name: NAMES.uploadVersion,
      worker: api,
      options: {
        path: `/api/v1/documents/${versionTarget}/upload-version`,
        method: "POST",
        headers: uploadHeaders,
        body: upload.body,
      },
      budget: { maxRoundTrips: 2 },
    },
  ];
  const scenarios = only ? allScenarios.filter((s, i) => i === 0 || part(s.name)) : allScenarios;

  let ceilingRps = 0;
  for (const [i, scenario] of scenarios.entries()) {
    const connections = scenario.connections ?? CONNECTIONS;
    log(
      `[${i + 1}/${scenarios.length}] ${scenario.name}: ${connections} connections for ${scenario.seconds ?? DURATION} s${scenario.dbCeiling ? ", then its statements on PostgreSQL" : ""} …`,
    );
    const result = await measureScenario(scenario, {
      database,
      databaseUrl,
      seconds: DURATION,
      connections: CONNECTIONS,
      warmupSeconds: WARMUP,
      ceilingRps,
    });
    if (scenario.worker === ceiling) ceilingRps = result.rps;
    results.push(result);
    const growth = (scenario as Partial<ReturnType<typeof searchScenarios>[number]>).growth;
    if (growth) growthRows.push(growthRow(size, picked[growth.caller], growth, result));
    log(`  ${describeResult(result)}`);
  }

  // ---------------------------------------------------------------- growth curve
  if (runGrowth) {
    for (const growthSize of growthSizes()) {
      // The data set of the scenarios above is measured already, unless BENCH_ONLY left some out.
      const measured = growthRows.filter((r) => r.documents === growthSize.documents);
      if (measured.length === 2 * SEARCHES.length) continue;
      for (const r of measured) growthRows.splice(growthRows.indexOf(r), 1);
      const rows = await measureGrowthSize(
        growthSize,
        apiBundle,
        { seconds: DURATION, connections: CONNECTIONS, warmupSeconds: WARMUP, ceilingRps },
        (l) => log(l.trim()),
      );
      growthRows.push(...rows);
    }
  }

  // ---------------------------------------------------------------- indexing throughput
  // Documents per second through the content queue's consumer (src/content/consume.ts), run in its
  // own workerd: per format, INDEX_DOCS fresh uploads, then batches of 4 (wrangler.toml's
  // max_batch_size), two batches at a time (two consumer invocations on two cores).
  const INDEX_DOCS = Number(process.env.BENCH_INDEX_DOCS ?? 100);
  if (part("indexing")) {
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
        form.append("title", `${BENCH_TITLE} indexing ${n}`);
        form.append("file", new File([(await build(n)) as Uint8Array<ArrayBuffer>], name));
        const res = await fetch(`${api.url}/api/v1/documents`, { method: "POST", headers: auth, body: form });
        if (res.status !== 201) throw new Error(`upload for indexing answered ${res.status}: ${await res.text()}`);
        messages.push({ document_id: ((await res.json()) as { id: string }).id, version_number: 1 });
      }
      // One batch first: loads the extractor (pdf.js) outside the measurement.
      await fetch(consumer.url, { method: "POST", body: JSON.stringify(messages.splice(0, 4)) });
      const batches = Array.from({ length: Math.ceil(messages.length / 4) }, (_, i) =>
        messages.slice(i * 4, i * 4 + 4),
      );
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
  if (part("bundle")) {
    log("bundle: wrangler deploy --dry-run …");
    const outdir = await mkdtemp(join(tmpdir(), "docvault-bench-dist-"));
    try {
      execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir], {
        cwd: ROOT,
        stdio: "pipe",
        env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      });
    } catch (error) {
      // e.g. no .assets folder: `npm run bench` builds it first (prebench), `tsx bench/run.ts` does not.
      const output = `${(error as { stdout?: Buffer }).stdout ?? ""}${(error as { stderr?: Buffer }).stderr ?? ""}`;
      throw new Error(`wrangler deploy --dry-run failed:\n${output.slice(-2000)}`);
    }
    for (const file of await readdir(outdir)) {
      if (!file.endsWith(".js")) continue;
      const bytes = await readFile(join(outdir, file));
      bundleBytes += bytes.byteLength;
      bundleGzip += gzipSync(bytes).byteLength;
    }
    await rm(outdir, { recursive: true, force: true });
    log(`  ${(bundleBytes / 1024).toFixed(0)} KiB, ${(bundleGzip / 1024).toFixed(0)} KiB gzipped`);
  }

  if (part(UPLOAD_MEMORY)) {
    log("upload memory …");
    uploadMemory = await measureUploadMemory(log);
  }
} finally {
  const undone = await undoBenchWrites(sqlClient, owners, loggedIn);
  log(
    `undone: ${undone.documents} documents, ${undone.versions} versions, ${undone.activity} activity rows, ${undone.refreshTokens} refresh tokens written by this run`,
  );
  await api.dispose();
  await ceiling.dispose();
  await stack.close();
  await rm(buildDir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- report
/**
 * Where each database-backed read's CPU went, against its ceiling's: on one machine every part
 * runs on the same cores, so each run serves at most cores × 1000 / (its CPU per request) per
 * second, and the ratio to the ceiling is bounded by the two sums' ratio (`cpuBoundRatio`).
 */
function cpuTable(rows: Result[]): string[] {
  const withCeiling = rows.filter((r) => r.cpu && r.dbCpu);
  if (withCeiling.length === 0) return [];
  const f = (n: number | null) => (n === null ? "?" : n.toFixed(3));
  return [
    `CPU per request on this machine's ${cpus().length} cores, ms (service: workerd + this Node process, i.e. the local Neon endpoint, s3rver and autocannon + PostgreSQL; ceiling: the \`pg\` client + PostgreSQL). Each run serves at most ${cpus().length} × 1000 / its sum per second, so × DB ceiling cannot exceed ceiling sum / service sum while both are CPU-bound:`,
    "",
    "| scenario | workerd | Node | PostgreSQL | service sum | ceiling: client | ceiling: PostgreSQL | ceiling sum | CPU-bound ratio | × DB ceiling measured |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...withCeiling.map((r) => {
      const c = r.cpu as CpuSplit;
      const d = r.dbCpu as CpuSplit;
      return `| ${r.name} | ${f(c.workerd)} | ${f(c.node)} | ${f(c.postgres)} | ${cpuTotal(c).toFixed(3)} | ${f(d.node)} | ${f(d.postgres)} | ${cpuTotal(d).toFixed(3)} | ${r.cpuBoundRatio ?? "?"} | ${r.dbRatio ?? "?"} |`;
    }),
    "",
  ];
}

const bundleOk = bundleGzip < 1024 * 1024;
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, PostgreSQL ${(await sqlClient.query("show server_version")).rows[0]?.server_version} on the same cores`;
await sqlClient.end();
const totalSeconds = Math.round((performance.now() - startedAt) / 1000);
const num = (n: number) => n.toLocaleString("en");
const table = [
  `Machine: ${machine}. ${num(size.documents)} documents, ${num(size.users)} users; ${CONNECTIONS} connections (login: 4), ${DURATION} s each after ${WARMUP} s of warm-up; ${new Date().toISOString().slice(0, 10)}; the whole run took ${Math.floor(totalSeconds / 60)} min ${totalSeconds % 60} s.`,
  `Callers: typical ${picked.typical.email} (${num(picked.typical.visible)} documents visible), heavy ${picked.heavy.email} (${num(picked.heavy.visible)} visible). Get, download, changes and trash as the typical user.`,
  "",
  "| scenario | req/s | p50 ms | p99 ms | × bare Hono | DB ceiling req/s (p99 ms) | × DB ceiling | DB round trips/req | workerd CPU ms/req | budget |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.ratio} | ${r.dbCeilingRps === null ? "—" : `${r.dbCeilingRps} (${r.dbP99})`} | ${r.dbRatio ?? "—"} | ${r.roundTrips} | ${r.workerCpuMs ?? "—"} | ${r.budget || "—"} |`,
  ),
  ...(bundleGzip
    ? [
        `| bundle (wrangler deploy --dry-run) | | | | | | | | | ${(bundleGzip / 1024).toFixed(0)} KiB gzipped: ${bundleOk ? "met" : "MISSED"} (< 1 MiB) |`,
      ]
    : []),
  "",
  ...cpuTable(results),
  ...(growthRows.length
    ? [
        "Growth (the same list and search scenarios on each data set; req/s and p99 ms):",
        "",
        growthTable(growthRows),
        "",
      ]
    : []),
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
  ...(uploadMemory ? [uploadMemoryTable(uploadMemory)] : []),
].join("\n");
// A narrowed run must not replace the full table the README quotes.
const resultsName = only || !runGrowth ? "bench/results.partial" : "bench/results";
await writeFile(join(ROOT, `${resultsName}.md`), `${table}\n`);
await writeFile(
  join(ROOT, `${resultsName}.json`),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine,
      size,
      callers: picked,
      connections: CONNECTIONS,
      seconds: DURATION,
      warmupSeconds: WARMUP,
      totalSeconds,
      results,
      growth: growthRows,
      throughput,
      bundle: { bytes: bundleBytes, gzip: bundleGzip },
      uploadMemory,
    },
    null,
    2,
  )}\n`,
);
const missed = [
  ...results.filter((r) => r.budget.startsWith("MISSED")).map((r) => r.name),
  ...(bundleGzip && !bundleOk ? ["bundle size"] : []),
  ...(uploadMemory && !uploadMemory.targets.ratioMet ? ["upload memory ratio"] : []),
  ...(uploadMemory && !uploadMemory.targets.concurrentMet ? ["concurrent upload memory"] : []),
];
console.log(`\n${table}\n`);
log(
  `written ${resultsName}.md and ${resultsName}.json; ${missed.length ? `MISSED ${missed.length}: ${missed.join("; ")}` : "every budget checked was met"}`,
);
log(`total time ${Math.floor(totalSeconds / 60)} min ${totalSeconds % 60} s`);
