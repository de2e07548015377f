import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../app-env";
import { isDatabaseUnavailable, isUnstorableText } from "../db/errors";
import { createLogger, describeError, type Logger } from "./logger";
import { ApiError, DependencyError, problemResponse } from "./problem";
import { validationError } from "./validation";

function loggerOf(c: Context<AppEnv>): Logger {
  // The context middleware may not have run (e.g. an error before it).
  return c.get("logger") ?? createLogger("info", { request_id: c.get("requestId") });
}

/** The one error path: every thrown error becomes problem+json, without internals. */
export const onError: ErrorHandler<AppEnv> = (thrown, c) => {
  // Any text field of a body can carry a NUL; the database is the one place that knows which
  // values it cannot store, so this one check covers every route.
  const error = isUnstorableText(thrown)
    ? validationError([{ path: "body", message: "Text must not contain NUL (U+0000) characters." }])
    : thrown;
  if (error instanceof ApiError) {
    return problemResponse(c, error.status, error.detail, { errors: error.errors, headers: error.headers });
  }
  if (error instanceof HTTPException && error.status < 500) {
    // Hono's validators throw these for bodies they cannot parse (malformed JSON or multipart).
    const status = error.status as ContentfulStatusCode;
    const detail = error.message || "The request could not be processed.";
    return problemResponse(c, status, detail);
  }
  const dependency =
    error instanceof DependencyError ? error.dependency : isDatabaseUnavailable(error) ? "database" : undefined;
  if (dependency) {
    loggerOf(c).error("dependency unavailable", { dependency, ...describeError(error.cause ?? error) });
    return problemResponse(c, 503, `The ${dependency} is unavailable. Try again later.`, {
      headers: { "Retry-After": "5" },
    });
  }
  loggerOf(c).error("unhandled error", describeError(error));
  return problemResponse(c, 500, "An unexpected error occurred.");
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  problemResponse(c, 404, `No route for ${c.req.method} ${c.req.path.slice(0, 200)}.`);
