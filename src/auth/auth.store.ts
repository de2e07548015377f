// Database access for accounts and sessions. Each function is one round trip: a single statement
// or one batch (a transaction), since Neon's HTTP driver has no interactive transactions.
import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { loginThrottles, refreshTokens, users } from "../db/schema";

export type UserRecord = { id: string; email: string; fullName: string | null; createdAt: Date };

const userColumns = { id: users.id, email: users.email, fullName: users.fullName, createdAt: users.createdAt };

export class EmailTakenError extends Error {}

export async function createUser(
  db: Database,
  input: { email: string; fullName: string | null; passwordHash: string },
): Promise<UserRecord> {
  try {
    const [user] = await db.insert(users).values(input).returning(userColumns);
    return user as UserRecord;
  } catch (error) {
    // The case-insensitive unique index decides, also between concurrent registrations.
    if (isUniqueViolation(error, "users_email_lower_key")) throw new EmailTakenError();
    throw error;
  }
}

export async function findActiveUser(db: Database, id: string): Promise<UserRecord | null> {
  const [user] = await db
    .select(userColumns)
    .from(users)
    .where(and(eq(users.id, id), eq(users.isActive, true)));
  return user ?? null;
}

export type ThrottlePolicy = { windowSeconds: number; maxPerAccount: number; maxPerAddress: number };
export type ThrottleKeys = { account: string; address: string };

export function throttleKeys(email: string, address: string): ThrottleKeys {
  return { account: `account:${email.trim().toLowerCase()}`, address: `address:${address}` };
}

/**
 * The account to check the password against, and how long the caller must wait first (0 when
 * neither the account nor the client address is over its limit), in one statement.
 */
export async function loginLookup(
  db: Database,
  email: string,
  keys: ThrottleKeys,
  policy: ThrottlePolicy,
): Promise<{ user: { id: string; passwordHash: string } | null; retryAfter: number }> {
  const result = await db.execute<{ id: string | null; password_hash: string | null; retry_after: number }>(sql`
    select u.id, u.password_hash,
      coalesce((
        select max(ceil(extract(epoch from t.window_started_at + make_interval(secs => ${policy.windowSeconds}) - now())))
        from ${loginThrottles} t
        where t.window_started_at > now() - make_interval(secs => ${policy.windowSeconds})
          and ((t.key = ${keys.account} and t.failures >= ${policy.maxPerAccount})
            or (t.key = ${keys.address} and t.failures >= ${policy.maxPerAddress}))
      ), 0)::int as retry_after
    from (select 1) as one
    left join ${users} u on lower(u.email) = lower(${email}) and u.is_active`);
  const row = result.rows[0];
  return {
    user: row?.id && row.password_hash ? { id: row.id, passwordHash: row.password_hash } : null,
    retryAfter: Number(row?.retry_after ?? 0),
  };
}

/** Counts one failure against the account and the address, starting a new window when the old one ended. */
export async function recordLoginFailure(db: Database, keys: ThrottleKeys, policy: ThrottlePolicy): Promise<void> {
  await db.execute(sql`
    insert into ${loginThrottles} as t (key, failures, window_started_at)
    values (${keys.account}, 1, now()), (${keys.address}, 1, now())
    on conflict (key) do update set
      failures = case when t.window_started_at <= now() - make_interval(secs => ${policy.windowSeconds})
                      then 1 else t.failures + 1 end,
      window_started_at = case when t.window_started_at <= now() - make_interval(secs => ${policy.windowSeconds})
                               then now() else t.window_started_at end`);
}

/** Starts a refresh-token chain, clears the account's failures and, if asked, stores a rehashed password. */
export async function recordLoginSuccess(
  db: Database,
  input: { userId: string; keys: ThrottleKeys; refreshHash: Uint8Array; ttlSeconds: number; newPasswordHash?: string },
): Promise<void> {
  const expiresAt = new Date(Date.now() + input.ttlSeconds * 1000);
  const insertToken = db.insert(refreshTokens).values({
    userId: input.userId,
    chainId: crypto.randomUUID(),
    tokenHash: input.refreshHash,
    expiresAt,
  });
  const clearFailures = db.delete(loginThrottles).where(eq(loginThrottles.key, input.keys.account));
  if (input.newPasswordHash) {
    await db.batch([
      insertToken,
      clearFailures,
      db
        .update(users)
        .set({ passwordHash: input.newPasswordHash, updatedAt: new Date() })
        .where(eq(users.id, input.userId)),
    ]);
  } else {
    await db.batch([insertToken, clearFailures]);
  }
}

export type RotationResult = { outcome: "rotated"; userId: string } | { outcome: "reused" } | { outcome: "invalid" };

/**
 * Spends the presented refresh token and issues the next one of its chain, in one statement.
 * A token that was already spent revokes its whole chain instead (RFC 9700 §4.14.2): whoever
 * holds the chain's live token, thief or owner, has to log in again.
 */
export async function rotateRefreshToken(
  db: Database,
  presentedHash: Uint8Array,
  nextHash: Uint8Array,
  ttlSeconds: number,
): Promise<RotationResult> {
  const result = await db.execute<{ user_id: string | null; revoked: number }>(sql`
    with presented as (
      select id, user_id, chain_id, used_at from ${refreshTokens} where token_hash = ${presentedHash}
    ),
    spent as (
      update ${refreshTokens} r set used_at = now()
      from presented p join ${users} u on u.id = p.user_id and u.is_active
      where r.id = p.id and r.used_at is null and r.revoked_at is null and r.expires_at > now()
      returning r.user_id, r.chain_id
    ),
    issued as (
      insert into ${refreshTokens} (user_id, chain_id, token_hash, expires_at)
      select user_id, chain_id, ${nextHash}, now() + make_interval(secs => ${ttlSeconds}) from spent
      returning user_id
    ),
    revoked as (
      update ${refreshTokens} r set revoked_at = now()
      from presented p
      where p.used_at is not null and r.chain_id = p.chain_id and r.revoked_at is null
      returning r.id
    )
    select (select user_id from issued) as user_id,
           (select count(*) from revoked)::int + (select count(*) from presented where used_at is not null)::int as revoked`);
  const row = result.rows[0];
  if (row?.user_id) return { outcome: "rotated", userId: row.user_id };
  if (Number(row?.revoked ?? 0) > 0) return { outcome: "reused" };
  return { outcome: "invalid" };
}

/** Ends the login the token belongs to: every token of its chain stops refreshing. */
export async function revokeChain(db: Database, presentedHash: Uint8Array): Promise<void> {
  await db.execute(sql`
    update ${refreshTokens} set revoked_at = now()
    where revoked_at is null
      and chain_id = (select chain_id from ${refreshTokens} where token_hash = ${presentedHash})`);
}

/** Housekeeping for the Cron Trigger: expired or revoked tokens and finished throttle windows. */
export async function purgeAuthState(
  db: Database,
  throttleWindowSeconds: number,
): Promise<{ tokens: number; throttles: number }> {
  const [tokens, throttles] = await db.batch([
    db
      .delete(refreshTokens)
      .where(sql`${refreshTokens.expiresAt} < now() or ${refreshTokens.revokedAt} is not null`)
      .returning({ id: refreshTokens.id }),
    db
      .delete(loginThrottles)
      .where(sql`${loginThrottles.windowStartedAt} < now() - make_interval(secs => ${throttleWindowSeconds})`)
      .returning({ key: loginThrottles.key }),
  ]);
  return { tokens: tokens.length, throttles: throttles.length };
}
