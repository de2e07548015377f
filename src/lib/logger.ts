// Structured JSON logs, one object per line: Workers Logs indexes the fields. Callers pass
// identifiers and outcomes only; request bodies, headers, tokens and passwords are never logged.
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;
export type Logger = Record<LogLevel, (msg: string, fields?: LogFields) => void>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(minLevel: LogLevel, base: LogFields = {}): Logger {
  const write =
    (level: LogLevel) =>
    (msg: string, fields: LogFields = {}) => {
      if (RANK[level] < RANK[minLevel]) return;
      const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields });
      if (level === "error") console.error(line);
      else if (level === "warn") console.warn(line);
      else console.log(line);
    };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/** What may be logged about an unexpected error: its kind and place, never its message's data. */
export function describeError(error: unknown): LogFields {
  if (!(error instanceof Error)) return { error_type: typeof error };
  // Stack frames only: the stack's first lines repeat the message.
  const frames = error.stack
    ?.split("\n")
    .filter((line) => line.trimStart().startsWith("at "))
    .slice(0, 6)
    .join("\n");
  const fields: LogFields = { error_name: error.name, stack: frames };
  // Drizzle's wrapper puts the SQL text and its parameters in the message; log the cause's
  // SQLSTATE and constraint instead.
  const cause = (error as { cause?: unknown }).cause as { code?: unknown; constraint?: unknown } | undefined;
  const code = cause?.code ?? (error as { code?: unknown }).code;
  if (typeof code === "string") fields.pg_code = code;
  if (typeof cause?.constraint === "string") fields.pg_constraint = cause.constraint;
  const isQueryError = error.message.startsWith("Failed query");
  if (isQueryError && cause instanceof Error) fields.error_message = cause.message.slice(0, 300);
  else if (!isQueryError) fields.error_message = error.message.slice(0, 300);
  return fields;
}
