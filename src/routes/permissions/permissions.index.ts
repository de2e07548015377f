import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import * as handlers from "./permissions.handlers";
import * as routes from "./permissions.routes";

const router = createRouter();
router.on(["POST", "PUT"], "/api/v1/documents/:id/permissions/*", jsonBodyLimit);
router.on(["POST"], "/api/v1/documents/:id/permissions", jsonBodyLimit);

export const permissionsRouter = router
  .openapi(routes.grant, handlers.grantHandler)
  .openapi(routes.list, handlers.listHandler)
  .openapi(routes.change, handlers.changeHandler)
  .openapi(routes.revoke, handlers.revokeHandler);
