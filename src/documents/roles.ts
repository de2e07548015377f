// The roles a user can hold on a document, defined once: the database enum, the API's schemas
// and every access check derive from these lists. A permission grants one of GRANTABLE_ROLES;
// OWNER is never granted, it is what the document's owner_id holds.
import { type SQL, sql } from "drizzle-orm";

/** Lowest first: each role may do everything the ones before it may. */
export const GRANTABLE_ROLES = ["READ", "EDIT", "ADMIN"] as const;
export type GrantableRole = (typeof GRANTABLE_ROLES)[number];

/** The caller's effective role: a grantable one, or OWNER above them all. */
export const ROLES = [...GRANTABLE_ROLES, "OWNER"] as const;
export type Role = (typeof ROLES)[number];

const rank = (role: Role) => ROLES.indexOf(role);

export const atLeast = (role: Role, needed: Role) => rank(role) >= rank(needed);

/**
 * A role as an SQL literal. Inlined rather than bound so that statements read (and plan) as
 * before; safe because only the constants above get here.
 */
export const roleLiteral = (role: Role) => sql.raw(`'${role}'`);

/** `column` (a role as text) is `needed` or above. */
export const roleAtLeast = (column: SQL, needed: Role) =>
  sql`${column} in (${sql.join(ROLES.filter((role) => atLeast(role, needed)).map(roleLiteral), sql`, `)})`;
