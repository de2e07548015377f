import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { problemResponse } from "./problem";
import { toFieldErrors } from "./validation";

const TARGET_NAMES: Record<string, string> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};

/** A sub-app whose schema failures answer the same 422 problem+json, naming every failing field. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const errors = toFieldErrors(result.error.issues, TARGET_NAMES[result.target] ?? result.target);
      return problemResponse(c, "validation_failed", "The request did not match the schema.", { errors });
    },
  });
}
