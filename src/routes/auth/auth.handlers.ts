import type { Context } from "hono";
import type { AppEnv, AppRouteHandler } from "../../app-env";
import {
  countLoginAttempt,
  createUser,
  EmailTakenError,
  findActiveUser,
  recordLoginSuccess,
  releaseRefusedAttempt,
  revokeChain,
  rotateRefreshToken,
  type UserRecord,
} from "../../auth/auth.store";
import { hashPassword, type Peppers, verifyPassword } from "../../auth/password";
import { hashRefreshToken, issueAccessToken, newRefreshToken } from "../../auth/tokens";
import type { Config } from "../../config";
import { clientAddress, throttleAddress } from "../../lib/client-address";
import { ApiError } from "../../lib/problem";
import { unauthorized } from "../../middleware/require-auth";
import type { login, logout, me, refresh, register } from "./auth.routes";

const toUser = (u: UserRecord) => ({
  id: u.id,
  email: u.email,
  full_name: u.fullName,
  created_at: u.createdAt.toISOString(),
});

// Token responses must not be cached (RFC 6749 §5.1).
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

async function tokensFor(c: Context<AppEnv>, userId: string, refreshToken: string) {
  const access = await issueAccessToken(c.get("config"), userId);
  return {
    access_token: access.token,
    refresh_token: refreshToken,
    token_type: "bearer" as const,
    expires_in: access.expiresIn,
  };
}

export const registerHandler: AppRouteHandler<typeof register> = async (c) => {
  const body = c.req.valid("json");
  const passwordHash = await hashPassword(body.password, c.get("config").PASSWORD_PEPPER);
  try {
    const user = await createUser(c.get("db"), { email: body.email, fullName: body.full_name ?? null, passwordHash });
    c.get("logger").info("user registered", { user_id: user.id });
    return c.json(toUser(user), 201);
  } catch (error) {
    if (error instanceof EmailTakenError)
      throw new ApiError("email_taken", "An account with this email already exists.");
    throw error;
  }
};

function credentials(
  c: Context<AppEnv>,
  form: { username?: string; password?: string },
  json: { email?: string; password?: string },
) {
  const type = c.req.header("content-type") ?? "";
  if (/^application\/x-www-form-urlencoded\b/i.test(type) && form.username && form.password) {
    return { email: form.username, password: form.password };
  }
  if (/^application\/(.+\+)?json\b/i.test(type) && json.email && json.password) {
    return { email: json.email, password: json.password };
  }
  throw new ApiError(
    "validation_failed",
    "Send JSON {email, password} or an OAuth2 password form (username, password).",
    {
      errors: [
        { path: "body.email", message: "Required" },
        { path: "body.password", message: "Required" },
      ],
    },
  );
}

const peppersOf = (config: Config): Peppers => ({
  current: config.PASSWORD_PEPPER,
  previous: config.PASSWORD_PEPPER_PREVIOUS,
});

export const loginHandler: AppRouteHandler<typeof login> = async (c) => {
  const { config, db, logger } = c.var;
  const { email, password } = credentials(c, c.req.valid("form"), c.req.valid("json"));
  const policy = {
    windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    maxPerAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
    maxPerAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
  };

  // Round trip 1: the account, with this attempt counted against it and the address before any
  // hashing, so that concurrent attempts cannot all pass a check made before any was counted.
  const attempt = await countLoginAttempt(db, email, throttleAddress(clientAddress(c)), policy);
  if (attempt.retryAfter > 0) {
    // Round trip 2 (refused): an attempt that was never checked is not a failure.
    await releaseRefusedAttempt(db, attempt.counted);
    logger.warn("login throttled", { retry_after: attempt.retryAfter });
    throw new ApiError("login_throttled", "Too many failed login attempts. Try again later.", {
      retryAfterSeconds: attempt.retryAfter,
    });
  }

  const { user } = attempt;
  const verdict = await verifyPassword(password, user?.passwordHash ?? null, peppersOf(config));
  if (!user || !verdict.ok) {
    // Already counted: a failure needs no second round trip.
    logger.info("login failed");
    throw unauthorized("credentials_invalid", "Incorrect email or password.", false);
  }

  // Round trip 2 (success): start a refresh chain, clear the account's counter, take the attempt
  // back from the address's, and upgrade a hash with old parameters or the previous pepper.
  const refreshToken = await newRefreshToken();
  const newPasswordHash = verdict.needsRehash ? await hashPassword(password, config.PASSWORD_PEPPER) : undefined;
  await recordLoginSuccess(db, {
    userId: user.id,
    counted: attempt.counted,
    refreshHash: refreshToken.hash,
    ttlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    newPasswordHash,
  });
  logger.info("login", { user_id: user.id, rehashed: Boolean(newPasswordHash) });
  return c.json(await tokensFor(c, user.id, refreshToken.token), 200, NO_STORE);
};

export const refreshHandler: AppRouteHandler<typeof refresh> = async (c) => {
  const { refresh_token } = c.req.valid("json");
  const config = c.get("config");
  const next = await newRefreshToken();
  const result = await rotateRefreshToken(
    c.get("db"),
    await hashRefreshToken(refresh_token),
    next.hash,
    config.REFRESH_TOKEN_TTL_SECONDS,
    config.SESSION_MAX_SECONDS,
  );
  if (result.outcome === "reused") {
    c.get("logger").warn("refresh token reused; its login chain was revoked");
    throw unauthorized(
      "refresh_token_reused",
      "This refresh token was already used; the session has been revoked.",
      true,
    );
  }
  if (result.outcome === "session_expired")
    throw unauthorized("session_expired", "The session has expired; log in again.", true);
  if (result.outcome === "invalid")
    throw unauthorized("refresh_token_invalid", "The refresh token is invalid, expired or revoked.", true);
  return c.json(await tokensFor(c, result.userId, next.token), 200, NO_STORE);
};

export const logoutHandler: AppRouteHandler<typeof logout> = async (c) => {
  const { refresh_token } = c.req.valid("json");
  await revokeChain(c.get("db"), await hashRefreshToken(refresh_token));
  return c.body(null, 204);
};

export const meHandler: AppRouteHandler<typeof me> = async (c) => {
  const user = await findActiveUser(c.get("db"), c.get("userId"));
  // A valid token for an account that no longer exists is as good as no token.
  if (!user) throw unauthorized("account_inactive", "The account no longer exists.", true);
  return c.json(toUser(user), 200);
};
