// Authenticates `Authorization: Bearer <access token>` for protected routes. Failures answer 401
// with a WWW-Authenticate challenge (RFC 6750 §3): bare for a missing token, with
// error="invalid_token" for a bad one.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { InvalidTokenError, verifyAccessToken } from "../auth/tokens";
import { ApiError } from "../lib/problem";

const REALM = 'Bearer realm="docvault"';

export function unauthorized(detail: string, invalidToken: boolean): ApiError {
  const challenge = invalidToken
    ? `${REALM}, error="invalid_token", error_description="${detail.replace(/["\\]/g, "")}"`
    : REALM;
  return new ApiError(401, detail, { headers: { "WWW-Authenticate": challenge } });
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i;

export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  if (!header) throw unauthorized("An access token is required.", false);
  const match = BEARER.exec(header);
  if (!match?.[1] || match[1].length > 4096)
    throw unauthorized("The Authorization header is not a Bearer token.", true);
  try {
    const { userId } = await verifyAccessToken(c.get("config"), match[1]);
    c.set("userId", userId);
  } catch (error) {
    if (error instanceof InvalidTokenError) throw unauthorized(error.message, true);
    throw error;
  }
  await next();
});
