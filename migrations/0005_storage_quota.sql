-- Storage quota (#13): each user's counter of the bytes of every version of every document they
-- own (soft-deleted documents too, until purged), kept in the same statement as each version
-- insert, so a quota check never sums the versions per request.
ALTER TABLE "users" ADD COLUMN "storage_used_bytes" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_storage_used_nonnegative" CHECK ("users"."storage_used_bytes" >= 0);--> statement-breakpoint
-- Backfill: versions stored before this migration were never counted (the column starts at 0),
-- and from now on only new versions add to it; without this sum, owners of existing documents
-- would start with their storage uncounted, pass the quota by that much, and /auth/me would
-- understate their usage. The migration runs in one transaction, and the Worker version that
-- writes the counter is deployed after it, so no version is counted twice or missed.
UPDATE "users" SET "storage_used_bytes" = s.bytes
FROM (
	SELECT d."owner_id", sum(v."size_bytes") AS bytes
	FROM "document_versions" v
	JOIN "documents" d ON d."id" = v."document_id"
	GROUP BY d."owner_id"
) s
WHERE s."owner_id" = "users"."id";
