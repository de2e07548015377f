// A statement whose SQL text is the same on every call (only its values change) need not be built
// again on every call: Drizzle walks the whole fragment tree of `sql` templates each time, which
// was about 6% of a get document's CPU in the Worker (bench:profile). reusedStatement builds the
// text once per isolate, with a placeholder for each value, and then only fills the values in
// (Drizzle's own placeholders and fillPlaceholders, as its prepared queries do).
import { fillPlaceholders, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Database } from "./client";

const dialect = new PgDialect();

/** What the Neon driver answers with `fullResults`, as `db.execute` returns it. */
export type StatementResult<Row> = { rows: Row[]; rowCount: number | null };

/**
 * `build` gets one placeholder per name, typed as the string it stands for so that the existing
 * fragment builders (accessCte and friends) take it. It must only place them in the SQL, never
 * look at them as strings (the first call would show it: the text would hold "[object Object]").
 */
export function reusedStatement<Name extends string>(
  names: readonly Name[],
  build: (values: Record<Name, string>) => SQL,
) {
  let query: { sql: string; params: unknown[] } | undefined;
  return async <Row>(db: Database, values: Record<Name, unknown>): Promise<StatementResult<Row>> => {
    query ??= dialect.sqlToQuery(
      build(Object.fromEntries(names.map((name) => [name, sql.placeholder(name)])) as unknown as Record<Name, string>),
    );
    return (await db.$client.query(query.sql, fillPlaceholders(query.params, values), {
      arrayMode: false,
      fullResults: true,
    })) as unknown as StatementResult<Row>;
  };
}
