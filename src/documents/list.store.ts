// The document list: everything the caller may read, filtered, sorted and paginated, with the
// total, in one statement. Visibility is the same rule as everywhere: owner, or a permission.
import { type SQL, sql } from "drizzle-orm";
import { highlightColumn, renderHighlight } from "../content/highlight";
import type { Database } from "../db/client";
import { type Role, roleLiteral } from "./roles";
import { type ContentStatus, callerOpen, type DocumentView, iso, searchableQuery } from "./sql";

/** A listed document; with `q`, its highlight (HTML: only `<mark>` is markup). */
export type ListedDocument = DocumentView & { highlight?: string };

export type SortKey = "created_at" | "updated_at" | "title";
export type ListQuery = {
  userId: string;
  q?: string;
  tags: string[];
  owner: "me" | "shared" | "all";
  contentType?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  sort?: { key: SortKey; descending: boolean };
  page: number;
  limit: number;
};

const SORT_COLUMNS: Record<SortKey, SQL> = {
  created_at: sql`d.created_at`,
  updated_at: sql`d.updated_at`,
  title: sql`d.title collate "C"`,
};

/** A search uses at most this many characters of `q`; the contract accepts any text. */
export const MAX_QUERY_CHARS = 500;

/**
 * `q` as searched: whole when it is at most MAX_QUERY_CHARS characters, else its words up to
 * there (cut at the last whitespace, or at the limit in a text without any), as search engines
 * cap a query's words rather than refuse it. Bounds the tsquery every candidate row is matched
 * against and the highlight's stems.
 */
export function searchedText(q: string): string {
  // UTF-16 units are at least as many as code points: most queries stop here, uncounted.
  if (q.length <= MAX_QUERY_CHARS) return q;
  const points = Array.from(q);
  if (points.length <= MAX_QUERY_CHARS) return q;
  const head = points.slice(0, MAX_QUERY_CHARS + 1).join("");
  const cut = head.search(/\s\S*$/u);
  return cut > 0 ? head.slice(0, cut) : points.slice(0, MAX_QUERY_CHARS).join("");
}

/**
 * A client's instant as a timestamptz, from its epoch milliseconds: every RFC 3339 date-time is
 * one (years 0000–9999, any offset), while its ISO text is not always PostgreSQL's: year 0000
 * ("0000-01-01T00:00:00.000Z"), and the years an offset pushes past 0000 or 9999 ("-000001-…",
 * "+010000-…"), are refused as out of range (22008), which was a 500.
 */
const instant = (date: Date) => sql`to_timestamp(${date.getTime()}::double precision / 1000)`;

/** Lists count matches up to this many; past it, `total` is this and its relation `gte` (the contract). */
export const MAX_COUNTED = 10_000;

/**
 * The list statement. Visibility is two sources, each read in the list's order from its own
 * index and cut at the rows the page can need: the caller's own documents
 * (documents_owner_created_idx) and the documents shared with them
 * (document_permissions_user_created_idx, over the grant's copy of its document's created_at and
 * trashed state). So a page costs what it holds, whether the caller sees two hundred documents or
 * two hundred thousand: each source yields at most page × limit rows (≤ 10,000, the contract's
 * depth), and the total is counted only up to MAX_COUNTED + 1 rows per source (index-only when
 * nothing is filtered). A search ranks its candidates, which are the newest MAX_COUNTED + 1
 * matches of each source: exact whenever at most 10,000 documents match (total_relation `eq`);
 * past that, the best of the newest matches (DESIGN.md, "Listing at scale").
 */
export function listStatement(query: ListQuery): SQL {
  const user = sql`${query.userId}::uuid`;
  const q = query.q ? searchableQuery(searchedText(query.q)) : undefined;
  const tsquery = q ? sql`websearch_to_tsquery('english', ${q})` : null;
  const filters: SQL[] = [];
  // The match is written `(… @@ …)::int > 0` so that it stays a row filter (a bare `@@` let the
  // planner AND a GIN bitmap of every document containing a common word with the caller's few
  // hundred rows, slower than testing those rows) and so that the planner guesses a third of the
  // rows match (an inequality's default) instead of its `@@` estimate: with 0.5% (the estimate
  // for the expression the match once was) it read and sorted all 120,000 rows a heavy caller
  // sees rather than walking them in order to the 10,001st match, 3.7 s against 1.4 s at
  // 1,000,000 documents (DESIGN.md, "Listing at scale"); the column's word statistics would make
  // the plan change with the words searched.
  // The document matches on its metadata and its content together (one vector, so "budget 2024"
  // finds a title with one word and a text with the other): documents.match_vector, the two
  // concatenated by triggers (migration 0014), with the current version's content only (an older
  // version's text is never searched). Stored rather than concatenated here: the walk then reads
  // one row per candidate, not the document and its content (5x faster for a heavy caller).
  if (tsquery) filters.push(sql`(d.match_vector @@ ${tsquery})::int > 0`);
  if (query.tags.length > 0) {
    filters.push(sql`(select count(*) from document_tags t
      where t.document_id = d.id and t.tag = any(${sql.param(query.tags)}::text[])) = ${query.tags.length}`);
  }
  if (query.contentType) {
    // Stored text types carry "; charset=utf-8": match the media type itself, on both sides, so
    // a document's own content_type ("text/plain; charset=utf-8") finds it too.
    const mediaType = (query.contentType.split(";", 1)[0] ?? "").trim().toLowerCase();
    filters.push(sql`exists (select 1 from document_versions cv
      where cv.document_id = d.id and cv.version_number = d.current_version
        and split_part(cv.content_type, ';', 1) = ${mediaType})`);
  }
  if (query.createdAfter) filters.push(sql`d.created_at >= ${instant(query.createdAfter)}`);
  if (query.createdBefore) filters.push(sql`d.created_at < ${instant(query.createdBefore)}`);
  const filtered = filters.length > 0;
  const where = sql.join([sql`d.deleted_at is null`, callerOpen(query.userId), ...filters], sql` and `);

  // Joins written as LATERAL ... OFFSET 0 are looked up row by row, in the order the rows come
  // (see `walks` below); the planner, which cannot know how many rows a text match keeps, would
  // otherwise hash-join every visible row (a sequential scan of a million documents).
  const columns = sql`d.id, d.title, d.description, d.owner_id, d.current_version, d.created_at, d.updated_at${
    tsquery ? sql`, ts_rank(d.match_vector, ${tsquery}) as rank` : sql``
  }`;

  // The order within a source, written as its index stores it (`nulls last` on descending keys:
  // the columns are never null, and a `desc` alone would not match the index). For created_at the
  // shared source orders by the grant's copy, which its index holds.
  const descending = query.sort ? query.sort.descending : true;
  const direction = descending ? sql`desc nulls last` : sql`asc nulls first`;
  const byCreated = (created: SQL, id: SQL) => sql`${created} ${direction}, ${id} ${direction}`;
  // Lists in created_at order (the default, a ranked search's candidates, or sort=created_at) can
  // read the shared source as a walk (below); other sorts order the joined rows.
  const walks = !query.sort || query.sort.key === "created_at";
  const sourceOrder = (created: SQL, id: SQL) =>
    walks
      ? byCreated(created, id)
      : sql`${SORT_COLUMNS[query.sort?.key ?? "created_at"]} ${direction}, d.id ${direction}`;
  // A ranked search takes each source's newest candidates; any other order takes the rows the page can reach.
  const ranked = Boolean(tsquery && !query.sort);
  const reach = ranked ? MAX_COUNTED + 1 : query.page * query.limit;

  const ownSource = (select: SQL, order: boolean) => sql`(select ${select} from documents d
      where d.owner_id = ${user} and ${where}
      ${order ? sql`order by ${sourceOrder(sql`d.created_at`, sql`d.id`)}` : sql``} limit ${order ? reach : MAX_COUNTED + 1})`;
  // The shared source in created_at order is a walk: the caller's grants in index order, each
  // grant's document (and content) looked up in turn, stopping once the limit is reached. A
  // caller granted 120,000 documents then pays for the rows up to the limit, not for all of them.
  const sharedSource = (select: SQL, order: boolean) =>
    walks || !order
      ? sql`(select ${select}
      from document_permissions p
      cross join lateral (select d.* from documents d where d.id = p.document_id offset 0) d
      where p.user_id = ${user} and not p.document_trashed and ${where}
      ${order ? sql`order by ${sourceOrder(sql`p.document_created_at`, sql`p.document_id`)}` : sql``} limit ${order ? reach : MAX_COUNTED + 1})`
      : sql`(select ${select}
      from document_permissions p join documents d on d.id = p.document_id
      where p.user_id = ${user} and not p.document_trashed and ${where}
      order by ${sourceOrder(sql`p.document_created_at`, sql`p.document_id`)} limit ${reach})`;
  // Counting needs no document when nothing is filtered: the grant's copy says whether it is trashed.
  const sharedCount = filtered
    ? sharedSource(sql`1`, false)
    : sql`(select 1 from document_permissions p
        where p.user_id = ${user} and not p.document_trashed and ${callerOpen(query.userId)} limit ${MAX_COUNTED + 1})`;

  const sources: SQL[] = [];
  const counted: SQL[] = [];
  if (query.owner !== "shared") {
    sources.push(ownSource(sql`${columns}, ${roleLiteral("OWNER")}::text as role`, true));
    counted.push(ownSource(sql`1`, false));
  }
  if (query.owner !== "me") {
    sources.push(sharedSource(sql`${columns}, p.role::text as role`, true));
    counted.push(sharedCount);
  }

  // The page's order: the sources' own, over their merged rows, or the rank.
  const order = ranked
    ? sql`d.rank desc, d.created_at desc nulls last, d.id desc nulls last`
    : sourceOrder(sql`d.created_at`, sql`d.id`);

  // A ranked search's candidates are its counted rows: read once (the CTE, used twice, is
  // materialised), since each costs a match over metadata and content. Otherwise the page reads
  // only what it shows and the count is separate (index-only when nothing is filtered).
  const total = ranked
    ? sql`(select count(*) from visible)`
    : sql.join(
        counted.map((source) => sql`(select count(*) from ${source} counted)`),
        sql` + `,
      );

  return sql`
    with visible as (${sql.join(sources, sql` union all `)}),
    page as (
      select d.*, row_number() over (order by ${order}) as ord
      from visible d
      order by ${order}
      limit ${query.limit} offset ${(query.page - 1) * query.limit}
    )
    select ${total} as total,
           page.ord, page.id, page.title, page.description, page.owner_id,
           page.current_version, v.file_name, v.content_type, v.size_bytes, v.sha256, page.role,
           array(select t.tag from document_tags t where t.document_id = page.id order by t.tag collate "C") as tags,
           ${iso(sql`page.created_at`)} as created_at, ${iso(sql`page.updated_at`)} as updated_at,
           coalesce(pc.status, 'pending') as content_status${tsquery ? sql`, ${highlightColumn(tsquery, q as string)} as highlight` : sql``}
    from (select 1) one
    left join (page join document_versions v on v.document_id = page.id and v.version_number = page.current_version) on true
    left join document_contents pc on pc.document_id = page.id and pc.version_number = page.current_version
    order by page.ord`;
}

type ListRow = {
  total: string | number;
  ord: number | null;
  id: string | null;
  title: string;
  description: string | null;
  owner_id: string;
  current_version: number;
  tags: string[];
  file_name: string;
  content_type: string;
  size_bytes: string | number;
  sha256: string;
  created_at: string;
  updated_at: string;
  role: Role;
  content_status: ContentStatus;
  highlight?: string | null;
};

export async function listDocuments(
  db: Database,
  query: ListQuery,
): Promise<{ items: ListedDocument[]; total: number; relation: "eq" | "gte" }> {
  const result = await db.execute<ListRow>(listStatement(query));
  const counted = Number(result.rows[0]?.total ?? 0);
  const items = result.rows
    .filter((r) => r.id !== null)
    .map((r) => ({
      id: r.id as string,
      title: r.title,
      description: r.description,
      tags: r.tags,
      owner_id: r.owner_id,
      current_version: Number(r.current_version),
      file_name: r.file_name,
      content_type: r.content_type,
      size_bytes: Number(r.size_bytes),
      sha256: r.sha256,
      created_at: r.created_at,
      updated_at: r.updated_at,
      my_role: r.role,
      content_status: r.content_status,
      ...(query.q ? { highlight: renderHighlight(r.highlight ?? "") } : {}),
    }));
  return counted > MAX_COUNTED
    ? { items, total: MAX_COUNTED, relation: "gte" }
    : { items, total: counted, relation: "eq" };
}
