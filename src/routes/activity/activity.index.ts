import { createRouter } from "../../lib/router";
import * as handlers from "./activity.handlers";
import * as routes from "./activity.routes";

export const activityRouter = createRouter().openapi(routes.listActivity, handlers.listActivityHandler);
