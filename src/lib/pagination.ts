// Offset pagination of sub-lists (versions, permissions, activity, links, webhooks, trash): two
// query schemas and two page shapes. The contract gives versions and permissions `{items, total, page,
// limit}`; what it calls a "Page of" something (links, webhooks, deliveries) and activity
// ("paginated like lists") is the document list's Page, `{items, total, total_relation, page,
// limit}`, where these lists' totals are always exact.
import { z } from "@hono/zod-openapi";
import type { Page, PageRequest } from "./page-request";

/** The deepest page a sub-list serves; past it a client narrows its question instead. */
const MAX_PAGE = 100_000;

/**
 * The deepest row a Page serves (`page` × `limit`): the contract's "may not pass 10,000 (422)",
 * for the document list and for every other list it calls a Page.
 */
export const MAX_PAGE_DEPTH = 10_000;

/** The 422 of a `page` × `limit` past MAX_PAGE_DEPTH, naming `query.page`; `advice` says how to narrow. */
export const withinPageDepth =
  (advice: string) =>
  (query: { page: number; limit: number }, ctx: z.RefinementCtx<{ page: number; limit: number }>) => {
    // A page past the depth on its own is already refused by its maximum: one error, not two.
    if (query.page <= MAX_PAGE_DEPTH && query.page * query.limit > MAX_PAGE_DEPTH) {
      ctx.addIssue({
        code: "custom",
        path: ["page"],
        message: `page × limit may not pass ${MAX_PAGE_DEPTH} (here ${query.page * query.limit}); ${advice}`,
      });
    }
  };

/** `page` from 1 to `maxPage`, `limit` 1–100 (default `defaultLimit`); out of range is 422. */
const pageFields = (defaultLimit: number, maxPage: number, pageDescription: string) => ({
  page: z.coerce.number().int().min(1).max(maxPage).default(1).openapi({ description: pageDescription }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(defaultLimit)
    .openapi({ description: `Items per page, 1–100 (default ${defaultLimit}).` }),
});

/** The query of a sub-list with the contract's other shape (versions, permissions). */
export const pageQuery = (defaultLimit: number) => z.object(pageFields(defaultLimit, MAX_PAGE, "From 1."));

/**
 * `page` and `limit` of a list answered as the contract's Page (the document list's, and
 * countedPageOf's): a query using them refines itself with withinPageDepth.
 */
export const depthPageFields = (defaultLimit: number, advice = "") =>
  pageFields(
    defaultLimit,
    MAX_PAGE_DEPTH,
    `From 1; \`page\` × \`limit\` may not pass ${MAX_PAGE_DEPTH} (422)${advice ? `: ${advice}` : ""}.`,
  );

/** The query of a list answered as countedPageOf: `page` × `limit` may not pass MAX_PAGE_DEPTH, as in the document list. */
export const countedPageQuery = (defaultLimit: number) =>
  z.object(depthPageFields(defaultLimit)).superRefine(withinPageDepth("a Page serves its first 10,000 items"));

const pageShape = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    total: z.number().int().openapi({ description: "How many items there are in all pages." }),
    page: z.number().int(),
    limit: z.number().int(),
  });

/** The page schema of `item`, named `name` in the OpenAPI document. */
export const pageOf = <T extends z.ZodType>(item: T, name: string) => pageShape(item).openapi(name);

/** The contract's Page of `item`: pageOf's shape and `total_relation`, always `eq` (an exact count). */
export const countedPageOf = <T extends z.ZodType>(item: T, name: string) =>
  pageShape(item)
    .extend({
      total: z.number().int().openapi({ description: "How many items there are in all pages (exact)." }),
      total_relation: z
        .enum(["eq"])
        .openapi({ description: "Always `eq`: this list's total is always exact (as in the document list's Page)." }),
    })
    .openapi(name);

/** The body of a countedPageOf answer: one page and its exact total. */
export const countedPage = <T>({ items, total }: Page<T>, { page, limit }: PageRequest) => ({
  items,
  total,
  total_relation: "eq" as const,
  page,
  limit,
});
