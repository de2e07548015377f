import type { AppRouteHandler } from "../../app-env";
import {
  changePermission,
  grantPermission,
  listPermissions,
  revokePermission,
} from "../../documents/permissions.store";
import { actorOf } from "../../lib/actor";
import type { change, grant, list, revoke } from "./permissions.routes";

export const grantHandler: AppRouteHandler<typeof grant> = async (c) => {
  const body = c.req.valid("json");
  const target = body.user_id ? { userId: body.user_id } : { email: body.email as string };
  const permission = await grantPermission(c.get("db"), {
    documentId: c.req.valid("param").id,
    target,
    role: body.role,
    actor: actorOf(c),
  });
  return c.json(permission, 201);
};

export const listHandler: AppRouteHandler<typeof list> = async (c) => {
  const query = c.req.valid("query");
  const { items, total } = await listPermissions(c.get("db"), c.req.valid("param").id, c.get("userId"), query);
  return c.json({ items, total, page: query.page, limit: query.limit }, 200);
};

export const changeHandler: AppRouteHandler<typeof change> = async (c) => {
  const { id, user_id } = c.req.valid("param");
  const permission = await changePermission(c.get("db"), {
    documentId: id,
    userId: user_id,
    role: c.req.valid("json").role,
    actor: actorOf(c),
  });
  return c.json(permission, 200);
};

export const revokeHandler: AppRouteHandler<typeof revoke> = async (c) => {
  const { id, user_id } = c.req.valid("param");
  await revokePermission(c.get("db"), { documentId: id, userId: user_id, actor: actorOf(c) });
  return c.body(null, 204);
};
