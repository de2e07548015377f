import { createRouter } from "../../lib/router";
import * as handlers from "./changes.handlers";
import * as routes from "./changes.routes";

export const changesRouter = createRouter()
  .openapi(routes.latestChange, handlers.latestChangeHandler)
  .openapi(routes.listChanges, handlers.listChangesHandler);
