// The changes feed's cursor: a position in commit order, (transaction id, sequence number) of
// the last change a client has seen. Opaque to clients: base64url of "1:<xact_id>:<seq>", the
// leading 1 a version, so the format can change without breaking stored cursors. Decoding is
// strict (canonical encoding, decimal digits without leading zeros, in range), so a cursor that
// this service did not make is refused rather than guessed at.
import { Failure } from "../lib/failure";

export type Position = { xact: bigint; seq: bigint };

/** Before every change. */
export const START: Position = { xact: 0n, seq: 0n };

const XID8_MAX = 2n ** 64n - 1n;
const BIGINT_MAX = 2n ** 63n - 1n;
const FORMAT = /^1:(0|[1-9][0-9]{0,19}):(0|[1-9][0-9]{0,18})$/;

function toBase64Url(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function encodeCursor(position: Position): string {
  return toBase64Url(`1:${position.xact}:${position.seq}`);
}

export const invalidCursor = (message: string) =>
  new Failure("cursor_invalid", "The cursor is not one this service issued.", {
    errors: [{ path: "query.cursor", message }],
  });

export function decodeCursor(cursor: string): Position {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw invalidCursor("Not a base64url string of at most 64 characters.");
  let text: string;
  try {
    text = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    throw invalidCursor("Not base64url.");
  }
  const match = FORMAT.exec(text);
  if (!match) throw invalidCursor("Unknown cursor version or format.");
  const position = { xact: BigInt(match[1] ?? ""), seq: BigInt(match[2] ?? "") };
  if (position.xact > XID8_MAX || position.seq > BIGINT_MAX) throw invalidCursor("Out of range.");
  // One spelling per position: padding bits or other variants of the same text are refused.
  if (encodeCursor(position) !== cursor) throw invalidCursor("Not in canonical form.");
  return position;
}
