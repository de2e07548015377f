import type { z } from "@hono/zod-openapi";
import { ApiError, type FieldError } from "./problem";

/** zod issues as the contract's `errors[]`, each path prefixed by where the value was (`body`, `query`, …). */
export function toFieldErrors(issues: readonly z.core.$ZodIssue[], where: string): FieldError[] {
  return issues.map((issue) => ({ path: [where, ...issue.path.map(String)].join("."), message: issue.message }));
}

export function validationError(errors: FieldError[]): ApiError {
  return new ApiError("validation_failed", "The request did not match the schema.", { errors });
}

/** Parses `value` with `schema`, or throws the same 422 the routers' validation hook answers. */
export function parseOr422<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(toFieldErrors(result.error.issues, where));
  return result.data;
}
