// Sharing. Each change is one statement that checks the caller's role, applies the change and
// writes its activity row, so none can happen without the others. Expected failures are thrown
// as Failure, in the order the handlers documented them (no document, role, user, owner, state).
import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { Failure } from "../lib/failure";
import { offsetOf, type Page, type PageRequest } from "../lib/page-request";
import type { Actor } from "./actor";
import { documentNotFound } from "./documents.store";
import { atLeast, type GrantableRole, type Role, roleAtLeast } from "./roles";
import { accessCte, activity, iso } from "./sql";

export type PermissionView = {
  user_id: string;
  email: string;
  role: GrantableRole;
  granted_by: string;
  created_at: string;
};

const roleTooLow = () => new Failure("role_too_low", "Managing access needs the owner or the ADMIN role.");
const ownerPermission = () =>
  new Failure("owner_permission", "The owner always has full access; it cannot be granted, changed or removed.");
const permissionNotFound = () => new Failure("permission_not_found", "This user has no permission on the document.");

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

/** Everyone with a permission, oldest first; any role may read it. */
/** One page of who has access, oldest grant first, with how many there are. */
export async function listPermissions(
  db: Database,
  documentId: string,
  userId: string,
  page: PageRequest,
): Promise<Page<PermissionView>> {
  const result = await db.execute<Row & { user_id: string | null; total: string | number }>(sql`
    with ${accessCte(documentId, userId)},
    p as (
      select * from document_permissions where document_id = (select id from access)
      order by created_at, user_id limit ${page.limit} offset ${offsetOf(page)}
    )
    select (select role from access) as access_role,
           (select count(*) from document_permissions where document_id = (select id from access)) as total,
           ${permissionColumns(sql`p`)}
    from (select 1) one
    left join p on true
    left join users u on u.id = p.user_id
    order by p.created_at, p.user_id`);
  const first = result.rows[0];
  if (!first?.access_role) throw documentNotFound();
  return { items: result.rows.filter((r) => r.user_id).map(toPermission), total: Number(first.total) };
}

export async function grantPermission(
  db: Database,
  input: { documentId: string; target: { userId: string } | { email: string }; role: GrantableRole; actor: Actor },
): Promise<PermissionView> {
  const { documentId, actor } = input;
  const match =
    "userId" in input.target
      ? sql`u.id = ${input.target.userId}::uuid`
      : sql`lower(u.email) = lower(${input.target.email})`;
  const result = await db.execute<Row & { target_id: string | null; owner_id: string | null }>(sql`
    with ${accessCte(documentId, actor.userId)},
    doc as (select d.id, d.owner_id from documents d join access a on a.id = d.id),
    -- FOR SHARE: a grant racing the target's account closure waits for it and then finds the
    -- account closed, or the closure waits for the grant and then removes it (auth.store.ts).
    target as (select u.id, u.email from users u where ${match} and u.is_active for share),
    ins as (
      insert into document_permissions (document_id, user_id, role, granted_by)
      select doc.id, target.id, ${input.role}::permission_role, ${actor.userId}::uuid
      from doc, target, access
      where ${roleAtLeast(sql`access.role`, "ADMIN")} and target.id <> doc.owner_id
      on conflict (document_id, user_id) do nothing
      returning *
    ),
    act as (${activity(actor, "permission.granted", sql`ins.document_id`, sql`jsonb_build_object('user_id', ins.user_id, 'role', ins.role)`)} from ins)
    select (select role from access) as access_role, (select id from target) as target_id,
           (select owner_id from doc) as owner_id, ${permissionColumns(sql`ins`)}
    from (select 1) one left join ins on true left join users u on u.id = ins.user_id`);
  const row = result.rows[0];
  if (!row?.access_role) throw documentNotFound();
  if (!atLeast(row.access_role, "ADMIN")) throw roleTooLow();
  if (!row.target_id) throw new Failure("user_not_found", "No such user.");
  if (row.target_id === row.owner_id) throw ownerPermission();
  if (!row.user_id) throw new Failure("permission_exists", "This user already has a permission; change it with PUT.");
  return toPermission(row);
}

export async function changePermission(
  db: Database,
  input: { documentId: string; userId: string; role: GrantableRole; actor: Actor },
): Promise<PermissionView> {
  const { documentId, actor } = input;
  const result = await db.execute<Row & { owner_id: string | null }>(sql`
    with ${accessCte(documentId, actor.userId)},
    doc as (select d.id, d.owner_id from documents d join access a on a.id = d.id),
    old as (select p.role from document_permissions p where p.document_id = (select id from doc) and p.user_id = ${input.userId}::uuid),
    upd as (
      -- The same role again is no change: nothing is recorded and updated_at stays.
      update document_permissions p set role = ${input.role}::permission_role,
        updated_at = case when p.role = ${input.role}::permission_role then p.updated_at else now() end
      from access a
      where p.document_id = a.id and p.user_id = ${input.userId}::uuid and ${roleAtLeast(sql`a.role`, "ADMIN")}
      returning p.*
    ),
    act as (${activity(actor, "permission.updated", sql`upd.document_id`, sql`jsonb_build_object('user_id', upd.user_id, 'from', (select role from old), 'to', upd.role)`)} from upd
      where upd.role is distinct from (select role from old))
    select (select role from access) as access_role, (select owner_id from doc) as owner_id, ${permissionColumns(sql`upd`)}
    from (select 1) one left join upd on true left join users u on u.id = upd.user_id`);
  const row = result.rows[0];
  if (!row?.access_role) throw documentNotFound();
  if (!atLeast(row.access_role, "ADMIN")) throw roleTooLow();
  if (row.owner_id === input.userId) throw ownerPermission();
  if (!row.user_id) throw permissionNotFound();
  return toPermission(row);
}

/** Owner and ADMIN may revoke anyone's permission; anyone may give up their own. */
export async function revokePermission(
  db: Database,
  input: { documentId: string; userId: string; actor: Actor },
): Promise<void> {
  const { documentId, actor } = input;
  const self = input.userId === actor.userId;
  const result = await db.execute<{ access_role: Role | null; owner_id: string | null; revoked: string | null }>(sql`
    with ${accessCte(documentId, actor.userId)},
    doc as (select d.id, d.owner_id from documents d join access a on a.id = d.id),
    del as (
      delete from document_permissions p using access a
      where p.document_id = a.id and p.user_id = ${input.userId}::uuid and (${roleAtLeast(sql`a.role`, "ADMIN")} or ${self})
      returning p.document_id, p.user_id, p.role
    ),
    act as (${activity(actor, "permission.revoked", sql`del.document_id`, sql`jsonb_build_object('user_id', del.user_id, 'role', del.role)`)} from del)
    select (select role from access) as access_role, (select owner_id from doc) as owner_id, (select user_id from del) as revoked`);
  const row = result.rows[0];
  if (!row?.access_role) throw documentNotFound();
  if (row.revoked) return;
  // The role first, as for grant and change: a READ or EDIT holder removing someone else (the
  // owner included) is 403; only a caller who may manage access learns the owner's is fixed.
  if (!self && !atLeast(row.access_role, "ADMIN")) throw roleTooLow();
  if (row.owner_id === input.userId) throw ownerPermission();
  throw permissionNotFound();
}
