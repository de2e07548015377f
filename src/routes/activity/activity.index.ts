import { createRoute, z } from "@hono/zod-openapi";
import type { AppRouteHandler } from "../../app-env";
import { listActivity } from "../../documents/permissions.store";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { ApiError } from "../../lib/problem";
import { createRouter } from "../../lib/router";
import { IdParam } from "../documents/documents.schemas";

export const ActivitySchema = z
  .object({
    id: z.uuid(),
    action: z.enum([
      "document.created",
      "document.updated",
      "document.deleted",
      "version.created",
      "permission.granted",
      "permission.updated",
      "permission.revoked",
      "document.downloaded",
    ]),
    actor_id: z.uuid().nullable(),
    document_id: z.uuid(),
    details: z.record(z.string(), z.unknown()).openapi({ description: "What changed; never secrets." }),
    created_at: z.iso.datetime(),
  })
  .openapi("Activity");

export const activity = createRoute({
  operationId: "listActivity",
  method: "get",
  path: "/api/v1/documents/{id}/activity",
  tags: ["Activity"],
  security: AUTHENTICATED,
  summary: "The document's audit trail, newest first",
  description: "Any role may read it. Paginated like lists (`page`, `limit` 1–100, default 20), with `total`.",
  request: {
    params: IdParam,
    query: z.object({
      page: z.coerce.number().int().min(1).max(100_000).default(1),
      limit: z.coerce.number().int().min(1).max(100).default(20),
    }),
  },
  responses: {
    200: {
      description: "One page of activity.",
      content: {
        "application/json": {
          schema: z
            .object({
              items: z.array(ActivitySchema),
              total: z.number().int(),
              page: z.number().int(),
              limit: z.number().int(),
            })
            .openapi("ActivityPage"),
        },
      },
    },
    ...problems(401, 404, 422, 503),
  },
});

const activityHandler: AppRouteHandler<typeof activity> = async (c) => {
  const { page, limit } = c.req.valid("query");
  const result = await listActivity(c.get("db"), {
    documentId: c.req.valid("param").id,
    userId: c.get("userId"),
    page,
    limit,
  });
  if (!result) throw new ApiError("document_not_found", "No such document.");
  return c.json({ items: result.items as z.infer<typeof ActivitySchema>[], total: result.total, page, limit }, 200);
};

export const activityRouter = createRouter().openapi(activity, activityHandler);
