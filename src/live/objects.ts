// The two Durable Objects of live events, both on the WebSocket Hibernation API: sockets are
// accepted with ctx.acceptWebSocket (tagged with their user), so an idle object is evicted from
// memory while its sockets stay open, and is woken only by a call (a change to push, a close) or
// by a client message. Pings ("ping" → "pong") are answered by the runtime without waking it
// (setWebSocketAutoResponse). Per socket state lives in its attachment (serializeAttachment),
// which survives hibernation; the objects keep nothing else.
//
// Clients have nothing else to say: any other message closes that socket (1009 when over
// MAX_MESSAGE_BYTES, 1008 otherwise), so a flood ends at its first message and costs one wake-up;
// the object and its other sockets carry on.
import { DurableObject } from "cloudflare:workers";
import type { ChangeView } from "../changes/feed.store";
import { loadConfig } from "../config";
import { createDatabase } from "../db/client";
import { type LiveKind, unregisterConnection } from "./live.store";
import { LIVE_NAME_HEADER, LIVE_OBJECT_HEADER, LIVE_USER_HEADER, MAX_MESSAGE_BYTES } from "./protocol";

type Attachment = {
  userId: string;
  fullName: string | null;
  since: string;
  objectId: string;
  /** Set when this object closed the socket (closeUsers: 4401, 4403). */
  closedByObject?: boolean;
};

abstract class LiveObject extends DurableObject<Env> {
  protected abstract readonly kind: LiveKind;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  private database() {
    const loaded = loadConfig(this.env);
    if (!loaded.ok) throw new Error("invalid configuration");
    return createDatabase(loaded.config);
  }

  protected open(): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  protected attachment(ws: WebSocket): Attachment {
    return ws.deserializeAttachment() as Attachment;
  }

  /** Called by the Worker with an upgrade it has authenticated (ticket, and role for presence). */
  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get(LIVE_USER_HEADER);
    const objectId = request.headers.get(LIVE_OBJECT_HEADER);
    if (!userId || !objectId || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response(null, { status: 400 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [userId]);
    const connectedAt = Date.now();
    const attachment: Attachment = {
      userId,
      objectId,
      fullName: request.headers.get(LIVE_NAME_HEADER)
        ? decodeURIComponent(request.headers.get(LIVE_NAME_HEADER) ?? "")
        : null,
      since: new Date(connectedAt).toISOString(),
    };
    server.serializeAttachment(attachment);
    // The Worker registers the connection once this answers (src/live/sockets.ts): the object
    // itself touches the database only when a user's last socket closes, since a query's timeout
    // timer keeps an object from hibernating until it fires.
    await this.joined(attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  protected async joined(_who: Attachment): Promise<void> {}
  protected async left(_who: Attachment): Promise<void> {}

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const size = typeof message === "string" ? message.length : message.byteLength;
    if (size > MAX_MESSAGE_BYTES) ws.close(1009, "message too big");
    else ws.close(1008, 'clients send only "ping"');
    await this.gone(ws);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // Already closed (the runtime may answer the close frame itself).
    }
    await this.gone(ws);
    this.endConnectionsIfLast(ws);
  }

  /**
   * A socket that this object closed from a call (closeUsers) keeps its connection open after the
   * client has answered the close, until the object is next evicted: ~10 s after its last work in
   * workerd, more while a timer (a query's deadline) is pending. A client that waits for the
   * server to end the connection (Node's WebSocket and \`ws\`, Python's websockets) reported the
   * 4403 or 4401 only 20 s later. A socket whose client had sent any frame first, or one closed
   * while handling its own message (1008), ends at once. Resetting the object ends its
   * connections at once; that is done only when nothing else is connected to it (an account's
   * own events object always, a document's presence object when the user was alone there). The
   * reset logs an error ("no sockets left"); the objects keep no state in memory.
   */
  private endConnectionsIfLast(ws: WebSocket) {
    if (!this.attachment(ws)?.closedByObject) return;
    if (this.ctx.getWebSockets().every((other) => other === ws || other.readyState === WebSocket.CLOSED)) {
      this.ctx.abort("no sockets left");
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.gone(ws);
  }

  /** A socket ended: when it was its user's last here, the registry forgets them. */
  protected async gone(ws: WebSocket): Promise<void> {
    const who = this.attachment(ws);
    if (!who) return;
    const closedAt = Date.now();
    if (!this.open().some((other) => other !== ws && this.attachment(other)?.userId === who.userId)) {
      await unregisterConnection(this.database(), {
        kind: this.kind,
        objectId: who.objectId,
        userId: who.userId,
        closedAt,
      });
    }
    await this.left(who);
  }

  /** Closes every socket of these users (a closed account: 4401; lost access: 4403). */
  async closeUsers(userIds: string[], code: number, reason: string): Promise<number> {
    const closedAt = Date.now();
    // The registry first, the sockets last with no await after them: a client's answer to the
    // close (webSocketClose) may reset the object, which would break this call if it were still
    // running. Sockets are read again after the queries, so one opened meanwhile is closed too.
    for (const userId of userIds) {
      const objectId = this.ctx
        .getWebSockets(userId)
        .map((ws) => this.attachment(ws)?.objectId)
        .find(Boolean);
      if (objectId) await unregisterConnection(this.database(), { kind: this.kind, objectId, userId, closedAt });
    }
    let closed = 0;
    const gone: Attachment[] = [];
    for (const userId of userIds) {
      for (const ws of this.ctx.getWebSockets(userId)) {
        const who = this.attachment(ws);
        try {
          if (who) ws.serializeAttachment({ ...who, closedByObject: true } satisfies Attachment);
          ws.close(code, reason);
        } catch {
          // already closing
        }
        closed++;
        if (who) gone.push(who);
      }
    }
    for (const who of gone) await this.left(who);
    return closed;
  }
}

/** A user's live events: one object per user (idFromName(user id)), every socket of theirs. */
export class UserEvents extends LiveObject {
  protected readonly kind = "events" as const;

  /** Sends the changes to every socket; answers how many sockets there were (0: none). */
  async push(changes: ChangeView[]): Promise<number> {
    const sockets = this.open();
    for (const ws of sockets) {
      for (const change of changes) {
        try {
          ws.send(JSON.stringify(change));
        } catch {
          // A socket closing meanwhile: its close handler cleans up.
        }
      }
    }
    return sockets.length;
  }
}

/** Who has a document open: one object per document (idFromName(document id)). */
export class DocumentPresence extends LiveObject {
  protected readonly kind = "presence" as const;

  protected override async joined(): Promise<void> {
    this.broadcast();
  }

  protected override async left(): Promise<void> {
    this.broadcast();
  }

  /**
   * `{type: "presence", users}` to every socket: who else has the document open (the contract's
   * words), so each socket's list leaves its own user out; each user once, `since` their earliest
   * socket.
   */
  private broadcast() {
    const users = new Map<string, { user_id: string; full_name: string | null; since: string }>();
    const sockets = this.open();
    for (const ws of sockets) {
      const who = this.attachment(ws);
      if (!who) continue;
      const seen = users.get(who.userId);
      if (!seen || who.since < seen.since)
        users.set(who.userId, { user_id: who.userId, full_name: who.fullName, since: who.since });
    }
    const present = [...users.values()].sort(
      (a, b) => a.since.localeCompare(b.since) || a.user_id.localeCompare(b.user_id),
    );
    for (const ws of sockets) {
      const self = this.attachment(ws)?.userId;
      try {
        ws.send(JSON.stringify({ type: "presence", users: present.filter((user) => user.user_id !== self) }));
      } catch {
        // closing
      }
    }
  }

  /** Answers how many sockets are open (the registry's repair). */
  async count(): Promise<number> {
    return this.open().length;
  }
}
