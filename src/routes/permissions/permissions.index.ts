import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import { changeHandler, grantHandler, listHandler, revokeHandler } from "./permissions.handlers";
import { change, grant, list, revoke } from "./permissions.routes";

const router = createRouter();
router.on(["POST", "PUT"], "/api/v1/documents/:id/permissions/*", jsonBodyLimit);
router.on(["POST"], "/api/v1/documents/:id/permissions", jsonBodyLimit);

export const permissionsRouter = router
  .openapi(grant, grantHandler)
  .openapi(list, listHandler)
  .openapi(change, changeHandler)
  .openapi(revoke, revokeHandler);
