// The database's own ceiling for a scenario: the exact statements the service sent for it (text
// and parameters, recorded by the local Neon endpoint during the scenario's sequential probe
// requests: NeonHttpServer.capture) replayed straight against PostgreSQL through `pg`, with as
// many connections as the scenario's load had, for as long, after a warm-up. What the service
// serves divided by this is the share of the database's throughput that reaches the callers.
//
// The replay goes through the same client code as the local endpoint (devstack/sql-backend.ts,
// PostgresBackend: a pg.Pool, unnamed statements, values left in PostgreSQL's text format), so
// the only difference from the service's path is everything in front of the database: workerd,
// the Worker, the driver, HTTP and JSON.
import type { CapturedRoundTrip } from "../devstack/neon-http-server.ts";
import { PostgresBackend } from "../devstack/sql-backend.ts";
import { type CpuSplit, cpuMark, cpuSplit } from "./cpu.ts";

/** One request's round trips, in the order the service sent them. */
export type CapturedRequest = CapturedRoundTrip[];

export type CeilingResult = {
  /** Requests' statements completed per second (each request's round trips in sequence). */
  rps: number;
  p50: number;
  p99: number;
  /** Requests' statements completed during the measured time. */
  requests: number;
  /** Distinct parameter sets replayed (rotating). */
  parameterSets: number;
  /** CPU per replayed request during the measured time: PostgreSQL and this process (the `pg` client). */
  cpu: CpuSplit | null;
};

export type CeilingOptions = { connections: number; seconds: number; warmupSeconds: number };

async function replay(backend: PostgresBackend, request: CapturedRequest): Promise<void> {
  for (const trip of request) {
    if (trip.batch) await backend.batch(trip.queries, trip.batch);
    else await backend.query(trip.queries[0] as CapturedRoundTrip["queries"][number]);
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number) : 0;

/**
 * Replays `requests` (rotating over them) against `databaseUrl` from `connections` concurrent
 * loops over a pool of as many connections: first `warmupSeconds` unmeasured, then `seconds`
 * measured. A statement that fails fails the measurement (a ceiling of errors is none).
 */
export async function databaseCeiling(
  databaseUrl: string,
  requests: CapturedRequest[],
  options: CeilingOptions,
): Promise<CeilingResult> {
  const usable = requests.filter((r) => r.length > 0);
  if (usable.length === 0) throw new Error("no statements captured to replay");
  const backend = new PostgresBackend(databaseUrl, options.connections);
  let next = 0;
  const phase = async (seconds: number) => {
    const latencies: number[] = [];
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const loop = async () => {
      while (performance.now() < deadline) {
        const request = usable[next++ % usable.length] as CapturedRequest;
        const t = performance.now();
        await replay(backend, request);
        const done = performance.now();
        if (done <= deadline) latencies.push(done - t);
      }
    };
    await Promise.all(Array.from({ length: options.connections }, loop));
    return { latencies, elapsed: (deadline - started) / 1000 };
  };
  try {
    if (options.warmupSeconds > 0) await phase(options.warmupSeconds);
    const before = cpuMark();
    const { latencies, elapsed } = await phase(options.seconds);
    const after = cpuMark();
    latencies.sort((a, b) => a - b);
    const round = (ms: number) => Number(ms.toFixed(1));
    return {
      rps: Math.round(latencies.length / elapsed),
      p50: round(percentile(latencies, 50)),
      p99: round(percentile(latencies, 99)),
      requests: latencies.length,
      parameterSets: new Set(usable.map((r) => JSON.stringify(r))).size,
      cpu: cpuSplit(before, after, latencies.length),
    };
  } finally {
    await backend.close();
  }
}
