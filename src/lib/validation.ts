import type { z } from "@hono/zod-openapi";
import { ApiError, type FieldError } from "./problem";

/** zod issues as the contract's `errors[]`, each path prefixed by where the value was (`body`, `query`, …). */
export function toFieldErrors(issues: readonly z.core.$ZodIssue[], where: string): FieldError[] {
  const errors = new Map<string, FieldError>();
  for (const issue of issues) {
    const path = [where, ...issue.path.map(String)].join(".");
    // Two checks can fail with the same words (a number past both its maximum and the safe
    // integers): the client is told once.
    errors.set(JSON.stringify([path, issue.message]), { path, message: issue.message });
  }
  return [...errors.values()];
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

/** What a text value holding U+0000 is told: PostgreSQL text cannot store it. */
export const NUL_MESSAGE = "Text must not contain NUL (U+0000) characters.";
