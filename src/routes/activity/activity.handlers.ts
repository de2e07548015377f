import type { AppRouteHandler } from "../../app-env";
import { listActivity } from "../../documents/activity.store";
import type { listActivity as listActivityRoute } from "./activity.routes";

export const listActivityHandler: AppRouteHandler<typeof listActivityRoute> = async (c) => {
  const { page, limit } = c.req.valid("query");
  const { items, total } = await listActivity(c.get("db"), {
    documentId: c.req.valid("param").id,
    userId: c.get("userId"),
    page,
    limit,
  });
  return c.json({ items, total, total_relation: "eq" as const, page, limit }, 200);
};
