import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { problemResponse } from "./problem";
import { NUL_MESSAGE, toFieldErrors } from "./validation";

const TARGET_NAMES: Record<string, string> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};

/**
 * Paths (under `at`) of the strings in `value` that hold a NUL, which PostgreSQL cannot store.
 * Passwords are only ever hashed, never stored: any character is theirs to use.
 */
function nulPaths(value: unknown, at: string): string[] {
  if (typeof value === "string") return value.includes("\u0000") ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((item, index) => nulPaths(item, `${at}.${index}`));
  if (value !== null && typeof value === "object")
    return Object.entries(value).flatMap(([key, item]) =>
      /password/i.test(key) ? [] : nulPaths(item, `${at}.${key}`),
    );
  return [];
}

/**
 * A sub-app whose schema failures answer the same 422 problem+json, naming every failing field.
 * A value that passed its schema but holds a NUL is refused here too, naming its field (the
 * error handler's check of what the database refused can only say "body"; multipart fields,
 * read by the handlers, still rely on it).
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      const where = TARGET_NAMES[result.target] ?? result.target;
      if (result.success) {
        // Bodies only: a query's text is searched, never stored (`q` takes any text).
        if (where !== "body") return;
        const paths = nulPaths(result.data, where);
        if (paths.length === 0) return;
        const errors = paths.map((path) => ({ path, message: NUL_MESSAGE }));
        return problemResponse(c, "validation_failed", "The request did not match the schema.", { errors });
      }
      const errors = toFieldErrors(result.error.issues, where);
      return problemResponse(c, "validation_failed", "The request did not match the schema.", { errors });
    },
  });
}
