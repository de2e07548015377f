// Opening a live socket: the ticket is used up, access checked, and the upgrade handed to the
// object that will hold the socket (the user's for events, the document's for presence), with the
// authenticated user in headers only the Worker can set (objects are not reachable from outside).
import type { Database } from "../db/client";
import { requireRole } from "../documents/documents.store";
import { Failure } from "../lib/failure";
import { type LiveKind, registerConnection } from "./live.store";
import { documentPresence, type LiveBindings, userEvents } from "./notify";
import { LIVE_NAME_HEADER, LIVE_OBJECT_HEADER, LIVE_USER_HEADER } from "./protocol";
import { redeemTicket, type TicketHolder } from "./tickets";

function forwarded(request: Request, holder: TicketHolder, objectId: string): Request {
  const headers = new Headers({
    Upgrade: "websocket",
    [LIVE_USER_HEADER]: holder.userId,
    [LIVE_OBJECT_HEADER]: objectId,
  });
  if (holder.fullName) headers.set(LIVE_NAME_HEADER, encodeURIComponent(holder.fullName));
  // The query (the ticket) stays behind: the object needs only who and what.
  return new Request(new URL(request.url).origin + new URL(request.url).pathname, { headers });
}

const notConfigured = () => new Failure("service_misconfigured", "Live events are not configured on this deployment.");

/**
 * The object accepted the socket: the registry learns of it (after the accept, so a notification
 * that reads the row finds the socket), and the client gets a fresh 101 (the object's own has
 * immutable headers, which the response middleware sets).
 */
async function switching(
  db: Database,
  response: Response,
  connection: { kind: LiveKind; objectId: string; userId: string },
) {
  if (response.status !== 101 || !response.webSocket) throw new Error(`live object answered ${response.status}`);
  await registerConnection(db, { ...connection, connectedAt: Date.now() });
  return new Response(null, { status: 101, webSocket: response.webSocket });
}

export async function openEventsSocket(db: Database, live: LiveBindings, request: Request, ticket?: string) {
  if (!live.USER_EVENTS) throw notConfigured();
  const holder = await redeemTicket(db, ticket);
  const stub = userEvents(live, holder.userId);
  if (!stub) throw notConfigured();
  const response = await stub.fetch(forwarded(request, holder, holder.userId));
  return switching(db, response, { kind: "events", objectId: holder.userId, userId: holder.userId });
}

export async function openPresenceSocket(
  db: Database,
  live: LiveBindings,
  request: Request,
  documentId: string,
  ticket?: string,
) {
  if (!live.DOCUMENT_PRESENCE) throw notConfigured();
  const holder = await redeemTicket(db, ticket);
  await requireRole(db, documentId, holder.userId, "READ", "Reading the document is needed to be present on it.");
  const stub = documentPresence(live, documentId);
  if (!stub) throw notConfigured();
  const response = await stub.fetch(forwarded(request, holder, documentId));
  return switching(db, response, { kind: "presence", objectId: documentId, userId: holder.userId });
}
