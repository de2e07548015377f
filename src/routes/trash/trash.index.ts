import { createRouter } from "../../lib/router";
import * as handlers from "./trash.handlers";
import * as routes from "./trash.routes";

export const trashRouter = createRouter()
  .openapi(routes.listTrash, handlers.listTrashHandler)
  .openapi(routes.restoreDocument, handlers.restoreDocumentHandler)
  .openapi(routes.purgeDocument, handlers.purgeDocumentHandler);
