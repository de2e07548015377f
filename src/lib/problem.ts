// One error type and one formatter: every error response is RFC 9457 problem+json.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, statusOf } from "./error-codes";
import { DependencyError, Failure, type FieldError } from "./failure";

export type { FieldError };

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: FieldError[];
  request_id?: string;
};

export const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
  507: "Insufficient Storage",
};

/**
 * A failure decided by the HTTP layer itself (a missing token, a malformed body), with headers
 * of its own if it needs any (a 401's WWW-Authenticate comes from its code, in onError). The
 * domain throws plain Failures.
 */
export class ApiError extends Failure {
  readonly headers?: Record<string, string>;

  constructor(
    code: ErrorCode,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string>; retryAfterSeconds?: number } = {},
  ) {
    super(code, detail, options);
    this.name = "ApiError";
    this.headers = options.headers;
  }
}

export { DependencyError, Failure };

export function problemBody(code: ErrorCode, detail: string, extra: Partial<Problem> = {}): Problem {
  const status = statusOf(code);
  // `about:blank` tells clients that the status code is the problem type (RFC 9457 §4.2.1); `code`
  // tells apart failures that share a status.
  return { type: "about:blank", title: STATUS_TITLES[status] ?? "Error", status, detail, code, ...extra };
}

export function problemResponse(
  c: Context,
  code: ErrorCode,
  detail: string,
  extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
): Response {
  const requestId = c.get("requestId") as string | undefined;
  const body = problemBody(code, detail, {
    ...(extra.errors ? { errors: extra.errors } : {}),
    ...(requestId ? { request_id: requestId } : {}),
  });
  const headers = new Headers(extra.headers);
  headers.set("Content-Type", "application/problem+json");
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, Object.fromEntries(headers));
}
