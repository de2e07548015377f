import type { AppRouteHandler } from "../../app-env";
import {
  changePermission,
  grantPermission,
  listPermissions,
  type PermissionFailure,
  revokePermission,
} from "../../documents/permissions.store";
import { actorOf } from "../../lib/actor";
import { ApiError } from "../../lib/problem";
import type { change, grant, list, revoke } from "./permissions.routes";

function failure(reason: PermissionFailure): ApiError {
  switch (reason) {
    case "not_found":
      return new ApiError("document_not_found", "No such document.");
    case "forbidden":
      return new ApiError("role_too_low", "Managing access needs the owner or the ADMIN role.");
    case "no_user":
      return new ApiError("user_not_found", "No such user.");
    case "owner":
      return new ApiError(
        "owner_permission",
        "The owner always has full access; it cannot be granted, changed or removed.",
      );
    case "exists":
      return new ApiError("permission_exists", "This user already has a permission; change it with PUT.");
    case "no_permission":
      return new ApiError("permission_not_found", "This user has no permission on the document.");
  }
}

export const grantHandler: AppRouteHandler<typeof grant> = async (c) => {
  const body = c.req.valid("json");
  const target = body.user_id ? { userId: body.user_id } : { email: body.email as string };
  const result = await grantPermission(c.get("db"), {
    documentId: c.req.valid("param").id,
    target,
    role: body.role,
    actor: actorOf(c),
  });
  if (!result.ok) throw failure(result.reason);
  return c.json(result.value, 201);
};

export const listHandler: AppRouteHandler<typeof list> = async (c) => {
  const items = await listPermissions(c.get("db"), c.req.valid("param").id, c.get("userId"));
  if (!items) throw failure("not_found");
  return c.json({ items }, 200);
};

export const changeHandler: AppRouteHandler<typeof change> = async (c) => {
  const { id, user_id } = c.req.valid("param");
  const result = await changePermission(c.get("db"), {
    documentId: id,
    userId: user_id,
    role: c.req.valid("json").role,
    actor: actorOf(c),
  });
  if (!result.ok) throw failure(result.reason);
  return c.json(result.value, 200);
};

export const revokeHandler: AppRouteHandler<typeof revoke> = async (c) => {
  const { id, user_id } = c.req.valid("param");
  const result = await revokePermission(c.get("db"), { documentId: id, userId: user_id, actor: actorOf(c) });
  if (!result.ok) throw failure(result.reason);
  return c.body(null, 204);
};
