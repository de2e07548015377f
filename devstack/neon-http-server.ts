// A local stand-in for Neon's serverless HTTP endpoint (`POST /sql`), so the Worker talks to the
// local database through the same `@neondatabase/serverless` driver it uses against Neon.
// Protocol: `{query, params}` or `{queries: [...]}` (one transaction), answered with
// `{fields, rows, command, rowCount}` / `{results: [...]}`; Postgres errors are HTTP 400 with
// the server's error fields, which the driver copies onto its NeonDbError.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type BatchOptions, beginStatement, type SqlBackend, type SqlQuery } from "./sql-backend.ts";

const ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** One HTTP round trip as the endpoint received it: a query, or a batch run as one transaction. */
export type CapturedRoundTrip = { queries: SqlQuery[]; batch?: BatchOptions };

export type NeonHttpServer = {
  url: string;
  port: number;
  /** HTTP round trips served since start: what the benchmarks count per request. */
  roundTrips(): number;
  /**
   * Round trips received and not yet answered. A caller that gave up (the Worker's deadline) does
   * not stop its statement: the benchmark waits for this to reach 0 before its quiet probes.
   */
  inFlight(): number;
  /**
   * Records every round trip that arrives from now on, with its statements' text and parameters
   * exactly as the driver sent them, until the returned function is called; that returns them in
   * arrival order. The benchmark replays them straight against PostgreSQL (bench/db-ceiling.ts).
   */
  capture(): () => CapturedRoundTrip[];
  close(): Promise<void>;
};

class BadRequest extends Error {}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest("request body too large");
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new BadRequest("request body is not JSON");
  }
}

function toQuery(value: unknown): SqlQuery {
  const q = value as { query?: unknown; params?: unknown };
  if (typeof q?.query !== "string") throw new BadRequest("`query` must be a string");
  if (q.params !== undefined && !Array.isArray(q.params)) throw new BadRequest("`params` must be an array");
  return { query: q.query, params: (q.params as unknown[] | undefined) ?? [] };
}

function batchOptions(req: IncomingMessage): BatchOptions {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === "string" ? v : undefined;
  };
  const bool = (v: string | undefined) => (v === undefined ? undefined : v === "true");
  const options = {
    isolationLevel: header("neon-batch-isolation-level"),
    readOnly: bool(header("neon-batch-read-only")),
    deferrable: bool(header("neon-batch-deferrable")),
  };
  try {
    beginStatement(options);
  } catch (error) {
    throw new BadRequest((error as Error).message);
  }
  return options;
}

function errorBody(error: unknown): Record<string, unknown> {
  const e = error as Record<string, unknown>;
  const body: Record<string, unknown> = { message: error instanceof Error ? error.message : String(error) };
  for (const field of ERROR_FIELDS) if (e?.[field] !== undefined) body[field] = e[field];
  return body;
}

export async function startNeonHttpServer(
  backend: SqlBackend,
  options: { port?: number; host?: string } = {},
): Promise<NeonHttpServer> {
  let roundTrips = 0;
  let inFlight = 0;
  const recorders = new Set<CapturedRoundTrip[]>();
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST" || !req.url?.startsWith("/sql")) return send(404, { message: "not found" });
    roundTrips++;
    inFlight++;
    try {
      const body = (await readJson(req)) as { queries?: unknown };
      if (Array.isArray(body?.queries)) {
        const queries = body.queries.map(toQuery);
        const options = batchOptions(req);
        for (const recorded of recorders) recorded.push({ queries, batch: options });
        const results = await backend.batch(queries, options);
        return send(200, { results: results.map((r) => ({ ...r, rowAsArray: true })) });
      }
      const query = toQuery(body);
      for (const recorded of recorders) recorded.push({ queries: [query] });
      const result = await backend.query(query);
      return send(200, { ...result, rowAsArray: true });
    } catch (error) {
      if (error instanceof BadRequest) return send(400, { message: error.message });
      // Postgres errors carry a SQLSTATE code; anything else is the engine failing (503-like).
      const code = (error as { code?: unknown })?.code;
      if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return send(400, errorBody(error));
      return send(500, { message: error instanceof Error ? error.message : String(error) });
    } finally {
      inFlight--;
    }
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/sql`,
    port,
    roundTrips: () => roundTrips,
    inFlight: () => inFlight,
    capture() {
      const recorded: CapturedRoundTrip[] = [];
      recorders.add(recorded);
      return () => {
        recorders.delete(recorded);
        return recorded;
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
