import { createRoute, z } from "@hono/zod-openapi";
import { GRANTABLE_ROLES } from "../../documents/roles";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { pageOf, pageQuery } from "../../lib/pagination";
import { IdParam } from "../documents/documents.schemas";

const GrantableRole = z.enum(GRANTABLE_ROLES).openapi("GrantableRole");

export const PermissionSchema = z
  .object({
    user_id: z.guid(),
    email: z.string(),
    role: GrantableRole,
    granted_by: z.guid(),
    created_at: z.iso.datetime(),
  })
  .openapi("Permission");

export const GrantBody = z
  .object({
    email: z.email().max(254).optional(),
    user_id: z.guid().optional(),
    role: GrantableRole,
  })
  .refine((b) => (b.email === undefined) !== (b.user_id === undefined), {
    message: "give exactly one of email or user_id",
    path: ["email"],
  })
  .openapi("GrantPermission");

export const RoleBody = z.object({ role: GrantableRole }).openapi("ChangePermission");

const UserParams = IdParam.extend({ user_id: z.guid().openapi({ param: { name: "user_id", in: "path" } }) });

const tags = ["Sharing"];
const security = AUTHENTICATED;
const permission = { description: "The permission.", content: { "application/json": { schema: PermissionSchema } } };

export const grant = createRoute({
  operationId: "grantPermission",
  method: "post",
  path: "/api/v1/documents/{id}/permissions",
  tags,
  security,
  summary: "Share a document",
  description:
    "Needs the owner or ADMIN. Target the user by `email` (case-insensitive) or `user_id`. 404 for an unknown " +
    "user; 409 when that user already has a permission (change it with PUT) or is the owner.",
  request: { params: IdParam, body: { required: true, content: { "application/json": { schema: GrantBody } } } },
  responses: { 201: permission, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
});

export const list = createRoute({
  operationId: "listPermissions",
  method: "get",
  path: "/api/v1/documents/{id}/permissions",
  tags,
  security,
  summary: "Who has access",
  description:
    "Any role may read it. The owner (the document's `owner_id`) has no permission row and is not listed. " +
    "Paginated: `page` from 1, `limit` 1–100 (default 100), with `total`; oldest grant first.",
  request: { params: IdParam, query: pageQuery(100) },
  responses: {
    200: {
      description: "One page of permissions, oldest first.",
      content: { "application/json": { schema: pageOf(PermissionSchema, "PermissionPage") } },
    },
    ...problems(401, 404, 422, 503),
  },
});

export const change = createRoute({
  operationId: "changePermission",
  method: "put",
  path: "/api/v1/documents/{id}/permissions/{user_id}",
  tags,
  security,
  summary: "Change a role",
  description:
    "Needs the owner or ADMIN. Takes effect on the user's next request, whatever access token they hold. " +
    "404 when the user has no permission; 409 for the owner, who cannot be demoted.",
  request: { params: UserParams, body: { required: true, content: { "application/json": { schema: RoleBody } } } },
  responses: { 200: permission, ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503) },
});

export const revoke = createRoute({
  operationId: "revokePermission",
  method: "delete",
  path: "/api/v1/documents/{id}/permissions/{user_id}",
  tags,
  security,
  summary: "Revoke access",
  description:
    "Needs the owner or ADMIN, or the user removing their own access. 404 when the user has no permission; " +
    "409 for the owner, who cannot be removed.",
  request: { params: UserParams },
  responses: { 204: { description: "Revoked." }, ...problems(401, 403, 404, 409, 422, 503) },
});
