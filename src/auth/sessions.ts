// Accounts and logins as the API offers them: register, log in (throttled), refresh (rotating),
// log out. Each flow returns what the client receives and throws a Failure for every refusal
// (src/lib/error-codes.ts); the HTTP layer only reads the request and shapes the answer.
import type { Config } from "../config";
import type { Database } from "../db/client";
import { Failure } from "../lib/failure";
import type { Logger } from "../lib/logger";
import {
  CHECK_WAIT_MS,
  closeAccount as closeAccountRows,
  countLoginAttempt,
  createUser,
  emailTaken,
  endAttempt,
  type LoginAttempt,
  pauseForPlace,
  recordLoginSuccess,
  releaseRefusedAttempt,
  revokeChain,
  rotateRefreshToken,
  type UserRecord,
} from "./auth.store";
import { hashPassword, type Peppers, verifyPassword } from "./password";
import { hashRefreshToken, issueAccessToken, newRefreshToken } from "./tokens";

export type AuthServices = { config: Config; db: Database; logger: Logger };

/** A login's tokens: a short-lived access token and the refresh token that renews it. */
export type Tokens = { accessToken: string; refreshToken: string; expiresIn: number };

async function tokensFor(config: Config, userId: string, refreshToken: string): Promise<Tokens> {
  const access = await issueAccessToken(config, userId);
  return { accessToken: access.token, refreshToken, expiresIn: access.expiresIn };
}

const peppersOf = (config: Config): Peppers => ({
  current: config.PASSWORD_PEPPER,
  previous: config.PASSWORD_PEPPER_PREVIOUS,
});

/** A new account; `email_taken` when one with this email (in any case) exists. */
export async function registerAccount(
  { config, db, logger }: AuthServices,
  input: { email: string; fullName: string | null; password: string },
): Promise<UserRecord> {
  // Before the hash (~150 ms of CPU): a flood of registrations for taken emails costs one lookup each.
  if (await emailTaken(db, input.email)) {
    throw new Failure("email_taken", "An account with this email already exists.");
  }
  const passwordHash = await hashPassword(input.password, config.PASSWORD_PEPPER);
  const user = await createUser(db, { email: input.email, fullName: input.fullName, passwordHash });
  logger.info("user registered", { user_id: user.id });
  return user;
}

/**
 * Checks a password and starts a login. `address` is the client's throttle key: attempts are
 * limited per account and per address (`login_throttled`, with the seconds to wait); a wrong
 * email or password is `credentials_invalid`, the same for both.
 */
const throttlePolicy = (config: Config) => ({
  windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
  maxPerAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
  maxPerAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
});

export async function logIn(
  services: AuthServices,
  input: { email: string; password: string; address: string },
  waitUntil = Date.now() + CHECK_WAIT_MS,
): Promise<Tokens> {
  const { config, db, logger } = services;
  const policy = throttlePolicy(config);

  // Round trip 1: the account, with this attempt counted against it and the address before any
  // hashing, so that concurrent attempts cannot all pass a check made before any was counted.
  const attempt = await countLoginAttempt(db, input.email, input.address, policy);
  if (attempt.retryAfter > 0) {
    // Round trip 2 (refused): an attempt that was never checked is not a failure.
    await releaseRefusedAttempt(db, attempt.counted);
    // Over the limit only because other checks are running (several right logins at once: a
    // client's tabs, a test suite's workers): one ends within a check's time, so try again.
    if (attempt.checksRunning && Date.now() < waitUntil) {
      await pauseForPlace(waitUntil);
      return logIn(services, input, waitUntil);
    }
    logger.warn("login throttled", { retry_after: attempt.retryAfter });
    throw new Failure("login_throttled", "Too many failed login attempts. Try again later.", {
      retryAfterSeconds: attempt.retryAfter,
    });
  }

  const { user } = attempt;
  const verdict = await checked(db, attempt, () =>
    verifyPassword(input.password, user?.passwordHash ?? null, peppersOf(config)),
  );
  if (!user || !verdict.ok) {
    // Round trip 2 (wrong): the failure stays counted; its check has ended.
    await endAttempt(db, attempt.counted, "failed");
    logger.info("login failed");
    throw new Failure("credentials_invalid", "Incorrect email or password.");
  }

  // Round trip 2 (success): start a refresh chain, clear the account's counter, take the attempt
  // back from the address's, and upgrade a hash with old parameters or the previous pepper.
  const refreshToken = newRefreshToken();
  const newPasswordHash = verdict.needsRehash ? await hashPassword(input.password, config.PASSWORD_PEPPER) : undefined;
  await recordLoginSuccess(db, {
    userId: user.id,
    counted: attempt.counted,
    refreshHash: refreshToken.hash,
    ttlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    newPasswordHash,
  });
  logger.info("login", { user_id: user.id, rehashed: Boolean(newPasswordHash) });
  return tokensFor(config, user.id, refreshToken.token);
}

/**
 * Runs a counted attempt's password check. Should the check itself fail (the isolate's CPU limit,
 * say), the attempt stays a failure and its check ends, so that attempts waiting for a place are
 * not held up by a check that will never end.
 */
async function checked<T>(db: Database, attempt: LoginAttempt, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    await endAttempt(db, attempt.counted, "failed").catch(() => {});
    throw error;
  }
}

/** Spends a refresh token for new tokens (see rotateRefreshToken for what refuses it). */
export async function refreshSession({ config, db, logger }: AuthServices, presented: string): Promise<Tokens> {
  const next = newRefreshToken();
  try {
    const { userId } = await rotateRefreshToken(
      db,
      hashRefreshToken(presented),
      next.hash,
      config.REFRESH_TOKEN_TTL_SECONDS,
      config.SESSION_MAX_SECONDS,
    );
    return await tokensFor(config, userId, next.token);
  } catch (error) {
    // Possible theft: worth the operator's attention, unlike an expired or unknown token.
    if (error instanceof Failure && error.code === "refresh_token_reused") {
      logger.warn("refresh token reused; its login chain was revoked");
    }
    throw error;
  }
}

/** Ends the login the refresh token belongs to; an unknown token ends nothing. */
export async function logOut(db: Database, presented: string): Promise<void> {
  await revokeChain(db, hashRefreshToken(presented));
}

/**
 * Closes the caller's account (DELETE /auth/me) once its password is confirmed. The attempt is
 * counted on the login throttle's own counters (the account's and the address's) before any
 * hashing, so a stolen access token cannot be used to guess the password faster than a login
 * could: `login_throttled` (429) past the limit, `password_incorrect` (401) for a wrong password,
 * with nothing changed. `account_inactive` when the account is already closed.
 */
export async function closeAccount(
  services: AuthServices,
  input: { userId: string; password: string; address: string; ipAddress: string | null; userAgent: string | null },
  waitUntil = Date.now() + CHECK_WAIT_MS,
): Promise<void> {
  const { config, db, logger } = services;
  const attempt = await countLoginAttempt(db, { userId: input.userId }, input.address, throttlePolicy(config));
  const { user } = attempt;
  if (!user) {
    // The token's account is closed or gone: no attempt against it is worth counting.
    await releaseRefusedAttempt(db, attempt.counted);
    throw new Failure("account_inactive", "The account no longer exists.");
  }
  if (attempt.retryAfter > 0) {
    await releaseRefusedAttempt(db, attempt.counted);
    if (attempt.checksRunning && Date.now() < waitUntil) {
      await pauseForPlace(waitUntil);
      return closeAccount(services, input, waitUntil);
    }
    logger.warn("account closure throttled", { retry_after: attempt.retryAfter });
    throw new Failure("login_throttled", "Too many failed password attempts. Try again later.", {
      retryAfterSeconds: attempt.retryAfter,
    });
  }
  const verdict = await checked(db, attempt, () =>
    verifyPassword(input.password, user.passwordHash, peppersOf(config)),
  );
  if (!verdict.ok) {
    await endAttempt(db, attempt.counted, "failed");
    logger.info("account closure refused: wrong password", { user_id: input.userId });
    throw new Failure("password_incorrect", "The password is incorrect; the account was not closed.");
  }
  const closed = await closeAccountRows(db, {
    userId: input.userId,
    counted: attempt.counted,
    ipAddress: input.ipAddress,
    userAgent: input.userAgent,
  });
  if (!closed) throw new Failure("account_inactive", "The account no longer exists.");
  logger.info("account closed", { user_id: input.userId });
}
