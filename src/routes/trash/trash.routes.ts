import { createRoute, z } from "@hono/zod-openapi";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { countedPageOf, countedPageQuery } from "../../lib/pagination";
import { DocumentSchema, IdParam } from "../documents/documents.schemas";

const tags = ["Trash"];
const security = AUTHENTICATED;

export const TrashedDocumentSchema = DocumentSchema.extend({
  deleted_at: z.iso.datetime().openapi({ description: "When the document was deleted (moved to the trash)." }),
  purge_at: z.iso.datetime().openapi({
    description:
      "When the scheduled purge becomes due: `deleted_at` + `TRASH_RETENTION_DAYS` (default 30). The job runs " +
      "hourly, so the purge happens at the first run after this moment (later if storage is down). Until the " +
      "purge begins the document can be restored.",
  }),
}).openapi("TrashedDocument");

export const TrashPageSchema = countedPageOf(TrashedDocumentSchema, "TrashPage");

export const listTrash = createRoute({
  operationId: "listTrash",
  method: "get",
  path: "/api/v1/trash",
  tags,
  security,
  summary: "The caller's trash, most recently deleted first",
  description:
    "Deleted documents not yet purged that the caller owns or holds ADMIN on (the roles that may restore " +
    "them); a document shared with the caller as READ or EDIT is not listed. `my_role` is `OWNER` or " +
    "`ADMIN`. A closed account's documents are listed to the holders of ADMIN on them until purged. " +
    "`page` from 1, `limit` 1–100 (default 20).",
  request: { query: countedPageQuery(20) },
  responses: {
    200: { description: "One page of the trash.", content: { "application/json": { schema: TrashPageSchema } } },
    ...problems(401, 422, 503),
  },
});

export const restoreDocument = createRoute({
  operationId: "restoreDocument",
  method: "post",
  path: "/api/v1/trash/{id}/restore",
  tags,
  security,
  summary: "Restore a document from the trash",
  description:
    "Owner or ADMIN. The document comes back exactly as it was deleted: every version (and its bytes), its " +
    "tags and every permission, which were all kept while it was in the trash; `updated_at` is not changed " +
    "(the content did not change), the ETag is. Text extraction does not run in the trash: a document " +
    "restored with `content_status` `pending` (deleted before its text was extracted) is queued for it again. A caller with no access to it, or when it is not in the " +
    "trash (never deleted, already restored, purged), gets 404, and so does a READ or EDIT holder (the caller's trash holds what they own or hold ADMIN on; the " +
    "contract's 404 for a document not in it). Once its purge " +
    "has begun (its bytes are being deleted, e.g. a purge interrupted by a storage failure) it is 409 " +
    "`document_purging`. When the owner's account was closed, the ADMIN who restores it becomes its owner: " +
    "their permission is removed (the owner needs none) and the bytes of all its versions move to their " +
    "storage quota in the same statement. If they do not fit that quota it is 507 `quota_exceeded` and " +
    "nothing changes (the document stays in the trash; free space and retry before `purge_at`).",
  request: { params: IdParam },
  responses: {
    200: {
      description: "The restored document.",
      content: { "application/json": { schema: DocumentSchema } },
      headers: { ETag: { schema: { type: "string" as const }, description: "Strong validator for If-Match." } },
    },
    ...problems(401, 403, 404, 409, 422, 503, 507),
  },
});

export const purgeDocument = createRoute({
  operationId: "purgeDocument",
  method: "delete",
  path: "/api/v1/trash/{id}",
  tags,
  security,
  summary: "Purge a document from the trash now",
  description:
    "Owner only (ADMIN is 403; EDIT, READ or no access, or not in the trash, 404: the caller's trash holds " +
    "what they own or hold ADMIN on). Deletes the stored bytes " +
    "of every version, then in one statement its versions, tags and permissions, the bytes from the owner's " +
    "storage quota, and records `document.purged`. The document's activity stays readable to no one through " +
    "the API (the document is gone) but is kept as the audit trail. When storage fails: 503, every row stays " +
    "and the document stays in the trash, no longer restorable; a retry (or the next scheduled run) finishes " +
    "the purge. 409 `document_purging` while another purge of it runs.",
  request: { params: IdParam },
  responses: { 204: { description: "Purged." }, ...problems(401, 403, 404, 409, 422, 503) },
});
