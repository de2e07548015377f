import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../app-env";
import { isClosedAccount, isDatabaseUnavailable, isUnstorableText } from "../db/errors";
import { bearerChallenge } from "./bearer-challenge";
import type { ErrorCode } from "./error-codes";
import { statusOf } from "./error-codes";
import { createLogger, describeError, type Logger } from "./logger";
import { ApiError, DependencyError, Failure, problemResponse } from "./problem";
import { redactPath } from "./redact";
import { NUL_MESSAGE, validationError } from "./validation";

// Hono's body parsing answers these statuses for requests it cannot read.
const HTTP_EXCEPTION_CODES: Partial<Record<number, ErrorCode>> = {
  400: "malformed_body",
  413: "body_too_large",
  415: "unsupported_media_type",
};

function loggerOf(c: Context<AppEnv>): Logger {
  // The context middleware may not have run (e.g. an error before it).
  return c.get("logger") ?? createLogger("info", { request_id: c.get("requestId") });
}

/**
 * The one error path: every thrown error becomes problem+json, without internals. A Failure
 * (thrown by the domain or the HTTP layer) is answered with its code's status; this is the only
 * place where domain outcomes become HTTP.
 */
export const onError: ErrorHandler<AppEnv> = (thrown, c) => {
  // Any text field of a body can carry a NUL; the database is the one place that knows which
  // values it cannot store, so this one check covers every route.
  // Likewise the statements check that their caller's account is open (DELETE /auth/me closes it).
  const error = isUnstorableText(thrown)
    ? validationError([{ path: "body", message: NUL_MESSAGE }])
    : isClosedAccount(thrown)
      ? new Failure("account_inactive", "The account no longer exists.")
      : thrown;
  if (error instanceof Failure) {
    const headers: Record<string, string> = {
      ...(statusOf(error.code) === 401 ? { "WWW-Authenticate": bearerChallenge(error.code, error.detail) } : {}),
      ...(error instanceof ApiError ? error.headers : {}),
    };
    if (error.retryAfterSeconds !== undefined) headers["Retry-After"] = String(error.retryAfterSeconds);
    return problemResponse(c, error.code, error.detail, { errors: error.errors, headers });
  }
  if (error instanceof HTTPException && error.status < 500) {
    // Hono's validators throw these for bodies they cannot parse (malformed JSON or multipart).
    const detail = error.message || "The request could not be processed.";
    const code = HTTP_EXCEPTION_CODES[error.status] ?? "malformed_body";
    return problemResponse(c, code, detail);
  }
  const dependency =
    error instanceof DependencyError ? error.dependency : isDatabaseUnavailable(error) ? "database" : undefined;
  if (dependency) {
    loggerOf(c).error("dependency unavailable", { dependency, ...describeError(error.cause ?? error) });
    return problemResponse(c, `${dependency}_unavailable`, `The ${dependency} is unavailable. Try again later.`, {
      headers: { "Retry-After": "5" },
    });
  }
  loggerOf(c).error("unhandled error", describeError(error));
  return problemResponse(c, "internal_error", "An unexpected error occurred.");
};

/** A route as the app lists it (`app.routes`): its method (`ALL` for middleware) and path pattern. */
type RouteEntry = { method: string; path: string };

/** `/a/:id` as a whole-path regular expression. */
const pathPattern = (path: string) =>
  new RegExp(
    `^${path
      .split(/(:[A-Za-z_][A-Za-z0-9_]*)/)
      .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
      .join("")}$`,
  );

/**
 * Unknown routes: 404 `route_not_found`, or, for a path that exists with other methods, 405
 * `method_not_allowed` with `Allow` naming them (RFC 9110 §15.5.6; HEAD wherever GET is, as
 * Hono serves it); a known path with a trailing slash, 307 to the path without it.
 */
export function notFoundFor(routes: readonly RouteEntry[]): NotFoundHandler<AppEnv> {
  const byPath = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    // Middleware: for every method, or for some under a wildcard prefix (body limits on writes).
    if (method === "ALL" || path.includes("*")) continue;
    const methods = byPath.get(path) ?? new Set<string>();
    methods.add(method);
    if (method === "GET") methods.add("HEAD");
    byPath.set(path, methods);
  }
  const patterns = [...byPath].map(([path, methods]) => ({ pattern: pathPattern(path), methods }));
  return (c) => {
    // A known path with a trailing slash is redirected to the path without it, keeping the method
    // and body (307), as the original design's FastAPI does (redirect_slashes); any other is 404.
    const path = c.req.path;
    if (path.length > 1 && path.endsWith("/")) {
      const trimmed = path.replace(/\/+$/, "");
      if (patterns.some(({ pattern }) => pattern.test(trimmed))) {
        return c.redirect(`${trimmed}${new URL(c.req.url).search}`, 307);
      }
    }
    const allowed = new Set<string>();
    for (const { pattern, methods } of patterns) {
      if (pattern.test(c.req.path)) for (const method of methods) allowed.add(method);
    }
    if (allowed.size > 0 && !allowed.has(c.req.method)) {
      const allow = [...allowed].sort().join(", ");
      return problemResponse(c, "method_not_allowed", `${c.req.method} is not allowed here; use ${allow}.`, {
        headers: { Allow: allow },
      });
    }
    return problemResponse(c, "route_not_found", `No route for ${c.req.method} ${redactPath(c.req.path)}.`);
  };
}
