// Sharing. Each change is one statement that checks the caller's role, applies the change and
// writes its activity row, so none can happen without the others.
import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Actor, accessCte, activity, iso, type Role } from "./documents.store";

export type GrantableRole = "READ" | "EDIT" | "ADMIN";
export type PermissionView = {
  user_id: string;
  email: string;
  role: GrantableRole;
  granted_by: string;
  created_at: string;
};

export type PermissionFailure = "not_found" | "forbidden" | "no_user" | "owner" | "exists" | "no_permission";
type Result<T> = { ok: true; value: T } | { ok: false; reason: PermissionFailure };

const ADMINS = sql`('OWNER', 'ADMIN')`;

const permissionColumns = (alias: SQL) =>
  sql`${alias}.user_id, u.email, ${alias}.role::text as role, ${alias}.granted_by, ${iso(sql`${alias}.created_at`)} as created_at`;

type Row = Partial<PermissionView> & { access_role: Role | null };

/** Exactly the contract's fields, whatever else the statement selected. */
const toPermission = (row: Partial<PermissionView>): PermissionView => ({
  user_id: row.user_id as string,
  email: row.email as string,
  role: row.role as GrantableRole,
  granted_by: row.granted_by as string,
  created_at: row.created_at as string,
});

export async function listPermissions(
  db: Database,
  documentId: string,
  userId: string,
): Promise<PermissionView[] | null> {
  const result = await db.execute<Row & { user_id: string | null }>(sql`
    with ${accessCte(documentId, userId)}
    select (select role from access) as access_role, ${permissionColumns(sql`p`)}
    from (select 1) one
    left join document_permissions p on p.document_id = (select id from access)
    left join users u on u.id = p.user_id
    order by p.created_at, p.user_id`);
  if (!result.rows[0]?.access_role) return null;
  return result.rows.filter((r) => r.user_id).map(toPermission);
}

export async function grantPermission(
  db: Database,
  input: { documentId: string; target: { userId: string } | { email: string }; role: GrantableRole; actor: Actor },
): Promise<Result<PermissionView>> {
  const { documentId, actor } = input;
  const match =
    "userId" in input.target
      ? sql`u.id = ${input.target.userId}::uuid`
      : sql`lower(u.email) = lower(${input.target.email})`;
  const result = await db.execute<Row & { target_id: string | null; owner_id: string | null }>(sql`
    with ${accessCte(documentId, actor.userId)},
    doc as (select d.id, d.owner_id from documents d join access a on a.id = d.id),
    target as (select u.id, u.email from users u where ${match} and u.is_active),
    ins as (
      insert into document_permissions (document_id, user_id, role, granted_by)
      select doc.id, target.id, ${input.role}::permission_role, ${actor.userId}::uuid
      from doc, target, access
      where access.role in ${ADMINS} and target.id <> doc.owner_id
      on conflict (document_id, user_id) do nothing
      returning *
    ),
    act as (${activity(actor, "permission.granted", sql`ins.document_id`, sql`jsonb_build_object('user_id', ins.user_id, 'role', ins.role)`)} from ins)
    select (select role from access) as access_role, (select id from target) as target_id,
           (select owner_id from doc) as owner_id, ${permissionColumns(sql`ins`)}
    from (select 1) one left join ins on true left join users u on u.id = ins.user_id`);
  const row = result.rows[0];
  if (!row?.access_role) return { ok: false, reason: "not_found" };
  if (row.access_role !== "OWNER" && row.access_role !== "ADMIN") return { ok: false, reason: "forbidden" };
  if (!row.target_id) return { ok: false, reason: "no_user" };
  if (row.target_id === row.owner_id) return { ok: false, reason: "owner" };
  if (!row.user_id) return { ok: false, reason: "exists" };
  return { ok: true, value: toPermission(row) };
}

export async function changePermission(
  db: Database,
  input: { documentId: string; userId: string; role: GrantableRole; actor: Actor },
): Promise<Result<PermissionView>> {
  const { documentId, actor } = input;
  const result = await db.execute<Row & { owner_id: string | null }>(sql`
    with ${accessCte(documentId, actor.userId)},
    doc as (select d.id, d.owner_id from documents d join access a on a.id = d.id),
    old as (select p.role from document_permissions p where p.document_id = (select id from doc) and p.user_id = ${input.userId}::uuid),
    upd as (
      update document_permissions p set role = ${input.role}::permission_role, updated_at = now()
      from access a
      where p.document_id = a.id and p.user_id = ${input.userId}::uuid and a.role in ${ADMINS}
      returning p.*
    ),
    act as (${activity(actor, "permission.updated", sql`upd.document_id`, sql`jsonb_build_object('user_id', upd.user_id, 'from', (select role from old), 'to', upd.role)`)} from upd)
    select (select role from access) as access_role, (select owner_id from doc) as owner_id, ${permissionColumns(sql`upd`)}
    from (select 1) one left join upd on true left join users u on u.id = upd.user_id`);
  const row = result.rows[0];
  if (!row?.access_role) return { ok: false, reason: "not_found" };
  if (row.access_role !== "OWNER" && row.access_role !== "ADMIN") return { ok: false, reason: "forbidden" };
  if (row.owner_id === input.userId) return { ok: false, reason: "owner" };
  if (!row.user_id) return { ok: false, reason: "no_permission" };
  return { ok: true, value: toPermission(row) };
}

/** Owner and ADMIN may revoke anyone's permission; anyone may give up their own. */
export async function revokePermission(
  db: Database,
  input: { documentId: string; userId: string; actor: Actor },
): Promise<Result<null>> {
  const { documentId, actor } = input;
  const self = input.userId === actor.userId;
  const result = await db.execute<{ access_role: Role | null; owner_id: string | null; revoked: string | null }>(sql`
    with ${accessCte(documentId, actor.userId)},
    doc as (select d.id, d.owner_id from documents d join access a on a.id = d.id),
    del as (
      delete from document_permissions p using access a
      where p.document_id = a.id and p.user_id = ${input.userId}::uuid and (a.role in ${ADMINS} or ${self})
      returning p.document_id, p.user_id, p.role
    ),
    act as (${activity(actor, "permission.revoked", sql`del.document_id`, sql`jsonb_build_object('user_id', del.user_id, 'role', del.role)`)} from del)
    select (select role from access) as access_role, (select owner_id from doc) as owner_id, (select user_id from del) as revoked`);
  const row = result.rows[0];
  if (!row?.access_role) return { ok: false, reason: "not_found" };
  if (row.owner_id === input.userId) return { ok: false, reason: "owner" };
  if (row.revoked) return { ok: true, value: null };
  if (!self && row.access_role !== "OWNER" && row.access_role !== "ADMIN") return { ok: false, reason: "forbidden" };
  return { ok: false, reason: "no_permission" };
}

export type ActivityView = {
  id: string;
  action: string;
  actor_id: string | null;
  document_id: string;
  details: Record<string, unknown>;
  created_at: string;
};

export async function listActivity(
  db: Database,
  input: { documentId: string; userId: string; page: number; limit: number },
): Promise<{ items: ActivityView[]; total: number } | null> {
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
  if (!result.rows[0]?.has_access) return null;
  return {
    total: Number(result.rows[0].total),
    items: result.rows.filter((r) => r.id).map(({ has_access: _, total: __, ...r }) => r as ActivityView),
  };
}
