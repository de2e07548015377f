// Tickets for live sockets (GET /events, GET /documents/{id}/presence). A browser cannot send an
// Authorization header with a WebSocket, and an access token in a URL would end up in histories
// and proxies' logs; so an authenticated request gets a ticket: 32 random bytes (base64url), valid
// TICKET_SECONDS, bound to its user, good for one connection. Only its SHA-256 is stored; the
// upgrade deletes the row in the statement that reads it (`delete … returning`), so two
// connections racing with one ticket cannot both get it.
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { callerOpen } from "../documents/sql";
import { Failure } from "../lib/failure";

export const TICKET_SECONDS = 60;
const TICKET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

const hashTicket = (ticket: string) => sha256(utf8ToBytes(ticket));

export async function issueTicket(db: Database, userId: string): Promise<{ ticket: string; expires_at: string }> {
  const ticket = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const result = await db.execute<{ expires_at: string }>(sql`
    insert into event_tickets (ticket_hash, user_id, expires_at)
    select ${hashTicket(ticket)}, ${userId}::uuid, now() + make_interval(secs => ${TICKET_SECONDS})
    where ${callerOpen(userId)}
    returning to_char(expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as expires_at`);
  const row = result.rows[0];
  if (!row) throw new Failure("account_inactive", "The account was closed.");
  return { ticket, expires_at: row.expires_at };
}

export type TicketHolder = { userId: string; fullName: string | null };

/**
 * Uses a ticket up: answers its user, or throws 401 (`ticket_missing`, `ticket_invalid` for one
 * that is unknown, already used, forged or of a closed account, `ticket_expired`). An expired
 * ticket is deleted too.
 */
export async function redeemTicket(db: Database, ticket: string | undefined): Promise<TicketHolder> {
  if (!ticket) throw new Failure("ticket_missing", "A ticket from POST /api/v1/events/ticket is required (?ticket=…).");
  if (!TICKET_SHAPE.test(ticket)) throw new Failure("ticket_invalid", "The ticket is not one of ours.");
  const result = await db.execute<{ user_id: string; full_name: string | null; live: boolean; open: boolean }>(sql`
    with used as (delete from event_tickets where ticket_hash = ${hashTicket(ticket)} returning user_id, expires_at)
    select used.user_id, u.full_name, used.expires_at > now() as live, coalesce(u.is_active, false) as open
    from used left join users u on u.id = used.user_id`);
  const row = result.rows[0];
  if (!row?.open) throw new Failure("ticket_invalid", "The ticket is unknown, already used, or not one of ours.");
  if (!row.live) throw new Failure("ticket_expired", `The ticket has expired (tickets are valid ${TICKET_SECONDS} s).`);
  return { userId: row.user_id, fullName: row.full_name };
}

/** Tickets that expired unused (the hourly housekeeping). */
export async function deleteExpiredTickets(db: Database): Promise<number> {
  const result = await db.execute(sql`delete from event_tickets where expires_at < now() - interval '1 minute'`);
  return result.rowCount ?? 0;
}
