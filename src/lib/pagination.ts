// Offset pagination of sub-lists (versions, permissions, activity): one query schema and one page
// shape, `{items, total, page, limit}`, so every list reads and answers alike.
import { z } from "@hono/zod-openapi";

/** The deepest page a sub-list serves; past it a client narrows its question instead. */
const MAX_PAGE = 100_000;

/** `page` from 1, `limit` 1–100 (default `defaultLimit`); out of range is 422. */
export const pageQuery = (defaultLimit: number) =>
  z.object({
    page: z.coerce.number().int().min(1).max(MAX_PAGE).default(1).openapi({ description: "From 1." }),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(100)
      .default(defaultLimit)
      .openapi({ description: `Items per page, 1–100 (default ${defaultLimit}).` }),
  });

/** The page schema of `item`, named `name` in the OpenAPI document. */
export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z
    .object({
      items: z.array(item),
      total: z.number().int().openapi({ description: "How many items there are in all pages." }),
      page: z.number().int(),
      limit: z.number().int(),
    })
    .openapi(name);
