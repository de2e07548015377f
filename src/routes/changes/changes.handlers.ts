import type { AppRouteHandler } from "../../app-env";
import { latestCursor, readChanges } from "../../changes/feed";
import type { latestChange, listChanges } from "./changes.routes";

export const listChangesHandler: AppRouteHandler<typeof listChanges> = async (c) => {
  const { cursor, limit, wait } = c.req.valid("query");
  const page = await readChanges(c.get("db"), {
    userId: c.get("userId"),
    cursor,
    limit,
    waitSeconds: wait,
    signal: c.req.raw.signal,
  });
  return c.json(page, 200);
};

export const latestChangeHandler: AppRouteHandler<typeof latestChange> = async (c) => {
  return c.json({ cursor: await latestCursor(c.get("db"), c.get("userId")) }, 200);
};
