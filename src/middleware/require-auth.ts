// Authenticates `Authorization: Bearer <access token>` for protected routes. Failures answer 401
// with a WWW-Authenticate challenge (RFC 6750 §3): bare for a missing token, with
// error="invalid_token" for a bad one.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { InvalidTokenError, verifyAccessToken } from "../auth/tokens";
import type { ErrorCode } from "../lib/error-codes";
import { ApiError } from "../lib/problem";

const REALM = 'Bearer realm="docvault"';

/** A 401 with its challenge: bare when no credentials came, `invalid_token` when bad ones did. */
export function unauthorized(code: ErrorCode, detail: string, invalidToken: boolean): ApiError {
  const challenge = invalidToken
    ? `${REALM}, error="invalid_token", error_description="${detail.replace(/["\\]/g, "")}"`
    : REALM;
  return new ApiError(code, detail, { headers: { "WWW-Authenticate": challenge } });
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i;

export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  if (!header) throw unauthorized("token_missing", "An access token is required.", false);
  const match = BEARER.exec(header);
  if (!match?.[1] || match[1].length > 4096)
    throw unauthorized("token_invalid", "The Authorization header is not a Bearer token.", true);
  try {
    const { userId } = await verifyAccessToken(c.get("config"), match[1]);
    c.set("userId", userId);
  } catch (error) {
    if (error instanceof InvalidTokenError) throw unauthorized(error.code, error.detail, true);
    throw error;
  }
  await next();
});
