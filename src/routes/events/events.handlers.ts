import type { AppRouteHandler } from "../../app-env";
import { ApiError } from "../../lib/problem";
import type { LiveBindings } from "../../live/notify";
import { openEventsSocket, openPresenceSocket } from "../../live/sockets";
import { issueTicket } from "../../live/tickets";
import type { createTicket, eventsSocket, presenceSocket } from "./events.routes";

export const createTicketHandler: AppRouteHandler<typeof createTicket> = async (c) => {
  return c.json(await issueTicket(c.get("db"), c.get("userId")), 201);
};

/** Checked before the ticket, so a plain GET does not use one up. */
function requireUpgrade(header: string | undefined) {
  if (header?.toLowerCase() !== "websocket") {
    throw new ApiError("websocket_upgrade_required", "This route is a WebSocket: send `Upgrade: websocket`.", {
      headers: { Upgrade: "websocket", Connection: "Upgrade" },
    });
  }
}

// The 101 is not a JSON response the route's types know of: it is returned as it is.
type Untyped = never;

export const eventsSocketHandler: AppRouteHandler<typeof eventsSocket> = async (c) => {
  requireUpgrade(c.req.header("upgrade"));
  const { ticket } = c.req.valid("query");
  return (await openEventsSocket(c.get("db"), c.env as LiveBindings, c.req.raw, ticket)) as Untyped;
};

export const presenceSocketHandler: AppRouteHandler<typeof presenceSocket> = async (c) => {
  requireUpgrade(c.req.header("upgrade"));
  const { id } = c.req.valid("param");
  const { ticket } = c.req.valid("query");
  return (await openPresenceSocket(c.get("db"), c.env as LiveBindings, c.req.raw, id, ticket)) as Untyped;
};
