import { createRoute, z } from "@hono/zod-openapi";
import { AUTHENTICATED, problems, problemsOf } from "../../lib/openapi";
import { IdParam } from "../documents/documents.schemas";

const tags = ["Live events"];

export const TicketSchema = z
  .object({
    ticket: z.string().openapi({ description: "Pass as `?ticket=` to one live socket; single-use." }),
    expires_at: z.string().openapi({ description: "RFC 3339; 60 s after issue." }),
  })
  .openapi("EventTicket");

export const TicketQuery = z.object({
  ticket: z
    .string()
    .optional()
    .openapi({ description: "A ticket from `POST /api/v1/events/ticket` (single-use, 60 s)." }),
});

const SOCKET_RULES =
  "Authenticated by `?ticket=` (from `POST /api/v1/events/ticket`: browsers cannot set `Authorization` on a " +
  "WebSocket, and access tokens are never accepted in URLs; the ticket is never logged). The order of checks: " +
  "a request without `Upgrade: websocket` is `426 websocket_upgrade_required` (the ticket is not used); then " +
  "a missing, unknown, reused, forged or expired ticket is `401` before any upgrade. The only message a client " +
  "may send is the text `ping` (answered `pong` by the runtime, without waking the server object); any other " +
  "message closes that socket with `1008` (`1009` when over 1 KiB). A socket of a closed account ends with " +
  "close code `4401`.";

export const createTicket = createRoute({
  operationId: "createEventTicket",
  method: "post",
  path: "/api/v1/events/ticket",
  tags,
  security: AUTHENTICATED,
  summary: "A single-use ticket to open a live socket",
  description:
    "Returns a ticket valid 60 s for one `GET /api/v1/events` or `GET /api/v1/documents/{id}/presence`, bound " +
    "to the caller. Only its hash is stored; opening a socket uses it up, whatever the outcome. Counts against " +
    "the request budget like any other request.",
  responses: {
    201: { description: "The ticket.", content: { "application/json": { schema: TicketSchema } } },
    ...problems(401, 429, 503),
  },
});

export const eventsSocket = createRoute({
  operationId: "openEventsSocket",
  method: "get",
  path: "/api/v1/events",
  tags,
  security: [],
  summary: "WebSocket: every change the caller can read, as it commits",
  description:
    "Upgrades to a WebSocket on which the server sends each Change (the same JSON object, `cursor` included, " +
    "as `GET /api/v1/changes` lists for this user) as one text message, within about a second of its commit, " +
    "in commit order. Nothing is replayed on connect: to catch up after a reconnection, read " +
    "`GET /api/v1/changes?cursor=<the last cursor seen>` (a change may then arrive both ways; the cursor " +
    "tells them apart). Changes of documents the user cannot read are never sent; the event that ends the " +
    `user's access is. ${SOCKET_RULES}`,
  request: { query: TicketQuery },
  responses: {
    101: { description: "Switching Protocols: the socket is open." },
    ...problemsOf({ 401: ["ticket_missing", "ticket_invalid", "ticket_expired"], 426: ["websocket_upgrade_required"] }),
    ...problems(503),
  },
});

export const presenceSocket = createRoute({
  operationId: "openPresenceSocket",
  method: "get",
  path: "/api/v1/documents/{id}/presence",
  tags,
  security: [],
  summary: "WebSocket: who has this document open now",
  description:
    "Needs READ on the document when connecting (a document the ticket's user cannot read, or that does not " +
    "exist, is `404 document_not_found`; the ticket is used up either way). On every join and leave, every " +
    'socket of the document receives `{"type":"presence","users":[{"user_id","full_name","since"}]}`: who else ' +
    "has it open (the socket's own user is not listed, so a user alone gets `[]`), each user once (with several " +
    "tabs open, `since` is their earliest), oldest first; the joining socket gets it too. A " +
    "socket ends with close code `4403` when its user loses access (permission revoked, including by leaving " +
    "or an account closure; the document deleted), within about a second of the change: that is when the close " +
    "frame arrives. When other users are still on the document, the connection itself may end some seconds " +
    "later (the runtime ends it when the document's object next idles), so a client should act on the close " +
    "frame, as browsers do. A document id that is not a UUID is `422` before any other check. " +
    `${SOCKET_RULES}`,
  request: { params: IdParam, query: TicketQuery },
  responses: {
    101: { description: "Switching Protocols: the socket is open." },
    ...problemsOf({
      401: ["ticket_missing", "ticket_invalid", "ticket_expired"],
      404: ["document_not_found"],
      422: ["validation_failed"],
      426: ["websocket_upgrade_required"],
    }),
    ...problems(503),
  },
});
