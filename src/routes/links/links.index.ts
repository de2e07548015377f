import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../app-env";
import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import * as handlers from "./links.handlers";
import * as routes from "./links.routes";

// Whatever a public link route answers (metadata, a presigned URL, a redirect, a problem) is for
// this request only: no shared cache keeps it.
const noStore = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  c.res.headers.set("Cache-Control", "no-store");
});

const router = createRouter();
router.post("/api/v1/documents/:id/links", jsonBodyLimit);
router.use("/api/v1/links/*", noStore);
router.post("/api/v1/links/:token/download", jsonBodyLimit);

export const linksRouter = router
  .openapi(routes.createLink, handlers.createLinkHandler)
  .openapi(routes.listLinks, handlers.listLinksHandler)
  .openapi(routes.revokeLink, handlers.revokeLinkHandler)
  .openapi(routes.getPublicLink, handlers.getPublicLinkHandler)
  .openapi(routes.downloadByLink, handlers.downloadByLinkHandler)
  .openapi(routes.redirectByLink, handlers.redirectByLinkHandler);
