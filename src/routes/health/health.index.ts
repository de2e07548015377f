import { createRouter } from "../../lib/router";
import { healthHandler, liveHandler } from "./health.handlers";
import { health, live } from "./health.routes";

export const healthRouter = createRouter().openapi(health, healthHandler).openapi(live, liveHandler);
