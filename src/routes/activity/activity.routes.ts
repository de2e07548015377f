import { createRoute, z } from "@hono/zod-openapi";
import { ACTIVITY_ACTIONS } from "../../documents/activity-actions";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { pageOf, pageQuery } from "../../lib/pagination";
import { IdParam } from "../documents/documents.schemas";

export const ActivitySchema = z
  .object({
    id: z.uuid(),
    action: z.enum(ACTIVITY_ACTIONS),
    actor_id: z.uuid().nullable(),
    document_id: z.uuid(),
    details: z.record(z.string(), z.unknown()).openapi({ description: "What changed; never secrets." }),
    created_at: z.iso.datetime(),
  })
  .openapi("Activity");

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
    query: pageQuery(20),
  },
  responses: {
    200: {
      description: "One page of activity.",
      content: { "application/json": { schema: pageOf(ActivitySchema, "ActivityPage") } },
    },
    ...problems(401, 404, 422, 503),
  },
});
