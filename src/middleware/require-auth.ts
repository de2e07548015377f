// Authenticates `Authorization: Bearer <access token>` for protected routes. Every refusal is a
// 401 Failure; the error handler adds its WWW-Authenticate challenge (src/lib/bearer-challenge.ts).
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { verifyAccessToken } from "../auth/tokens";
import { ApiError } from "../lib/problem";

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i;

export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  if (!header) throw new ApiError("token_missing", "An access token is required.");
  const match = BEARER.exec(header);
  if (!match?.[1] || match[1].length > 4096) {
    throw new ApiError("token_invalid", "The Authorization header is not a Bearer token.");
  }
  // A token that does not verify throws its own Failure (token_expired, token_invalid).
  const { userId } = await verifyAccessToken(c.get("config"), match[1]);
  c.set("userId", userId);
  await next();
});
