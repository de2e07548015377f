// The SQL engines behind the local Neon HTTP endpoint: embedded PGlite (default) or a real
// PostgreSQL server reached through `pg` (when DEV_POSTGRES_URL is set). Both return values in
// PostgreSQL's text format, exactly as Neon's endpoint does, so the Worker's driver parses them.
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";

export type Field = { name: string; dataTypeID: number };
export type QueryResult = {
  command: string;
  rowCount: number;
  fields: Field[];
  rows: (string | null)[][];
};
export type SqlQuery = { query: string; params: unknown[] };
export type BatchOptions = {
  isolationLevel?: string;
  readOnly?: boolean;
  deferrable?: boolean;
};

export interface SqlBackend {
  readonly name: string;
  query(q: SqlQuery): Promise<QueryResult>;
  batch(queries: SqlQuery[], options: BatchOptions): Promise<QueryResult[]>;
  close(): Promise<void>;
}

const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

/** `BEGIN …` for a batch, validated: the header values come from the client. */
export function beginStatement(options: BatchOptions): string {
  const parts = ["BEGIN"];
  if (options.isolationLevel !== undefined) {
    const level = ISOLATION_LEVELS[options.isolationLevel];
    if (!level) throw new Error(`unknown isolation level ${options.isolationLevel}`);
    parts.push(`ISOLATION LEVEL ${level}`);
  }
  if (options.readOnly !== undefined) parts.push(options.readOnly ? "READ ONLY" : "READ WRITE");
  if (options.deferrable !== undefined) parts.push(options.deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  return parts.join(" ");
}

// Typed as PGlite's parser and serializer signatures; at run time both only pass text through.
const identity = (value: string) => value;

export class PgliteBackend implements SqlBackend {
  readonly name = "pglite";
  readonly #db: PGlite;
  // Every known type maps to identity, so values stay in PostgreSQL's text format both ways.
  readonly #options: {
    rowMode: "array";
    parsers: Record<number, typeof identity>;
    serializers: Record<number, typeof identity>;
  };

  private constructor(db: PGlite) {
    this.#db = db;
    const textMap = (keys: object) =>
      Object.fromEntries(Object.keys(keys).map((k) => [k, identity])) as Record<number, typeof identity>;
    const internals = db as unknown as { parsers: object; serializers: object };
    this.#options = {
      rowMode: "array",
      parsers: textMap(internals.parsers),
      serializers: textMap(internals.serializers),
    };
  }

  /** `dataDir` undefined keeps the database in memory. */
  static async open(dataDir?: string): Promise<PgliteBackend> {
    const db = dataDir ? new PGlite(dataDir) : new PGlite();
    await db.waitReady;
    return new PgliteBackend(db);
  }

  async query(q: SqlQuery): Promise<QueryResult> {
    return this.#toResult(await this.#db.query(q.query, q.params as unknown[], this.#options));
  }

  async batch(queries: SqlQuery[], options: BatchOptions): Promise<QueryResult[]> {
    // PGlite serialises all access, so an explicit BEGIN/COMMIT holds the engine for the batch.
    return this.#db.transaction(async (tx) => {
      if (options.isolationLevel || options.readOnly !== undefined || options.deferrable !== undefined) {
        await tx.exec(beginStatement(options).replace(/^BEGIN/, "SET TRANSACTION"));
      }
      const results: QueryResult[] = [];
      for (const q of queries)
        results.push(this.#toResult(await tx.query(q.query, q.params as unknown[], this.#options)));
      return results;
    });
  }

  #toResult(r: {
    fields: Field[];
    rows: unknown[];
    affectedRows?: number;
    rowCount?: number;
    command?: string;
  }): QueryResult {
    const command = (r as { command?: string }).command ?? "";
    return {
      command,
      rowCount: r.rowCount ?? r.affectedRows ?? r.rows.length,
      fields: r.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
      rows: r.rows as (string | null)[][],
    };
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

export class PostgresBackend implements SqlBackend {
  readonly name = "postgres";
  readonly #pool: pg.Pool;

  constructor(connectionString: string, maxConnections = 10) {
    this.#pool = new pg.Pool({
      connectionString,
      max: maxConnections,
      // Keep every value as PostgreSQL sent it; the client side parses by type id.
      types: { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig,
    });
    // An idle client dying (server restart) must not crash the dev server.
    this.#pool.on("error", () => {});
  }

  async query(q: SqlQuery): Promise<QueryResult> {
    return this.#toResult(await this.#pool.query({ text: q.query, values: q.params, rowMode: "array" }));
  }

  async batch(queries: SqlQuery[], options: BatchOptions): Promise<QueryResult[]> {
    const client = await this.#pool.connect();
    try {
      await client.query(beginStatement(options));
      const results: QueryResult[] = [];
      for (const q of queries) {
        results.push(this.#toResult(await client.query({ text: q.query, values: q.params, rowMode: "array" })));
      }
      await client.query("COMMIT");
      return results;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  #toResult(r: pg.QueryResult): QueryResult {
    return {
      command: r.command ?? "",
      rowCount: r.rowCount ?? 0,
      fields: (r.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
      rows: r.rows as unknown as (string | null)[][],
    };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
