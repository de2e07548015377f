// The content queue's consumer (wrangler.toml: queue docvault-content, dead letters in
// docvault-content-dlq). A message {document_id, version_number} asks for that version's text.
// Messages are handled one at a time, so an isolate extracts one file at a time. Delivery is at
// least once and every step is idempotent: a message for a version that is no longer current, a
// trashed or purged document, or text already indexed is acknowledged without work; a repeated
// one redoes the same work and writes the same row. A file that cannot be read is `failed` at
// once (retrying would not change it); a dependency that fails is retried with a growing delay,
// and after the last retry the message reaches the dead-letter queue, whose consumer marks the
// version `failed`: a failing file never loops. A finished version is recorded as one
// `content.indexed` activity row in the statement that writes it (content.store.ts); the consumers
// answer how many they recorded, so the queue handler can hand them to webhooks and live events.
import type { Config } from "../config";
import { createDatabase, type Database } from "../db/client";
import { createLogger, describeError, type Logger } from "../lib/logger";
import { isUuid } from "../lib/uuid";
import { ObjectStorage } from "../storage/object-storage";
import { leasePending, saveContent, versionToIndex } from "./content.store";
import { extractText } from "./extract";

export type ContentMessage = { document_id: string; version_number: number; backfill?: boolean };

/** The message's request, or null for a body this service never sends (acknowledged and dropped). */
export function parseContentMessage(body: unknown): ContentMessage | null {
  if (typeof body !== "object" || body === null) return null;
  const { document_id, version_number, backfill } = body as Record<string, unknown>;
  if (typeof document_id !== "string" || !isUuid(document_id)) return null;
  if (typeof version_number !== "number" || !Number.isInteger(version_number) || version_number < 1) return null;
  if (version_number > 2_147_483_647) return null;
  return { document_id, version_number, backfill: backfill === true };
}

export type ContentDeps = { db: Database; storage: ObjectStorage; config: Config; logger: Logger };

export const contentDeps = (config: Config): ContentDeps => ({
  db: createDatabase(config),
  storage: new ObjectStorage(config, { timeoutMs: config.STORAGE_TIMEOUT_MS }),
  config,
  logger: createLogger(config.LOG_LEVEL, { queue: "content" }),
});

/**
 * Extracts and stores one version's text: its status, or "skipped" when nothing was written, and
 * whether its `content.indexed` row was recorded. Throws only when a dependency failed (retry).
 */
export async function indexVersion(
  deps: ContentDeps,
  message: ContentMessage,
): Promise<{ outcome: string; recorded: boolean }> {
  const version = await versionToIndex(deps.db, message.document_id, message.version_number);
  if (!version) return { outcome: "skipped", recorded: false };
  const result = await extractText(deps.storage, version, deps.config.CONTENT_MAX_CHARS);
  const saved = await saveContent(deps.db, {
    documentId: message.document_id,
    versionNumber: message.version_number,
    result,
  });
  return { outcome: saved.written ? result.status : "skipped", recorded: saved.recorded };
}

/** Delay before the n-th retry: 10 s, 40 s, 90 s, … at most 15 minutes. */
export const retryDelaySeconds = (attempts: number) => Math.min(900, 10 * attempts * attempts);

/** Handles a batch of the content queue; answers how many `content.indexed` rows it recorded. */
export async function consumeContent(batch: MessageBatch<unknown>, deps: ContentDeps, queue?: Queue): Promise<number> {
  let backfilled = 0;
  let recorded = 0;
  for (const message of batch.messages) {
    const request = parseContentMessage(message.body);
    if (!request) {
      deps.logger.warn("content message dropped", { message_id: message.id });
      message.ack();
      continue;
    }
    try {
      const { outcome, recorded: added } = await indexVersion(deps, request);
      if (added) recorded += 1;
      deps.logger.info("content indexed", {
        document_id: request.document_id,
        version: request.version_number,
        outcome,
      });
      message.ack();
    } catch (error) {
      deps.logger.warn("content extraction will be retried", {
        document_id: request.document_id,
        attempts: message.attempts,
        ...describeError(error),
      });
      // The row says why while the message waits (best effort: the database may be what failed).
      await saveContent(deps.db, {
        documentId: request.document_id,
        versionNumber: request.version_number,
        result: { status: "pending", error: attemptError(error) },
      }).catch(() => {});
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
    if (request.backfill) backfilled += 1;
  }
  // The backfill feeds itself: each of its messages handled sends the next pending row, so about
  // as many stay in flight as the scheduled job first sent, until none is left.
  if (queue && backfilled > 0) await enqueuePending(deps.db, queue, backfilled).catch(() => {});
  return recorded;
}

/**
 * Messages whose retries ran out: their version is `failed` (when still current and not indexed
 * meanwhile by another message); answers how many `content.indexed` rows were recorded.
 */
export async function consumeContentDeadLetters(batch: MessageBatch<unknown>, deps: ContentDeps): Promise<number> {
  let recorded = 0;
  for (const message of batch.messages) {
    const request = parseContentMessage(message.body);
    if (request) {
      const saved = await saveContent(deps.db, {
        documentId: request.document_id,
        versionNumber: request.version_number,
        result: { status: "failed", error: "The text could not be extracted: the storage or database kept failing." },
      });
      if (saved.recorded) recorded += 1;
      deps.logger.warn("content extraction gave up", { document_id: request.document_id, written: saved.written });
    }
    message.ack();
  }
  return recorded;
}

const attemptError = (error: unknown) =>
  error instanceof Error && error.name === "DependencyError"
    ? `Attempt failed (${error.message}); it will be retried.`
    : "Attempt failed; it will be retried.";

/** Sends up to `limit` pending rows (the backfill's) to the queue, 100 per call; how many were sent. */
export async function enqueuePending(db: Database, queue: Queue, limit: number): Promise<number> {
  const rows = await leasePending(db, limit);
  for (let at = 0; at < rows.length; at += 100) {
    await queue.sendBatch(
      rows.slice(at, at + 100).map((row) => ({
        body: { document_id: row.documentId, version_number: row.versionNumber, backfill: true },
        contentType: "json" as const,
      })),
    );
  }
  return rows.length;
}
