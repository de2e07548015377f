import type { AppRouteHandler } from "../../app-env";
import { listActivity } from "../../documents/activity.store";
import { countedPage } from "../../lib/pagination";
import type { listActivity as listActivityRoute } from "./activity.routes";

export const listActivityHandler: AppRouteHandler<typeof listActivityRoute> = async (c) => {
  const { page, limit } = c.req.valid("query");
  const activity = await listActivity(c.get("db"), {
    documentId: c.req.valid("param").id,
    userId: c.get("userId"),
    page,
    limit,
  });
  return c.json(countedPage(activity, { page, limit }), 200);
};
