// One error type and one formatter: every error response is RFC 9457 problem+json.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export type FieldError = { path: string; message: string };

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
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
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** An error meant for the client: its status, detail and headers are safe to show. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly detail: string;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers;
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

export function problemBody(status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  // `about:blank` tells clients that the status code is the problem type (RFC 9457 §4.2.1).
  return { type: "about:blank", title: STATUS_TITLES[status] ?? "Error", status, detail, ...extra };
}

export function problemResponse(
  c: Context,
  status: ContentfulStatusCode,
  detail: string,
  extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
): Response {
  const requestId = c.get("requestId") as string | undefined;
  const body = problemBody(status, detail, {
    ...(extra.errors ? { errors: extra.errors } : {}),
    ...(requestId ? { request_id: requestId } : {}),
  });
  const headers = new Headers(extra.headers);
  headers.set("Content-Type", "application/problem+json");
  return c.body(JSON.stringify(body), status, Object.fromEntries(headers));
}
