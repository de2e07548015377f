// Postgres errors reach us wrapped (Drizzle's DrizzleQueryError around Neon's NeonDbError).
// These helpers look through the wrapping for the SQLSTATE and constraint, which is all the
// handlers need to map a conflict to 409, and tell a failing database apart from a bad query.

type PgErrorFields = { code?: string; constraint?: string };

function* causes(error: unknown): Generator<unknown> {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/** The Postgres error fields of `error` or of one of its causes, if any. */
export function pgErrorOf(error: unknown): PgErrorFields | undefined {
  for (const e of causes(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return e as PgErrorFields;
  }
  return undefined;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pg = pgErrorOf(error);
  return pg?.code === "23505" && (constraint === undefined || pg.constraint === constraint);
}

/**
 * True when PostgreSQL refused a text value it cannot store: U+0000 (NUL) is valid in JSON and
 * in JavaScript strings but never in PostgreSQL text (SQLSTATE 22021; 22P05 for a character the
 * database encoding lacks). The statement failed as a whole, so nothing was written.
 */
export function isUnstorableText(error: unknown): boolean {
  const code = pgErrorOf(error)?.code;
  return code === "22021" || code === "22P05";
}

/**
 * True when PostgreSQL answered this statement with an error, so it was rolled back and wrote
 * nothing. Connection-class errors (SQLSTATE 08) are excluded: they may be reported after the
 * statement ran. Without a SQLSTATE (a deadline, a network error, a 5xx from the endpoint) the
 * statement may have committed, or may still commit.
 */
export function statementRefused(error: unknown): boolean {
  const code = pgErrorOf(error)?.code;
  return code !== undefined && !code.startsWith("08");
}

/**
 * True when the database could not be reached or failed as a service (network error, HTTP 5xx
 * from the endpoint, its deadline (DATABASE_TIMEOUT_MS) passed, or SQLSTATE classes 08/53/57 such
 * as connection failure, out of resources, shutdown), rather than rejecting the query itself.
 * A deadline that passes while the endpoint's answer is being read comes out of the driver as the
 * abort's own TimeoutError, not as a NeonDbError (storage's are DependencyErrors, never bare).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const pg = pgErrorOf(error);
  if (pg?.code) return /^(08|53|57)/.test(pg.code);
  for (const e of causes(error)) {
    const name = (e as { name?: unknown }).name;
    if (name === "NeonDbError") {
      const message = String((e as { message?: unknown }).message);
      return message.startsWith("Error connecting to database") || message.startsWith("Server error");
    }
    if (name === "TimeoutError") return true;
  }
  return false;
}

/**
 * True when a statement refused to run for a caller whose account is closed or gone: the
 * `docvault_require_open_account` check (migration 0007_trash) raises SQLSTATE DV401. The statement
 * wrote nothing.
 */
export function isClosedAccount(error: unknown): boolean {
  return pgErrorOf(error)?.code === "DV401";
}
