// How the domain (documents/, auth/, storage/) reports an expected failure: it throws a Failure
// naming the code, never an HTTP status; the HTTP layer (src/lib/error-handler.ts) turns it into
// problem+json with the status of that code (src/lib/error-codes.ts). Successes are return values.
import type { ErrorCode } from "./error-codes";

export type FieldError = { path: string; message: string };

export class Failure extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  /** Per-field reasons of a validation failure. */
  readonly errors?: FieldError[];
  /** When the caller may try again (a throttle), in seconds. */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, detail: string, options: { errors?: FieldError[]; retryAfterSeconds?: number } = {}) {
    super(detail);
    this.name = "Failure";
    this.code = code;
    this.detail = detail;
    this.errors = options.errors;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A dependency (database, object storage) is unreachable or failing: 503. */
export class DependencyError extends Error {
  readonly dependency: "database" | "storage";

  constructor(dependency: "database" | "storage", cause?: unknown) {
    super(`${dependency} unavailable`, { cause });
    this.name = "DependencyError";
    this.dependency = dependency;
  }
}
