// The document list: everything the caller may read, filtered, sorted and paginated, with the
// total, in one statement. Visibility is the same rule as everywhere: owner, or a permission.
import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { DocumentView, Role } from "./documents.store";

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

const iso = (column: SQL) => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const SORT_COLUMNS: Record<SortKey, SQL> = {
  created_at: sql`d.created_at`,
  updated_at: sql`d.updated_at`,
  title: sql`d.title collate "C"`,
};

export async function listDocuments(db: Database, query: ListQuery): Promise<{ items: DocumentView[]; total: number }> {
  const user = sql`${query.userId}::uuid`;
  const tsquery = query.q ? sql`websearch_to_tsquery('english', ${query.q})` : null;
  const filters: SQL[] = [sql`d.deleted_at is null`, sql`(d.owner_id = ${user} or p.user_id is not null)`];
  if (query.owner === "me") filters.push(sql`d.owner_id = ${user}`);
  if (query.owner === "shared") filters.push(sql`d.owner_id <> ${user}`);
  if (tsquery) filters.push(sql`d.search_vector @@ ${tsquery}`);
  if (query.tags.length > 0) {
    filters.push(sql`(select count(*) from document_tags t
      where t.document_id = d.id and t.tag = any(${sql.param(query.tags)}::text[])) = ${query.tags.length}`);
  }
  if (query.contentType) {
    // Stored text types carry "; charset=utf-8": match the media type itself.
    filters.push(sql`split_part(v.content_type, ';', 1) = ${query.contentType.toLowerCase()}`);
  }
  if (query.createdAfter) filters.push(sql`d.created_at >= ${query.createdAfter.toISOString()}::timestamptz`);
  if (query.createdBefore) filters.push(sql`d.created_at < ${query.createdBefore.toISOString()}::timestamptz`);

  const order = query.sort
    ? sql`${SORT_COLUMNS[query.sort.key]} ${query.sort.descending ? sql`desc` : sql`asc`}, d.id ${query.sort.descending ? sql`desc` : sql`asc`}`
    : tsquery
      ? sql`ts_rank(d.search_vector, ${tsquery}) desc, d.created_at desc, d.id desc`
      : sql`d.created_at desc, d.id desc`;

  const result = await db.execute<{
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
  }>(sql`
    with visible as (
      select d.id, d.title, d.description, d.owner_id, d.current_version, d.created_at, d.updated_at,
             d.search_vector, v.file_name, v.content_type, v.size_bytes, v.sha256,
             case when d.owner_id = ${user} then 'OWNER' else p.role::text end as role
      from documents d
      join document_versions v on v.document_id = d.id and v.version_number = d.current_version
      left join document_permissions p on p.document_id = d.id and p.user_id = ${user}
      where ${sql.join(filters, sql` and `)}
    ),
    page as (
      select d.*, row_number() over (order by ${order}) as ord
      from visible d
      order by ${order}
      limit ${query.limit} offset ${(query.page - 1) * query.limit}
    )
    select (select count(*) from visible) as total, page.ord, page.id, page.title, page.description, page.owner_id,
           page.current_version, page.file_name, page.content_type, page.size_bytes, page.sha256, page.role,
           array(select t.tag from document_tags t where t.document_id = page.id order by t.tag collate "C") as tags,
           ${iso(sql`page.created_at`)} as created_at, ${iso(sql`page.updated_at`)} as updated_at
    from (select 1) one left join page on true
    order by page.ord`);
  const total = Number(result.rows[0]?.total ?? 0);
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
    }));
  return { items, total };
}
