import { createRouter } from "../../lib/router";
import * as handlers from "./events.handlers";
import * as routes from "./events.routes";

export const eventsRouter = createRouter()
  .openapi(routes.createTicket, handlers.createTicketHandler)
  .openapi(routes.eventsSocket, handlers.eventsSocketHandler)
  .openapi(routes.presenceSocket, handlers.presenceSocketHandler);
