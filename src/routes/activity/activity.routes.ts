import { createRoute, z } from "@hono/zod-openapi";
import { ACTIVITY_ACTIONS } from "../../documents/activity-actions";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { countedPageOf, countedPageQuery } from "../../lib/pagination";
import { IdParam } from "../documents/documents.schemas";

export const ActivitySchema = z
  .object({
    id: z.guid(),
    action: z.enum(ACTIVITY_ACTIONS),
    actor_id: z
      .guid()
      .nullable()
      .openapi({
        description:
          "The user who made the change; null when no account did: `link.downloaded` (the public, through a share " +
          "link) and `content.indexed` (the service).",
      }),
    document_id: z.guid(),
    details: z.record(z.string(), z.unknown()).openapi({
      description:
        "What changed; never secrets. For `content.indexed` (the service finished extracting a version's text, " +
        "in the background after an upload or a new version; recorded once per version and outcome, never for " +
        "a version that was no longer current or a document in the trash): `version_number`, `status` " +
        "(`indexed`, `unsupported` or `failed`, as `content_status` then reads), and when `indexed`, " +
        "`characters` (the stored text's length in Unicode code points) and `truncated` (true when the text " +
        "went on past the service's limit, `CONTENT_MAX_CHARS`, and only its beginning was kept), plus " +
        "`searchable_characters` when only the text's beginning could be indexed for search.",
    }),
    created_at: z.iso.datetime(),
  })
  .openapi("Activity", {
    description:
      "One recorded change. The same rows are the changes feed's items (with a cursor), webhook events' " +
      "`data` and live events.",
  });

export const listActivity = createRoute({
  operationId: "listActivity",
  method: "get",
  path: "/api/v1/documents/{id}/activity",
  tags: ["Activity"],
  security: AUTHENTICATED,
  summary: "The document's audit trail, newest first",
  description: "Any role may read it. Paginated like lists (`page`, `limit` 1–100, default 20), with `total`.",
  request: {
    params: IdParam,
    query: countedPageQuery(20),
  },
  responses: {
    200: {
      description: "One page of activity.",
      content: { "application/json": { schema: countedPageOf(ActivitySchema, "ActivityPage") } },
    },
    ...problems(401, 404, 422, 503),
  },
});
