// Who may receive a change now: every change to a document they can read now, and the event that
// ended their access to one they no longer can read (their own `permission.revoked`, or the
// `document.deleted` of a document they owned or held a permission on), nothing else about such a
// document. The webhooks' rule (the contract: "only of changes the webhook's owner can read when
// it is delivered", src/webhooks/); `readsNow` also ends presence sockets (src/live/). The changes
// feed and live event sockets list changes by the access the user had when each was made instead,
// recorded as the change is written (change_audience, migration 0020), so that what a cursor
// passed never changes afterwards and a socket sends what the feed lists.
import { type SQL, sql } from "drizzle-orm";

/** The user can read document `documentId` now (owner or any permission, not deleted). */
export const readsNow = (userId: SQL, documentId: SQL) => sql`exists (
  select 1 from documents d
  where d.id = ${documentId} and d.deleted_at is null
    and (d.owner_id = ${userId}
         or exists (select 1 from document_permissions p where p.document_id = d.id and p.user_id = ${userId})))`;

/** Activity row `l` (an alias with id, action, document_id, details) is visible to `userId`. */
export const changeVisibleTo = (userId: SQL, l: SQL) => sql`(
  ${readsNow(userId, sql`${l}.document_id`)}
  or (${l}.action = 'document.deleted' and exists (
        select 1 from documents d
        where d.id = ${l}.document_id and d.deleted_at is not null
          and (d.owner_id = ${userId}
               or exists (select 1 from document_permissions p where p.document_id = d.id and p.user_id = ${userId}))))
  or (${l}.action = 'permission.revoked' and ${l}.details->>'user_id' = ${userId}::text
      and not ${readsNow(userId, sql`${l}.document_id`)}))`;
