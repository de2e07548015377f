// One scenario of `npm run bench`: autocannon drives one route from a worker thread (after a
// short unmeasured warm-up), then a few quiet sequential probe requests count the database round
// trips per request and, for a database-backed read, record the exact statements that the local
// Neon endpoint received; those are replayed straight against PostgreSQL (bench/db-ceiling.ts)
// with the same concurrency for the same time: the scenario's database ceiling.
import autocannon from "autocannon";
import type { NeonHttpServer } from "../devstack/neon-http-server.ts";
import { type CpuSplit, cpuMark, cpuSplit, cpuTotal } from "./cpu.ts";
import { type CapturedRequest, databaseCeiling } from "./db-ceiling.ts";
import type { RunningWorker } from "./workerd.ts";

export type Budget = {
  maxRoundTrips?: number;
  minRps?: number;
  maxP99?: number;
  /** workerd CPU per request, ms. */
  maxCpuMs?: number;
  /** The service's req/s over its statements' req/s straight on PostgreSQL. */
  minDbRatio?: number;
};

export type Scenario = {
  name: string;
  worker: RunningWorker;
  options: Partial<autocannon.Options> & { path?: string };
  /** The body of the sequential probe requests, when the load's body is made per request. */
  probeBody?: () => string;
  /** Runs before each load (warm-up and measured), e.g. to hand out fresh single-use tokens. */
  beforeLoad?: () => Promise<void>;
  seconds?: number;
  connections?: number;
  /** A database-backed read: its statements are replayed for the database ceiling. */
  dbCeiling?: boolean;
  budget?: Budget;
};

export type Result = {
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
  /** rps over the bare Hono route's. */
  ratio: number;
  /** The scenario's statements straight on PostgreSQL through `pg` (bench/db-ceiling.ts). */
  dbCeilingRps: number | null;
  dbP99: number | null;
  /** rps over dbCeilingRps. */
  dbRatio: number | null;
  /** CPU ms per request on this machine: workerd, this Node process (endpoint, s3rver, load), PostgreSQL. */
  cpu: CpuSplit | null;
  /** The same for the ceiling's replay (workerd none; Node is the `pg` client). */
  dbCpu: CpuSplit | null;
  /**
   * The ceiling ratio the two shared cores allow when both runs are CPU-bound: the replay's CPU per
   * request over the service's (each run's req/s is at most cores × 1000 / its CPU per request).
   */
  cpuBoundRatio: number | null;
  /** Statuses of the sequential probe requests that failed (none when all were served). */
  probeFailures?: number[];
  budget: string;
};

export type MeasureOptions = {
  database: NeonHttpServer;
  /** The database the endpoint serves, for the ceiling's replay. */
  databaseUrl: string;
  seconds: number;
  connections: number;
  warmupSeconds: number;
  /** The bare Hono route's req/s (0 before it is measured). */
  ceilingRps: number;
};

const PROBES = 5;
/** How long to wait, at most, for the database endpoint to go quiet after a load. */
const QUIET_LIMIT_MS = 120_000;

/** The budget's misses, in words; empty when met. Failed requests are always a miss. */
export function budgetMisses(result: Result, b: Budget | undefined): string[] {
  const misses: string[] = [];
  if (b?.maxRoundTrips !== undefined && result.roundTrips > b.maxRoundTrips)
    misses.push(`round trips ${result.roundTrips} > ${b.maxRoundTrips}`);
  if (b?.minRps !== undefined && result.rps < b.minRps) misses.push(`${result.rps} req/s < ${b.minRps}`);
  if (b?.maxP99 !== undefined && result.p99 > b.maxP99) misses.push(`p99 ${result.p99} ms > ${b.maxP99}`);
  if (b?.maxCpuMs !== undefined && (result.workerCpuMs === null || result.workerCpuMs > b.maxCpuMs))
    misses.push(`workerd CPU ${result.workerCpuMs ?? "unknown"} ms/request > ${b.maxCpuMs}`);
  if (b?.minDbRatio !== undefined && (result.dbRatio === null || result.dbRatio < b.minDbRatio))
    misses.push(`${result.dbRatio ?? "no"} × DB ceiling < ${b.minDbRatio}`);
  if (result.non2xx > 0 || result.errors > 0) misses.push(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return misses;
}

export async function measureScenario(scenario: Scenario, o: MeasureOptions): Promise<Result> {
  const seconds = scenario.seconds ?? o.seconds;
  const connections = scenario.connections ?? o.connections;
  const { path = "/", ...options } = scenario.options;
  const url = `${scenario.worker.url}${path}`;
  // autocannon runs in a worker thread: on the main thread its timing would wait behind the local
  // database endpoint, which shares this process. A short unmeasured load first lets V8 optimise
  // the Worker's code (the first seconds of a fresh isolate run interpreted code).
  const load = async (duration: number) => {
    await scenario.beforeLoad?.();
    return autocannon({ url, connections, duration, workers: 1, ...options });
  };
  if (o.warmupSeconds > 0) await load(o.warmupSeconds);
  const marked = cpuMark(() => scenario.worker.cpuMs());
  const run = await load(seconds);
  const split = cpuSplit(
    marked,
    cpuMark(() => scenario.worker.cpuMs()),
    run.requests.total,
  );
  const completed = run.requests.total;
  // Round trips per request from a quiet, sequential probe: under load, requests still in flight
  // when autocannon stops would be counted by the database but not by autocannon. Quiet means no
  // round trip for a second, or for the load's p99 if longer (a login spends most of its time in
  // scrypt, between its two round trips).
  // The endpoint must also have answered everything: statements of requests the Worker gave up
  // on (its database deadline) still run, and a probe would queue behind them.
  const quietMs = Math.max(1000, run.latency.p99);
  const quietBy = Date.now() + QUIET_LIMIT_MS;
  for (let last = -1; last !== o.database.roundTrips() || o.database.inFlight() > 0; ) {
    if (Date.now() > quietBy) {
      console.warn(`[bench] ${scenario.name}: the database endpoint still busy after ${QUIET_LIMIT_MS / 1000} s`);
      break;
    }
    last = o.database.roundTrips();
    await new Promise((r) => setTimeout(r, o.database.inFlight() > 0 ? 250 : quietMs));
  }
  const before = o.database.roundTrips();
  const captured: CapturedRequest[] = [];
  const failedProbes: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    const body = scenario.probeBody ? scenario.probeBody() : (options.body as string | undefined);
    const stop = o.database.capture();
    const res = await fetch(url, {
      method: options.method ?? "GET",
      headers: options.headers as Record<string, string>,
      body,
    });
    await res.arrayBuffer();
    const statements = stop();
    // Only a request served is a ceiling's model: a failed one's statements are left out.
    if (res.status >= 300) failedProbes.push(res.status);
    else captured.push(statements);
  }
  const trips = (o.database.roundTrips() - before) * (completed / PROBES);
  const result: Result = {
    name: scenario.name,
    rps: Math.round(run.requests.average),
    p50: run.latency.p50,
    p99: run.latency.p99,
    requests: completed,
    non2xx: run.non2xx,
    errors: run.errors,
    roundTrips: completed ? Number((trips / completed).toFixed(2)) : 0,
    workerCpuMs: split?.workerd ?? null,
    ratio: 0,
    dbCeilingRps: null,
    dbP99: null,
    dbRatio: null,
    cpu: split,
    dbCpu: null,
    cpuBoundRatio: null,
    budget: "",
  };
  if (scenario.dbCeiling && captured.length > 0) {
    const ceiling = await databaseCeiling(o.databaseUrl, captured, {
      connections,
      seconds,
      warmupSeconds: o.warmupSeconds,
    });
    result.dbCeilingRps = ceiling.rps;
    result.dbP99 = ceiling.p99;
    result.dbRatio = ceiling.rps ? Number((result.rps / ceiling.rps).toFixed(3)) : null;
    result.dbCpu = ceiling.cpu;
    if (split && ceiling.cpu && cpuTotal(split) > 0)
      result.cpuBoundRatio = Number((cpuTotal(ceiling.cpu) / cpuTotal(split)).toFixed(3));
  }
  const ceilingRps = o.ceilingRps || result.rps;
  result.ratio = ceilingRps ? Number((result.rps / ceilingRps).toFixed(3)) : 0;
  const misses = budgetMisses(result, scenario.budget);
  if (failedProbes.length > 0) {
    result.probeFailures = failedProbes;
    misses.push(`${failedProbes.length} of ${PROBES} quiet probe requests answered ${failedProbes.join(", ")}`);
  }
  result.budget = scenario.budget ? (misses.length ? `MISSED: ${misses.join("; ")}` : "met") : misses.join("; ");
  return result;
}

export function describeResult(r: Result): string {
  const db = r.dbCeilingRps !== null ? `, DB ceiling ${r.dbCeilingRps} req/s (p99 ${r.dbP99} ms): ${r.dbRatio} ×` : "";
  return `${r.rps} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.roundTrips} round trips/request, workerd ${r.workerCpuMs ?? "?"} ms CPU/request${db}${r.budget ? ` (${r.budget})` : ""}`;
}
