// The contract's lengths are in characters, and a character is a Unicode code point, as JSON
// Schema's maxLength counts it. zod's .max() counts UTF-16 code units, where an emoji or a
// CJK extension character is two, so a 500-character title of such characters would be refused.
import { z } from "@hono/zod-openapi";

/** Unicode code points in `value` (a surrogate pair is one). */
export function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

/**
 * A string of at most `max` characters (code points). The UTF-16 bound (two units per code
 * point) refuses a flood before anything is counted; the OpenAPI document says `maxLength: max`.
 */
export const upToCharacters = (max: number, schema: z.ZodString = z.string()) =>
  schema
    .max(max * 2, `Too big: expected string to have <=${max} characters`)
    .refine((value) => codePoints(value) <= max, `Too big: expected string to have <=${max} characters`)
    .openapi({ maxLength: max });
