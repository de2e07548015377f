// Reading a document's audit trail. Rows are written by the statements that make each change
// (the `activity` fragment in sql.ts), never here.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ActivityAction } from "./activity-actions";
import { documentNotFound } from "./documents.store";
import { accessCte, iso } from "./sql";

export type ActivityView = {
  id: string;
  action: ActivityAction;
  actor_id: string | null;
  document_id: string;
  details: Record<string, unknown>;
  created_at: string;
};

/** One page, newest first, with the total; any role may read it. */
export async function listActivity(
  db: Database,
  input: { documentId: string; userId: string; page: number; limit: number },
): Promise<{ items: ActivityView[]; total: number }> {
  const result = await db.execute<Partial<ActivityView> & { has_access: boolean; total: string | number }>(sql`
    with ${accessCte(input.documentId, input.userId)},
    page as (
      select l.id, l.action, l.actor_id, l.document_id, l.details, l.created_at
      from activity_logs l where l.document_id = (select id from access)
      order by l.created_at desc, l.id desc
      limit ${input.limit} offset ${(input.page - 1) * input.limit}
    )
    select exists (select 1 from access) as has_access,
           (select count(*) from activity_logs where document_id = (select id from access)) as total,
           page.id, page.action, page.actor_id, page.document_id, page.details, ${iso(sql`page.created_at`)} as created_at
    from (select 1) one left join page on true
    order by page.created_at desc nulls last, page.id desc`);
  if (!result.rows[0]?.has_access) throw documentNotFound();
  return {
    total: Number(result.rows[0].total),
    items: result.rows.filter((r) => r.id).map(({ has_access: _, total: __, ...r }) => r as ActivityView),
  };
}
