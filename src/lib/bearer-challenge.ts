// RFC 6750 §3: every 401 carries a Bearer challenge, derived from the failure's code so that any
// layer can throw a plain Failure. Without a token (or with a password instead of one) the
// challenge is bare; a token that was sent and refused gets error="invalid_token".
import type { ErrorCode } from "./error-codes";

export const BEARER_CHALLENGE = 'Bearer realm="docvault"';
const NO_TOKEN_SENT: ReadonlySet<ErrorCode> = new Set([
  "token_missing",
  "credentials_invalid",
  // The token was accepted; the password confirming the operation was not.
  "password_incorrect",
]);

// A share link's password is not a token: a Bearer challenge would send clients for one. RFC 9110
// still wants a challenge on every 401, so these name a scheme of their own (no browser knows it,
// so none opens a login dialog); the password goes in the JSON body of POST /links/{token}/download.
export const LINK_PASSWORD_CHALLENGE = 'LinkPassword realm="docvault share link"';
const LINK_PASSWORD: ReadonlySet<ErrorCode> = new Set(["link_password_required", "link_password_wrong"]);

// A live socket's ticket is a bearer token of its own realm, sent in the URI query (RFC 6750
// §2.3; browsers cannot set headers on a WebSocket), once: its 401s are Bearer challenges as the
// contract asks of every missing, invalid or expired token, naming that realm.
export const TICKET_CHALLENGE = 'Bearer realm="docvault live events"';
const TICKET: ReadonlySet<ErrorCode> = new Set(["ticket_missing", "ticket_invalid", "ticket_expired"]);

export function bearerChallenge(code: ErrorCode, detail: string): string {
  if (LINK_PASSWORD.has(code)) return LINK_PASSWORD_CHALLENGE;
  if (code === "ticket_missing") return TICKET_CHALLENGE;
  if (TICKET.has(code)) return invalidToken(TICKET_CHALLENGE, detail);
  if (NO_TOKEN_SENT.has(code)) return BEARER_CHALLENGE;
  return invalidToken(BEARER_CHALLENGE, detail);
}

// A quoted-string may not carry quotes or backslashes unescaped; the detail needs neither.
const invalidToken = (challenge: string, detail: string) =>
  `${challenge}, error="invalid_token", error_description="${detail.replace(/["\\]/g, "")}"`;
