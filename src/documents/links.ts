// Share links: the flows (tokens, passwords, throttling, storage) around links.store.ts.
//
// Tokens: 32 random bytes (256 bits) as base64url (43 characters), shown once at creation and
// stored only as their SHA-256, which is what a lookup compares (an index probe on a hash: no
// timing signal about the token). A token of another shape is refused before any statement runs.
//
// A download, in this order: find the link (and count a password attempt, one statement); answer
// 404/410 for a dead link; 401 without the password it needs; 429 past the throttle, before any
// hashing; check the password (scrypt, like an account's); HEAD the object (a missing object or a
// storage failure uses no download); presign the URL (a local signature that cannot fail on
// storage); only then count the download, in the statement that checks the limit. So nothing
// that can fail comes after the count, and no download is ever given back.
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { CHECK_WAIT_MS, checksHoldPlaces, pauseForPlace, waitSeconds } from "../auth/auth.store";
import { hashPassword, verifyPassword } from "../auth/password";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { DependencyError, Failure } from "../lib/failure";
import type { Logger } from "../lib/logger";
import type { ObjectStorage } from "../storage/object-storage";
import type { Actor } from "./actor";
import { presignDownload } from "./download-url";
import {
  countDownload,
  endGuess,
  insertLink,
  type LinkView,
  linkNotFound,
  type ResolvedLink,
  resolveLink,
} from "./links.store";

/** How long a presigned URL handed out through a share link lives. */
export const LINK_URL_TTL_SECONDS = 60;

/** What a token looks like: 43 base64url characters (32 bytes). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export const isTokenShaped = (token: string) => TOKEN_SHAPE.test(token);

/** What is stored of a token, and looked up: its SHA-256 (as for refresh tokens). */
export const hashToken = (token: string): Uint8Array => sha256(utf8ToBytes(token));

const newToken = () =>
  btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

export type LinkServices = { config: Config; db: Database; storage: ObjectStorage; logger: Logger };

const peppersOf = (config: Config) => ({ current: config.PASSWORD_PEPPER, previous: config.PASSWORD_PEPPER_PREVIOUS });

/** Creates a link: a new token (returned once, never stored) and the password hashed like an account's. */
export async function createLink(
  { config, db }: Pick<LinkServices, "config" | "db">,
  input: {
    documentId: string;
    actor: Actor;
    password: string | null;
    versionNumber: number | null;
    expiresAt: string | null;
    maxDownloads: number | null;
  },
): Promise<LinkView & { token: string }> {
  const token = newToken();
  const passwordHash = input.password === null ? null : await hashPassword(input.password, config.PASSWORD_PEPPER);
  const link = await insertLink(db, {
    documentId: input.documentId,
    actor: input.actor,
    tokenHash: hashToken(token),
    passwordHash,
    versionNumber: input.versionNumber,
    expiresAt: input.expiresAt,
    maxDownloads: input.maxDownloads,
  });
  return { ...link, token };
}

export type PublicLink = {
  title: string;
  file_name: string;
  content_type: string;
  size_bytes: number;
  version_number: number;
  expires_at: string | null;
  has_password: boolean;
  downloads_left: number | null;
};

function alive(found: { link: ResolvedLink } | null): ResolvedLink {
  if (!found) throw linkNotFound();
  if (found.link.expired) throw new Failure("link_expired", "This share link has expired.");
  if (found.link.exhausted) throw new Failure("link_exhausted", "This share link has no downloads left.");
  return found.link;
}

/** What a link offers, without using a download (no password needed to see it). */
export async function describeLink(db: Database, token: string): Promise<PublicLink> {
  if (!isTokenShaped(token)) throw linkNotFound();
  const link = alive(await resolveLink(db, hashToken(token)));
  return {
    title: link.title,
    file_name: link.fileName,
    content_type: link.contentType,
    size_bytes: link.sizeBytes,
    version_number: link.versionNumber,
    expires_at: link.expiresAt,
    has_password: link.passwordHash !== null,
    downloads_left: link.downloadsLeft,
  };
}

/**
 * Whether `GET …/download` would hand out a URL, without using a download or signing one (for
 * HEAD requests: link previews and prefetchers must not spend a link's downloads).
 */
export async function probeDownload(db: Database, token: string): Promise<void> {
  const link = await describeLink(db, token);
  if (link.has_password) throw passwordRequired();
}

const passwordRequired = () =>
  new Failure(
    "link_password_required",
    "This share link has a password: send it in the body of POST /api/v1/links/{token}/download.",
  );

/**
 * A presigned GET (valid LINK_URL_TTL_SECONDS) of the link's version, using one download.
 * `password` is undefined when none was sent (always for GET …/download): a link with a password
 * is then `link_password_required`, and nothing is counted.
 */
export async function downloadByLink(
  services: LinkServices,
  input: { token: string; password: string | undefined; address: string; actor: Omit<Actor, "userId"> },
  waitUntil = Date.now() + CHECK_WAIT_MS,
): Promise<{ url: string; expiresAt: string }> {
  const { config, db, storage, logger } = services;
  if (!isTokenShaped(input.token)) throw linkNotFound();
  const countGuess =
    input.password === undefined
      ? undefined
      : { addressKey: input.address, windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS };
  const found = await resolveLink(db, hashToken(input.token), countGuess);
  const link = alive(found);
  const guess = found?.guess ?? null;

  let rehash: { from: string; to: string } | null = null;
  if (link.passwordHash !== null) {
    if (input.password === undefined) {
      throw passwordRequired();
    }
    if (!guess) throw new Error("a password attempt on a live link was not counted");
    const overLink = guess.linkFailures > config.LOGIN_MAX_FAILURES_PER_ACCOUNT;
    const overAddress = guess.addressFailures > config.LOGIN_MAX_FAILURES_PER_ADDRESS;
    if (overLink || overAddress) {
      // Never checked, so not a failure: it is taken back (as for logins).
      await endGuess(db, guess, "taken back");
      // Where the places within the limit are held by checks still running, one comes free within
      // a check's time: wait for it, so that of N+k right passwords at once exactly N download
      // (max_downloads under concurrency).
      const checksRunning = checksHoldPlaces([
        { failures: guess.linkFailures, checking: guess.linkChecking, max: config.LOGIN_MAX_FAILURES_PER_ACCOUNT },
        {
          failures: guess.addressFailures,
          checking: guess.addressChecking,
          max: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
        },
      ]);
      if (checksRunning && Date.now() < waitUntil) {
        await pauseForPlace(waitUntil);
        return downloadByLink(services, input, waitUntil);
      }
      const window = config.LOGIN_FAILURE_WINDOW_SECONDS;
      const retryAfter = Math.max(
        overLink ? waitSeconds(guess.linkRetry, window) : 0,
        overAddress ? waitSeconds(guess.addressRetry, window) : 0,
      );
      logger.warn("share link password throttled", { link_id: link.id, retry_after: retryAfter });
      throw new Failure(
        "link_password_throttled",
        "Too many wrong password attempts for this link (or from this address). Try again later.",
        {
          retryAfterSeconds: retryAfter,
        },
      );
    }
    let verdict: Awaited<ReturnType<typeof verifyPassword>>;
    try {
      verdict = await verifyPassword(input.password, link.passwordHash, peppersOf(config));
    } catch (error) {
      await endGuess(db, guess, "failed").catch(() => {});
      throw error;
    }
    if (!verdict.ok) {
      // A failure that stays counted; its check has ended.
      await endGuess(db, guess, "failed");
      logger.info("share link password wrong", { link_id: link.id });
      throw new Failure("link_password_wrong", "The password is wrong.");
    }
    if (verdict.needsRehash) {
      rehash = { from: link.passwordHash, to: await hashPassword(input.password, config.PASSWORD_PEPPER) };
    }
  }

  let presigned: { url: string; expiresAt: string };
  try {
    const stored = await storage.head(link.storageKey);
    if (!stored) {
      logger.error("share link's object is missing from storage", { link_id: link.id, document_id: link.documentId });
      throw new DependencyError("storage", new Error("object missing"));
    }
    presigned = await presignDownload(storage, link, LINK_URL_TTL_SECONDS);
  } catch (error) {
    // No download: the right password's attempt stays counted (as before its check could end), its check is over.
    if (guess && link.passwordHash !== null) await endGuess(db, guess, "failed").catch(() => {});
    throw error;
  }

  // Ends the password's check too (taken back), in the same statement.
  const counted = await countDownload(db, {
    linkId: link.id,
    versionNumber: link.versionNumber,
    actor: input.actor,
    guess,
    rehash,
  });
  if (!counted) {
    // Another download took the last one, or the link died meanwhile: read again to say which.
    alive(await resolveLink(db, hashToken(input.token)));
    throw new Failure("link_exhausted", "This share link has no downloads left.");
  }
  logger.info("share link download", { link_id: link.id, rehashed: rehash !== null });
  return presigned;
}
