import type { AppRouteHandler } from "../../app-env";
import { listDocuments as listDocumentRows, type SortKey } from "../../documents/list.store";
import type { listDocuments } from "./documents.routes";
import { tagsFromInput } from "./tags-input";

/** A bound as an instant: a date is its midnight UTC, and a date-time without an offset is UTC too. */
const toDate = (value: string) =>
  new Date(value.length === 10 ? `${value}T00:00:00Z` : /(z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`);

export const listDocumentsHandler: AppRouteHandler<typeof listDocuments> = async (c) => {
  const query = c.req.valid("query");
  const tags = tagsFromInput(query.tags, "query.tags");
  const sort = query.sort
    ? { key: query.sort.replace(/^-/, "") as SortKey, descending: query.sort.startsWith("-") }
    : undefined;
  // Any text is a valid search (the contract): a NUL, which PostgreSQL text cannot hold, separates
  // words like any other punctuation.
  const q = query.q?.replaceAll("\u0000", " ").trim();
  const { items, total, relation } = await listDocumentRows(c.get("db"), {
    userId: c.get("userId"),
    q: q || undefined,
    tags,
    owner: query.owner,
    contentType: query.content_type?.trim() || undefined,
    createdAfter: query.created_after ? toDate(query.created_after) : undefined,
    createdBefore: query.created_before ? toDate(query.created_before) : undefined,
    sort,
    page: query.page,
    limit: query.limit,
  });
  return c.json({ items, total, total_relation: relation, page: query.page, limit: query.limit }, 200);
};
