// The seven tables of the original design plus the service's own (login throttles, direct
// uploads, maintenance state). Invariants live in the database (keys, uniques, checks), so a bug
// in a handler or a race between two Workers cannot store what the contract forbids.
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  customType,
  foreignKey,
  index,
  inet,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { GRANTABLE_ROLES } from "../documents/roles";

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => "bytea" });
/** A full 64-bit transaction id (PostgreSQL 13+), as text in JS: it may exceed 2^53. */
const xid8 = customType<{ data: string }>({ dataType: () => "xid8" });

const createdAt = () => timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();

export const roleEnum = pgEnum("permission_role", GRANTABLE_ROLES);

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    email: text("email").notNull(),
    fullName: text("full_name"),
    passwordHash: text("password_hash").notNull(),
    isActive: boolean("is_active").notNull().default(true),
    /**
     * Bytes of every version of every document this user owns (soft-deleted ones too): the
     * storage quota's counter, changed in the same statement as each version row
     * (src/documents/quota.ts), never summed per request.
     */
    storageUsedBytes: bigint("storage_used_bytes", { mode: "number" }).notNull().default(0),
    /**
     * How many webhooks this user has, kept by a trigger on webhooks (every insert and delete,
     * cascades included: migration 0015): the cap's counter, checked under the row's lock when a
     * webhook is created (src/webhooks/webhooks.store.ts), so concurrent creations cannot pass it.
     */
    webhookCount: integer("webhook_count").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** When the account was closed (DELETE /auth/me); is_active is false from then on. */
    closedAt: timestamp("closed_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    // Case-insensitive uniqueness among open accounts, decided by the database, so concurrent
    // registrations cannot both win; a closed account's email may register again.
    uniqueIndex("users_email_lower_key").on(sql`lower(${t.email})`).where(sql`${t.isActive}`),
    check("users_email_length", sql`char_length(${t.email}) between 3 and 254`),
    check("users_full_name_length", sql`${t.fullName} is null or char_length(${t.fullName}) <= 200`),
    check("users_storage_used_nonnegative", sql`${t.storageUsedBytes} >= 0`),
    check("users_webhook_count_nonnegative", sql`${t.webhookCount} >= 0`),
  ],
);

export const documents = pgTable(
  "documents",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id),
    title: text("title").notNull(),
    description: text("description"),
    currentVersion: integer("current_version").notNull().default(1),
    // Bumped by every change of the document (metadata, new version, deletion): the ETag.
    revision: integer("revision").notNull().default(1),
    // Written with the title, description and tags in the same statement (tags live in
    // document_tags, which a generated column cannot read).
    searchVector: tsvector("search_vector").notNull().default(sql`''::tsvector`),
    /**
     * What a search (`q`) matches: search_vector followed by the current version's content vector
     * (document_contents.search_vector, weight D), kept by triggers (migration 0014) whatever
     * statement changes either side. One stored vector, so the list's walk reads one row per
     * candidate instead of two and concatenates nothing (DESIGN.md, "Listing at scale").
     */
    matchVector: tsvector("match_vector").notNull().default(sql`''::tsvector`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
    deletedBy: uuid("deleted_by").references(() => users.id),
    /**
     * Set once a purge began deleting this trashed document's bytes: from then on it can no
     * longer be restored, and every purge run (or DELETE /trash/{id}) finishes the job.
     */
    purgeStartedAt: timestamp("purge_started_at", { withTimezone: true, mode: "date" }),
    /** A purge run holds the document until then (two runs never work on one document at once). */
    purgeLeaseUntil: timestamp("purge_lease_until", { withTimezone: true, mode: "date" }),
    /** Which purge holds the lease: only its holder releases it early (after a storage failure). */
    purgeClaim: uuid("purge_claim"),
    /** The tombstone: versions, tags and permissions are gone; the row and its activity stay. */
    purgedAt: timestamp("purged_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    check("documents_title_length", sql`char_length(${t.title}) between 1 and 500`),
    check("documents_description_length", sql`${t.description} is null or char_length(${t.description}) <= 10000`),
    check("documents_current_version_positive", sql`${t.currentVersion} >= 1`),
    index("documents_search_vector_idx").using("gin", t.searchVector),
    index("documents_owner_created_idx")
      .on(t.ownerId, t.createdAt.desc(), t.id.desc())
      .where(sql`${t.deletedAt} is null`),
    index("documents_created_idx").on(t.createdAt.desc(), t.id).where(sql`${t.deletedAt} is null`),
    index("documents_updated_idx").on(t.updatedAt.desc(), t.id).where(sql`${t.deletedAt} is null`),
    index("documents_title_idx").on(t.title, t.id).where(sql`${t.deletedAt} is null`),
    // The trash: documents waiting for their purge, by deletion time (the purge's order and the
    // trash listing of an owner).
    index("documents_trash_idx").on(t.deletedAt, t.id).where(sql`${t.deletedAt} is not null and ${t.purgedAt} is null`),
    // The changes feed: an owner's deleted documents, trashed or purged (their document.deleted).
    index("documents_owner_deleted_idx").on(t.ownerId, t.id).where(sql`${t.deletedAt} is not null`),
    index("documents_owner_trash_idx")
      .on(t.ownerId, t.deletedAt.desc(), t.id)
      .where(sql`${t.deletedAt} is not null and ${t.purgedAt} is null`),
  ],
);

export const documentVersions = pgTable(
  "document_versions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    documentId: uuid("document_id")
      .notNull()
      .references(() => documents.id),
    versionNumber: integer("version_number").notNull(),
    // Generated by the service (documents/{document_id}/{version_id}), never from a file name.
    storageKey: text("storage_key").notNull(),
    fileName: text("file_name").notNull(),
    contentType: text("content_type").notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
    sha256: text("sha256").notNull(),
    comment: text("comment"),
    createdBy: uuid("created_by")
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("document_versions_document_number_key").on(t.documentId, t.versionNumber),
    uniqueIndex("document_versions_storage_key_key").on(t.storageKey),
    index("document_versions_content_type_idx").on(t.contentType),
    check("document_versions_number_positive", sql`${t.versionNumber} >= 1`),
    check("document_versions_size_nonnegative", sql`${t.sizeBytes} >= 0`),
    check("document_versions_sha256_hex", sql`${t.sha256} ~ '^[0-9a-f]{64}$'`),
    check("document_versions_comment_length", sql`${t.comment} is null or char_length(${t.comment}) <= 1000`),
    check("document_versions_file_name_length", sql`char_length(${t.fileName}) between 1 and 255`),
  ],
);

export const documentTags = pgTable(
  "document_tags",
  {
    documentId: uuid("document_id")
      .notNull()
      .references(() => documents.id),
    tag: text("tag").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.documentId, t.tag] }),
    // Serves the all-of tag filter: look up documents by tag.
    index("document_tags_tag_idx").on(t.tag, t.documentId),
    check("document_tags_tag_format", sql`char_length(${t.tag}) between 1 and 50 and ${t.tag} = lower(${t.tag})`),
  ],
);

export const documentPermissions = pgTable(
  "document_permissions",
  {
    documentId: uuid("document_id")
      .notNull()
      .references(() => documents.id),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    role: roleEnum("role").notNull(),
    grantedBy: uuid("granted_by")
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    // Copies of the document's created_at and trashed state, kept by triggers (migration 0012)
    // whatever statement changes the document: they let a caller's shared documents be read in
    // list order and counted from one index, without visiting each document (DESIGN.md, "Listing
    // at scale"). The trigger's value replaces the default.
    documentCreatedAt: timestamp("document_created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    documentTrashed: boolean("document_trashed").notNull().default(false),
  },
  (t) => [
    // The primary key serves the per-request permission lookup (document, caller).
    primaryKey({ columns: [t.documentId, t.userId] }),
    // Serves "shared with me" lookups by user.
    index("document_permissions_user_idx").on(t.userId, t.documentId),
    // The caller's live shared documents, newest first: the list's shared branch in created_at
    // order, and its count (index-only), cost what the page holds, not what the caller can see.
    index("document_permissions_user_created_idx")
      .on(t.userId, t.documentCreatedAt.desc(), t.documentId.desc())
      .where(sql`not ${t.documentTrashed}`),
  ],
);

export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    // Every login starts a chain; reuse of a rotated token revokes the whole chain.
    chainId: uuid("chain_id").notNull(),
    // When the login that started the chain happened: no refresh after SESSION_MAX_SECONDS.
    chainStartedAt: timestamp("chain_started_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    tokenHash: bytea("token_hash").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("refresh_tokens_token_hash_key").on(t.tokenHash),
    index("refresh_tokens_chain_idx").on(t.chainId),
    index("refresh_tokens_user_idx").on(t.userId),
    index("refresh_tokens_expires_idx").on(t.expiresAt),
  ],
);

export const activityLogs = pgTable(
  "activity_logs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    documentId: uuid("document_id").references(() => documents.id),
    actorId: uuid("actor_id").references(() => users.id),
    action: text("action").notNull(),
    details: jsonb("details").notNull().default({}),
    ipAddress: inet("ip_address"),
    userAgent: text("user_agent"),
    createdAt: createdAt(),
    /**
     * The writing transaction (the changes feed's and the webhook dispatcher's commit order):
     * rows are served only once every transaction below the reader's snapshot xmin has ended
     * (src/changes/feed.store.ts explains why).
     */
    xactId: xid8("xact_id").notNull().default(sql`pg_current_xact_id()`),
    /** Orders the rows of one transaction; with xact_id, the position a cursor names. */
    seq: bigint("seq", { mode: "number" }).notNull().generatedAlwaysAsIdentity(),
  },
  (t) => [
    index("activity_logs_document_created_idx").on(t.documentId, t.createdAt.desc(), t.id),
    // The dispatcher's scan of everything new, in commit order.
    index("activity_logs_xact_idx").on(t.xactId, t.seq),
    index("activity_logs_actor_idx").on(t.actorId),
    // content.indexed is recorded once per version and outcome: a redelivered queue message, two
    // consumers racing on one version, or a re-extraction reaching the same status add nothing
    // (the insert's ON CONFLICT names this index; src/content/content.store.ts).
    uniqueIndex("activity_logs_content_indexed_key")
      .on(t.documentId, sql`((${t.details}->>'version_number'))`, sql`((${t.details}->>'status'))`)
      .where(sql`${t.action} = 'content.indexed'`),
    check("activity_logs_action_length", sql`char_length(${t.action}) between 1 and 100`),
    check("activity_logs_user_agent_length", sql`${t.userAgent} is null or char_length(${t.userAgent}) <= 1000`),
  ],
);

/**
 * Who could read each change's document when the change was made: one row per activity row and
 * user, written by a trigger on activity_logs (migration 0020) from the state the writing
 * statement left. The changes feed serves a user their rows in commit order (their own index
 * range), so what a cursor has passed never changes afterwards (src/changes/feed.store.ts).
 * Keyed by the activity row's position; no foreign keys: only the trigger writes here, from rows
 * that exist, and activity rows are never deleted (the bench's undo deletes both).
 */
export const changeAudience = pgTable(
  "change_audience",
  {
    userId: uuid("user_id").notNull(),
    xactId: xid8("xact_id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.xactId, t.seq] })],
);

/**
 * Failed-login counters, one row per throttled key (`account:<email>` or `address:<ip>`). In the
 * database, not in isolate memory or the rate-limit binding, so the limit holds across every
 * Worker instance and location.
 */
export const loginThrottles = pgTable(
  "login_throttles",
  {
    key: text("key").primaryKey(),
    failures: integer("failures").notNull(),
    /**
     * Of `failures`, the attempts whose password is being checked right now (share links only):
     * a right one is taken back, a wrong one stays a failure. Lets an attempt over the limit tell
     * checks in flight, which will end, from failures, which will not (src/documents/links.ts).
     */
    checking: integer("checking").notNull().default(0),
    windowStartedAt: timestamp("window_started_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("login_throttles_window_idx").on(t.windowStartedAt),
    check("login_throttles_failures_nonnegative", sql`${t.failures} >= 0`),
    check("login_throttles_checking_nonnegative", sql`${t.checking} >= 0`),
    check("login_throttles_key_length", sql`char_length(${t.key}) <= 300`),
  ],
);

// ABORTED: abandoned (DELETE) or refused at `complete`; EXPIRED: swept past its deadline. Such
// rows stay (GET /uploads/{id} reports them) until the scheduled job removes them.
export const uploadStatusEnum = pgEnum("upload_status", ["PENDING", "COMPLETED", "ABORTED", "EXPIRED"]);

/**
 * Direct uploads: a presigned PUT straight to the bucket, recorded here until `complete` turns it
 * into a document or version. Pending rows past their expiry are swept with their objects.
 */
export const uploads = pgTable(
  "uploads",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    // Set when the upload becomes a new version of an existing document.
    documentId: uuid("document_id").references(() => documents.id),
    storageKey: text("storage_key").notNull(),
    fileName: text("file_name").notNull(),
    contentType: text("content_type").notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
    sha256: text("sha256"),
    status: uploadStatusEnum("status").notNull().default("PENDING"),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    createdAt: createdAt(),
    completedAt: timestamp("completed_at", { withTimezone: true, mode: "date" }),
    // Resumable (multipart) uploads: every part but the last has part_size bytes; the S3
    // multipart upload's id is recorded once CreateMultipartUpload answered.
    partSize: bigint("part_size", { mode: "number" }),
    partsCount: integer("parts_count"),
    multipartUploadId: text("multipart_upload_id"),
  },
  (t) => [
    uniqueIndex("uploads_storage_key_key").on(t.storageKey),
    check(
      "uploads_multipart_shape",
      sql`(${t.partSize} is null) = (${t.partsCount} is null) and (${t.multipartUploadId} is null or ${t.partSize} is not null)`,
    ),
    check("uploads_parts_count_range", sql`${t.partsCount} is null or ${t.partsCount} between 1 and 10000`),
    index("uploads_status_expires_idx").on(t.status, t.expiresAt),
    check("uploads_size_nonnegative", sql`${t.sizeBytes} >= 0`),
    check("uploads_sha256_hex", sql`${t.sha256} is null or ${t.sha256} ~ '^[0-9a-f]{64}$'`),
    check("uploads_file_name_length", sql`char_length(${t.fileName}) between 1 and 255`),
  ],
);

/**
 * Small named state of the scheduled jobs, such as where the last bounded sweep of the bucket
 * stopped, so the next run resumes there instead of starting over.
 */
export const maintenanceState = pgTable("maintenance_state", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  updatedAt: updatedAt(),
});

/**
 * Share links (`/api/v1/links/{token}`): anonymous access to one document, or one pinned version
 * of it. The token is never stored, only its SHA-256 (looked up by it); the password is a PHC
 * string like an account's. A revoked link is deleted (its `link.revoked` activity row stays). A
 * link answers only while its document is live (not trashed), so a restore brings it back; the
 * purge deletes it. `download_count` is raised by the one statement that checks the limit, so the
 * check below can never fail on a race.
 */
export const shareLinks = pgTable(
  "share_links",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    documentId: uuid("document_id")
      .notNull()
      .references(() => documents.id),
    tokenHash: bytea("token_hash").notNull(),
    passwordHash: text("password_hash"),
    /** A pinned version; null: the link follows the document's current version. */
    versionNumber: integer("version_number"),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
    maxDownloads: integer("max_downloads"),
    downloadCount: integer("download_count").notNull().default(0),
    createdBy: uuid("created_by")
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("share_links_token_hash_key").on(t.tokenHash),
    index("share_links_document_created_idx").on(t.documentId, t.createdAt, t.id),
    index("share_links_created_by_idx").on(t.createdBy),
    foreignKey({
      name: "share_links_version_fk",
      columns: [t.documentId, t.versionNumber],
      foreignColumns: [documentVersions.documentId, documentVersions.versionNumber],
    }),
    check("share_links_max_downloads_range", sql`${t.maxDownloads} is null or ${t.maxDownloads} between 1 and 1000000`),
    check(
      "share_links_download_count_range",
      sql`${t.downloadCount} >= 0 and (${t.maxDownloads} is null or ${t.downloadCount} <= ${t.maxDownloads})`,
    ),
    check("share_links_token_hash_length", sql`octet_length(${t.tokenHash}) = 32`),
  ],
);

/**
 * The text inside a document's current version, extracted in the background by the content queue's
 * consumer (src/content/). One row per document: a new version's text replaces the old one. The
 * row describes `version_number` only; a document whose current version is newer has no content
 * yet (its status reads `pending`), so an older version's text is never searched.
 */
export const documentContents = pgTable(
  "document_contents",
  {
    documentId: uuid("document_id")
      .primaryKey()
      .references(() => documents.id, { onDelete: "cascade" }),
    versionNumber: integer("version_number").notNull(),
    /** pending (asked for: the backfill), indexed, unsupported (no text in this type) or failed. */
    status: text("status").notNull(),
    /** The extracted text (indexed only), at most CONTENT_MAX_CHARS characters. */
    text: text("text"),
    /** strip(to_tsvector('english', text)): weight D, no positions; empty unless indexed. */
    searchVector: tsvector("search_vector").notNull().default(sql`''::tsvector`),
    /** Why the extraction failed (failed), or the last attempt's error while it is retried. */
    error: text("error"),
    /** When the scheduled job last sent a pending row to the queue (the backfill's lease). */
    queuedAt: timestamp("queued_at", { withTimezone: true, mode: "date" }),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("document_contents_status", sql`${t.status} in ('pending', 'indexed', 'unsupported', 'failed')`),
    check("document_contents_version_positive", sql`${t.versionNumber} >= 1`),
    index("document_contents_search_vector_idx").using("gin", t.searchVector),
    index("document_contents_pending_idx").on(t.queuedAt).where(sql`${t.status} = 'pending'`),
  ],
);

/**
 * Webhooks (src/webhooks/): a user's subscription to the changes they can read. The signing
 * secret is stored encrypted (AES-GCM under WEBHOOK_SECRET_KEY, bound to the webhook's id): it
 * must be readable to sign, so it cannot be hashed.
 */
export const webhooks = pgTable(
  "webhooks",
  {
    id: uuid("id").primaryKey(),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id),
    url: text("url").notNull(),
    /** Activity actions delivered; null = all. */
    events: text("events").array(),
    documentId: uuid("document_id").references(() => documents.id),
    secretCiphertext: text("secret_ciphertext").notNull(),
    /** Changes from transactions at or above this id are delivered (the creating snapshot's xmin). */
    startXact: xid8("start_xact").notNull().default(sql`pg_snapshot_xmin(pg_current_snapshot())`),
    createdAt: createdAt(),
    disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "date" }),
    failureCount: integer("failure_count").notNull().default(0),
    /** The first failure of the current run of failures (reset by a success): 3 days of them disable. */
    failingSince: timestamp("failing_since", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    index("webhooks_owner_created_idx").on(t.ownerId, t.createdAt.desc(), t.id),
    index("webhooks_active_idx").on(t.ownerId).where(sql`${t.disabledAt} is null`),
    check("webhooks_url_length", sql`char_length(${t.url}) between 1 and 2000`),
  ],
);

/**
 * One event for one webhook: its id is the `webhook-id` of every attempt. Unique per (webhook,
 * activity row), so dispatchers that overlap queue each change once per webhook.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    webhookId: uuid("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    activityId: uuid("activity_id").references(() => activityLogs.id),
    type: text("type").notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastStatus: integer("last_status"),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true, mode: "date" }),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
    /** Why no further attempt will be made (gave_up, webhook_disabled, no_access, webhook_deleted). */
    endedReason: text("ended_reason"),
    /**
     * An attempt is being made (claimed, not yet recorded; its lease is next_attempt_at): later
     * deliveries of the webhook wait for its outcome before their first attempt (delivery.ts).
     */
    attempting: boolean("attempting").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_webhook_activity_key").on(t.webhookId, t.activityId),
    index("webhook_deliveries_webhook_created_idx").on(t.webhookId, t.createdAt.desc(), t.id),
    // The scheduled job's pruning of finished deliveries past WEBHOOK_DELIVERY_RETENTION_DAYS.
    index("webhook_deliveries_created_idx").on(t.createdAt),
    // A first attempt's check that no earlier delivery of its webhook is still waiting for one.
    index("webhook_deliveries_webhook_pending_idx")
      .on(t.webhookId)
      .where(sql`${t.deliveredAt} is null and ${t.endedReason} is null`),
    // The scheduled job's re-queue of deliveries whose message was lost.
    index("webhook_deliveries_pending_idx")
      .on(t.nextAttemptAt)
      .where(sql`${t.deliveredAt} is null and ${t.endedReason} is null`),
  ],
);

/**
 * Live events (src/live/): single-use tickets that open a WebSocket (browsers cannot send an
 * Authorization header on one). Only the ticket's SHA-256 is stored; using one deletes it.
 */
export const eventTickets = pgTable(
  "event_tickets",
  {
    ticketHash: bytea("ticket_hash").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("event_tickets_expires_idx").on(t.expiresAt)],
);

/**
 * Who has a live socket open, so a change costs a Durable Object call only for users who are
 * connected: kind `events` (object_id = the user) or `presence` (object_id = the document). The
 * object writes its row when a user's first socket opens and deletes it when their last closes;
 * a row left by an object that died is removed the first time a notification finds no socket.
 */
export const liveConnections = pgTable(
  "live_connections",
  {
    kind: text("kind").notNull(),
    objectId: uuid("object_id").notNull(),
    userId: uuid("user_id").notNull(),
    connectedAt: timestamp("connected_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.kind, t.objectId, t.userId] }),
    index("live_connections_user_idx").on(t.userId),
    check("live_connections_kind", sql`${t.kind} in ('events', 'presence')`),
  ],
);
