// Database access for accounts and sessions. Each function is one round trip (a single statement
// or one batch, a transaction, since Neon's HTTP driver has no interactive transactions), except
// a refresh that lost a race, which reads once more. Expected failures are thrown as Failure
// (src/lib/failure.ts); results are return values.
import { and, eq, type SQL, sql } from "drizzle-orm";
import { isTrue } from "../db/booleans";
import type { Database } from "../db/client";
import { isUniqueViolation } from "../db/errors";
import { loginThrottles, refreshTokens, users } from "../db/schema";
import { Failure } from "../lib/failure";

export type UserRecord = { id: string; email: string; fullName: string | null; createdAt: Date };

const userColumns = { id: users.id, email: users.email, fullName: users.fullName, createdAt: users.createdAt };

export async function createUser(
  db: Database,
  input: { email: string; fullName: string | null; passwordHash: string },
): Promise<UserRecord> {
  try {
    const [user] = await db.insert(users).values(input).returning(userColumns);
    return user as UserRecord;
  } catch (error) {
    // The case-insensitive unique index decides, also between concurrent registrations.
    if (isUniqueViolation(error, "users_email_lower_key")) {
      throw new Failure("email_taken", "An account with this email already exists.");
    }
    throw error;
  }
}

/**
 * Whether an open account already holds this email, as the unique index compares it (lower(),
 * open accounts only: a closed account's email may register again). A
 * cheap look before the expensive hash; the index still decides between concurrent registrations.
 */
export async function emailTaken(db: Database, email: string): Promise<boolean> {
  const result = await db.execute(
    sql`select 1 from ${users} where lower(${users.email}) = lower(${email}) and ${users.isActive} limit 1`,
  );
  return result.rows.length > 0;
}

/**
 * An account that exists and is open; a token for any other is as good as no token. With the
 * bytes its documents' versions hold (the storage quota's counter).
 */
export async function getActiveUser(db: Database, id: string): Promise<UserRecord & { storageUsedBytes: number }> {
  const [user] = await db
    .select({ ...userColumns, storageUsedBytes: users.storageUsedBytes })
    .from(users)
    .where(and(eq(users.id, id), eq(users.isActive, true)));
  if (!user) throw new Failure("account_inactive", "The account no longer exists.");
  return user;
}

export type ThrottlePolicy = { windowSeconds: number; maxPerAccount: number; maxPerAddress: number };

/** The attempt as counted: the keys and the window it was counted in, to be undone on success or refusal. */
// Windows as PostgreSQL's text, so that they compare equal to the microsecond (a Date keeps milliseconds).
export type CountedAttempt = { accountKey: string; addressKey: string; accountWindow: string; addressWindow: string };

export type LoginAttempt = {
  user: { id: string; passwordHash: string } | null;
  /** Seconds until the caller may try again; 0 when this attempt may be checked. */
  retryAfter: number;
  /**
   * For an attempt over a limit: whether the places within it are held by checks still running
   * rather than by failures, so that one may come free (see `checksHoldPlaces`).
   */
  checksRunning: boolean;
  counted: CountedAttempt;
};

/**
 * Resolves the account and counts this attempt against it and the client address before any
 * password is checked, in one statement. The upsert's row locks serialise concurrent attempts,
 * so of any number arriving at once exactly the first `max` of a window see a count within the
 * limit. The account's counter is keyed by the user id PostgreSQL resolved, so spellings that
 * reach the same account (case, "İ" for "i") share it; an email without an account is keyed by
 * a digest of PostgreSQL's lower() of it, the same expression that finds accounts, so whether an
 * account exists changes nothing here.
 */
export async function countLoginAttempt(
  db: Database,
  who: string | { userId: string },
  addressKey: string,
  policy: ThrottlePolicy,
): Promise<LoginAttempt> {
  // An email (login), or an account id (closing an account, which confirms the password and is
  // throttled like a login, on the same counters).
  const email = typeof who === "string" ? who : "";
  const match = typeof who === "string" ? sql`lower(u.email) = lower(${email})` : sql`u.id = ${who.userId}::uuid`;
  const unknownKey =
    typeof who === "string"
      ? sql`'email:' || encode(sha256(convert_to(lower(${email}), 'UTF8')), 'hex')`
      : sql`${`account:${who.userId}`}::text`;
  const result = await db.execute<{
    id: string | null;
    password_hash: string | null;
    account_key: string;
    account_failures: number;
    account_checking: number;
    account_window: string;
    account_retry: number;
    address_failures: number;
    address_checking: number;
    address_window: string;
    address_retry: number;
  }>(sql`
    with account as (
      select u.id, u.password_hash from ${users} u where ${match} and u.is_active limit 1
    ),
    keyed as (
      select coalesce('account:' || (select id::text from account), ${unknownKey}) as account_key
    ),
    counted as (${countAttempts(
      sql`select account_key from keyed union all select ${`address:${addressKey}`}`,
      policy.windowSeconds,
      { checking: true },
    )})
    select a.id, a.password_hash, k.account_key,
      ac.failures as account_failures, ac.checking as account_checking, ac.window_started_at as account_window,
      ac.retry as account_retry,
      ad.failures as address_failures, ad.checking as address_checking, ad.window_started_at as address_window,
      ad.retry as address_retry
    from keyed k
    join counted ac on ac.key = k.account_key
    join counted ad on ad.key = ${`address:${addressKey}`}
    left join account a on true`);
  const row = result.rows[0];
  if (!row) throw new Error("login attempt was not counted");
  const overAccount = Number(row.account_failures) > policy.maxPerAccount;
  const overAddress = Number(row.address_failures) > policy.maxPerAddress;
  const retryAfter = Math.max(
    overAccount ? waitSeconds(row.account_retry, policy.windowSeconds) : 0,
    overAddress ? waitSeconds(row.address_retry, policy.windowSeconds) : 0,
  );
  return {
    user: row.id && row.password_hash ? { id: row.id, passwordHash: row.password_hash } : null,
    retryAfter,
    checksRunning: checksHoldPlaces([
      {
        failures: Number(row.account_failures),
        checking: Number(row.account_checking),
        max: policy.maxPerAccount,
      },
      {
        failures: Number(row.address_failures),
        checking: Number(row.address_checking),
        max: policy.maxPerAddress,
      },
    ]),
    counted: {
      accountKey: row.account_key,
      addressKey: `address:${addressKey}`,
      accountWindow: row.account_window,
      addressWindow: row.address_window,
    },
  };
}

/**
 * Counts one attempt against each key that `keys` (a select of one text column) yields, and
 * answers each counter as it now stands: `key, failures, window_started_at` (text, to the
 * microsecond) and `retry` (seconds left in its window). The upsert's row locks serialise
 * concurrent attempts, so of any number arriving at once exactly the first `max` of a window see
 * a count within the limit. A CTE body: login and account closure use it, and so do share-link
 * passwords (src/documents/links.store.ts) with keys of their own.
 */
export function countAttempts(keys: SQL, windowSeconds: number, options: { checking?: boolean } = {}): SQL {
  const window = sql`make_interval(secs => ${windowSeconds})`;
  // With `checking`, the attempt is also counted as a check in flight (`checking`, answered too):
  // share links end it when the password has been checked (links.store.ts).
  const checks = options.checking ? 1 : 0;
  return sql`
      insert into ${loginThrottles} as t (key, failures, checking, window_started_at)
      select k.key, 1, ${checks}::int, now() from (${keys}) as k(key)
      on conflict (key) do update set
        failures = case when t.window_started_at <= now() - ${window} then 1 else t.failures + 1 end,
        checking = case when t.window_started_at <= now() - ${window} then ${checks}::int else t.checking + ${checks}::int end,
        window_started_at = case when t.window_started_at <= now() - ${window} then now() else t.window_started_at end
      returning t.key, t.failures, t.checking, t.window_started_at::text as window_started_at,
        ceil(extract(epoch from t.window_started_at + ${window} - now()))::int as retry`;
}

// A window may have been opened by a transaction that started after this one (its now() is
// later), so the remaining time can come out a little above the window; it is never above it.
export const waitSeconds = (remaining: number | string, windowSeconds: number) =>
  Math.min(windowSeconds, Math.max(1, Number(remaining)));

/**
 * How long an attempt over a throttle's limit waits for other checks in flight to end before it
 * is answered 429 (a check is one scrypt, ~150 ms; a burst queues behind the limit's few at a time).
 */
export const CHECK_WAIT_MS = 10_000;

/**
 * The pause before an attempt that waits for a place (until `waitUntil`) is counted again: about
 * as long as it has waited so far, from 50 ms up to 800 ms, jittered. Each round is two
 * statements on the counters' rows, so a burst that polled every 25–100 ms piled its rounds onto
 * the database (a loaded machine's statements missed their deadline: 503) and onto the request's
 * subrequests; backing off keeps a 10 s wait to about twenty rounds while a place that comes free
 * within a check's time is still taken within one.
 */
export function pauseForPlace(waitUntil: number): Promise<void> {
  const waited = Date.now() - (waitUntil - CHECK_WAIT_MS);
  const pause = Math.min(800, Math.max(50, waited)) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, pause));
}

/**
 * Whether an attempt over a limit may wait for a place: on every counter it is over, fewer than
 * the limit are failures, the rest of the count being checks still running (a right password
 * gives its place back when it ends). So N right passwords at once all get through, a few at a
 * time, while at most the limit are ever checked at once or failed per window: once failures fill
 * a counter, an attempt over it is refused at once. Failures are the counted attempts not being
 * checked; an attempt over the limit is in both counts until it is taken back, so attempts
 * refused at the same moment never pass for checks running.
 */
export function checksHoldPlaces(counters: { failures: number; checking: number; max: number }[]): boolean {
  return counters.every(({ failures, checking, max }) => failures <= max || failures - checking < max);
}

/**
 * Ends a counted check on one counter (a statement): `taken back` (a right password, or an
 * attempt refused unchecked) leaves no failure; `failed` (a wrong password) stays a failure.
 * Only within the window it was counted in (a window that has since restarted owes it nothing),
 * never below zero.
 */
export const endCheckSql = (key: string, windowStartedAt: string, outcome: "taken back" | "failed") => sql`
  update ${loginThrottles} set checking = greatest(0, checking - 1)${
    outcome === "taken back" ? sql`, failures = greatest(0, failures - 1)` : sql``
  }
  where key = ${key} and window_started_at = ${windowStartedAt}::timestamptz`;

const uncount = (db: Database, key: string, windowStartedAt: string) =>
  db.execute(endCheckSql(key, windowStartedAt, "taken back"));

/**
 * A refused attempt (429) was never checked, so it does not count: an address that is over its
 * limit cannot go on locking accounts, and an account's lockout does not use up its address.
 */
export async function releaseRefusedAttempt(db: Database, counted: CountedAttempt): Promise<void> {
  await endAttempt(db, counted, "taken back");
}

/** A counter an attempt was counted on, and the window it was counted in. */
export type CountedOn = { key: string; windowStartedAt: string };

/**
 * Ends a counted check on both counters an attempt was counted on (a login's account and address,
 * a link password's link and address), in one statement.
 */
export async function endChecks(
  db: Database,
  [first, second]: [CountedOn, CountedOn],
  outcome: "taken back" | "failed",
) {
  await db.execute(sql`
    with first as (${endCheckSql(first.key, first.windowStartedAt, outcome)})
    ${endCheckSql(second.key, second.windowStartedAt, outcome)}`);
}

/** Ends a checked attempt on both counters: a wrong password stays a failure, its check ends. */
export async function endAttempt(db: Database, counted: CountedAttempt, outcome: "taken back" | "failed") {
  await endChecks(
    db,
    [
      { key: counted.accountKey, windowStartedAt: counted.accountWindow },
      { key: counted.addressKey, windowStartedAt: counted.addressWindow },
    ],
    outcome,
  );
}

/**
 * Starts a refresh-token chain, clears the account's counter, takes the successful attempt back
 * from the address's count and, if asked, stores a rehashed password: one batch.
 */
export async function recordLoginSuccess(
  db: Database,
  input: {
    userId: string;
    counted: CountedAttempt;
    refreshHash: Uint8Array;
    ttlSeconds: number;
    newPasswordHash?: string;
  },
): Promise<void> {
  const expiresAt = new Date(Date.now() + input.ttlSeconds * 1000);
  const insertToken = db.insert(refreshTokens).values({
    userId: input.userId,
    chainId: crypto.randomUUID(),
    chainStartedAt: sql`now()`,
    tokenHash: input.refreshHash,
    expiresAt,
  });
  const clearAccount = db.delete(loginThrottles).where(eq(loginThrottles.key, input.counted.accountKey));
  const releaseAddress = uncount(db, input.counted.addressKey, input.counted.addressWindow);
  if (input.newPasswordHash) {
    await db.batch([
      insertToken,
      clearAccount,
      releaseAddress,
      db
        .update(users)
        .set({ passwordHash: input.newPasswordHash, updatedAt: new Date() })
        .where(eq(users.id, input.userId)),
    ]);
  } else {
    await db.batch([insertToken, clearAccount, releaseAddress]);
  }
}

const reused = () =>
  new Failure("refresh_token_reused", "This refresh token was already used; the session has been revoked.");
const invalidRefreshToken = () =>
  new Failure("refresh_token_invalid", "The refresh token is invalid, expired or revoked.");

/**
 * Spends the presented refresh token and issues the next one of its chain, in one statement.
 * A token that was already spent revokes its whole chain instead (RFC 9700 §4.14.2): whoever
 * holds the chain's live token, thief or owner, has to log in again. A chain older than
 * `sessionMaxSeconds` (counted from its login, carried through every rotation) is not renewed,
 * and no token of it outlives that moment. Answers the user id of the chain; a spent token is
 * `refresh_token_reused`, a chain past its lifetime `session_expired`, anything else unusable
 * `refresh_token_invalid`.
 */
export async function rotateRefreshToken(
  db: Database,
  presentedHash: Uint8Array,
  nextHash: Uint8Array,
  ttlSeconds: number,
  sessionMaxSeconds: number,
): Promise<{ userId: string }> {
  const sessionEnd = sql`p.chain_started_at + make_interval(secs => ${sessionMaxSeconds})`;
  const result = await db.execute<{
    user_id: string | null;
    revoked: number;
    found: number;
    session_over: boolean;
  }>(sql`
    with presented as (
      select id, user_id, chain_id, chain_started_at, used_at from ${refreshTokens} where token_hash = ${presentedHash}
    ),
    spent as (
      update ${refreshTokens} r set used_at = now()
      from presented p join ${users} u on u.id = p.user_id and u.is_active
      where r.id = p.id and r.used_at is null and r.revoked_at is null and r.expires_at > now()
        and ${sessionEnd} > now()
      returning r.user_id, r.chain_id, r.chain_started_at
    ),
    issued as (
      insert into ${refreshTokens} (user_id, chain_id, chain_started_at, token_hash, expires_at)
      select p.user_id, p.chain_id, p.chain_started_at, ${nextHash},
             least(now() + make_interval(secs => ${ttlSeconds}), ${sessionEnd})
      from spent p
      returning user_id
    ),
    revoked as (
      update ${refreshTokens} r set revoked_at = now()
      from presented p
      where p.used_at is not null and r.chain_id = p.chain_id and r.revoked_at is null
      returning r.id
    )
    select (select user_id from issued) as user_id,
           (select count(*) from revoked)::int + (select count(*) from presented where used_at is not null)::int as revoked,
           (select count(*) from presented)::int as found,
           coalesce((select ${sessionEnd} <= now() from presented p), false) as session_over`);
  const row = result.rows[0];
  if (row?.user_id) return { userId: row.user_id };
  if (Number(row?.revoked ?? 0) > 0) throw reused();
  if (Number(row?.found ?? 0) === 0) throw invalidRefreshToken();
  // The token existed and looked unspent to this statement, yet was not spent by it: either it is
  // unusable (expired, revoked, account closed, session over), or a concurrent refresh with the
  // same token won the row lock. That winner has committed by now, so a second read tells theft
  // apart; without it the loser would see "invalid" and the chain would live on.
  if (await revokeChainIfSpent(db, presentedHash)) throw reused();
  if (isTrue(row?.session_over)) {
    throw new Failure("session_expired", "The session has expired; log in again.");
  }
  throw invalidRefreshToken();
}

/** Revokes the token's chain when the token has been spent; true when it had been. */
async function revokeChainIfSpent(db: Database, presentedHash: Uint8Array): Promise<boolean> {
  const result = await db.execute<{ spent: number }>(sql`
    with presented as (
      select chain_id from ${refreshTokens} where token_hash = ${presentedHash} and used_at is not null
    ),
    revoked as (
      update ${refreshTokens} r set revoked_at = now()
      from presented p
      where r.chain_id = p.chain_id and r.revoked_at is null
      returning r.id
    )
    select (select count(*) from presented)::int as spent, (select count(*) from revoked)::int as revoked`);
  return Number(result.rows[0]?.spent ?? 0) > 0;
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

/**
 * Closes an account, in one batch (one transaction): the account first (its row lock makes a
 * concurrent grant to it wait and then find it closed), then, each statement seeing what committed
 * before it: every refresh token revoked; the documents it owns moved to the trash (`deleted_at`
 * now, so purged after the retention, restorable meanwhile by their ADMINs, who then adopt them),
 * each with its `document.deleted` row; its permissions on others' documents removed, each with
 * its `permission.revoked` row; every share link it created deleted, each with its `link.revoked` row; its login-throttle counter cleared and the attempt taken back from the address's. Its email is free from the
 * commit on (the unique index covers open accounts only). False when the account was not open.
 */
export async function closeAccount(
  db: Database,
  input: { userId: string; counted: CountedAttempt; ipAddress: string | null; userAgent: string | null },
): Promise<boolean> {
  const user = sql`${input.userId}::uuid`;
  const audit = (action: string, documentId: SQL, details: SQL) => sql`
    insert into activity_logs (document_id, actor_id, action, details, ip_address, user_agent)
    select ${documentId}, ${user}, ${action}, ${details}, ${input.ipAddress}::inet, ${input.userAgent}`;
  const [closed] = await db.batch([
    db.execute<{ id: string }>(sql`
      update ${users} set is_active = false, closed_at = now(), updated_at = now()
      where id = ${user} and is_active
      returning id`),
    db.execute(sql`
      update ${refreshTokens} set revoked_at = now()
      where user_id = ${user} and revoked_at is null
        and exists (select 1 from ${users} where id = ${user} and closed_at is not null)`),
    // Share links die with the account that made them (on its own documents and on others'), each
    // with its `link.revoked` row: nobody answers for them any more. Before its documents go to the
    // trash, so that their readers' feeds and webhooks list the revocations (a change to a trashed
    // document has no readers) and a sync client that sees the document come back knows its links
    // did not.
    db.execute(sql`
      with revoked as (
        delete from share_links l
        where l.created_by = ${user}
          and exists (select 1 from ${users} where id = ${user} and closed_at is not null)
        returning l.id, l.document_id, l.download_count
      )
      ${audit(
        "link.revoked",
        sql`r.document_id`,
        sql`jsonb_build_object('link_id', r.id, 'download_count', r.download_count, 'reason', 'account_closed')`,
      )}
      from revoked r`),
    db.execute(sql`
      with trashed as (
        update documents d set deleted_at = now(), deleted_by = ${user}, revision = d.revision + 1
        where d.owner_id = ${user} and d.deleted_at is null
          and exists (select 1 from ${users} where id = ${user} and closed_at is not null)
        returning d.id, d.title
      )
      ${audit("document.deleted", sql`t.id`, sql`jsonb_build_object('title', t.title, 'reason', 'account_closed')`)}
      from trashed t`),
    db.execute(sql`
      with revoked as (
        delete from document_permissions p
        where p.user_id = ${user}
          and exists (select 1 from ${users} where id = ${user} and closed_at is not null)
        returning p.document_id, p.user_id, p.role
      )
      ${audit(
        "permission.revoked",
        sql`r.document_id`,
        sql`jsonb_build_object('user_id', r.user_id, 'role', r.role, 'reason', 'account_closed')`,
      )}
      from revoked r`),
    // As after a successful login: the account's counter cleared, the attempt taken back from the address's.
    db.delete(loginThrottles).where(eq(loginThrottles.key, input.counted.accountKey)),
    uncount(db, input.counted.addressKey, input.counted.addressWindow),
  ]);
  return closed.rows.length > 0;
}
