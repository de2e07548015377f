// Who may receive a change now: a change the feed lists to them (they could read its document
// when it was made: change_audience, migration 0020) and that they can still read, or the event
// that ended their access to one they no longer can read (their own `permission.revoked`, or the
// `document.deleted` of a document they owned or held a permission on), nothing else about such a
// document. The webhooks' rule (the contract: "only of changes the webhook's owner can read when
// it is delivered", src/webhooks/); `readsNow` also ends presence sockets (src/live/). The changes
// feed and live event sockets list changes by the recorded audience alone, so that what a cursor
// passed never changes afterwards and a socket sends what the feed lists.
import { type SQL, sql } from "drizzle-orm";

/** The user can read document `documentId` now (owner or any permission, not deleted). */
export const readsNow = (userId: SQL, documentId: SQL) => sql`exists (
  select 1 from documents d
  where d.id = ${documentId} and d.deleted_at is null
    and (d.owner_id = ${userId}
         or exists (select 1 from document_permissions p where p.document_id = d.id and p.user_id = ${userId})))`;

/** `userId` could read the document of activity row `l` when `l` was made (or lost access by it). */
const readWhenMade = (userId: SQL, l: SQL) => sql`exists (
  select 1 from change_audience a where a.user_id = ${userId} and a.xact_id = ${l}.xact_id and a.seq = ${l}.seq)`;

/**
 * Activity row `l` (an alias with id, xact_id, seq, action, document_id, details) may be sent to
 * `userId`: they could read its document when it was made (as the feed lists it) and can still
 * read it, or it is the event that ended their access. Without the first condition, a change made
 * while a webhook's owner had no access was sent when the dispatcher reached it after a re-grant.
 */
export const changeVisibleTo = (userId: SQL, l: SQL) => sql`(${readWhenMade(userId, l)} and (
  ${readsNow(userId, sql`${l}.document_id`)}
  or (${l}.action = 'document.deleted' and exists (
        select 1 from documents d
        where d.id = ${l}.document_id and d.deleted_at is not null
          and (d.owner_id = ${userId}
               or exists (select 1 from document_permissions p where p.document_id = d.id and p.user_id = ${userId}))))
  or (${l}.action = 'permission.revoked' and ${l}.details->>'user_id' = ${userId}::text
      and not ${readsNow(userId, sql`${l}.document_id`)})))`;
