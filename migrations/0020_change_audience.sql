CREATE TABLE "change_audience" (
	"user_id" uuid NOT NULL,
	"xact_id" "xid8" NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "change_audience_user_id_xact_id_seq_pk" PRIMARY KEY("user_id","xact_id","seq")
);
--> statement-breakpoint
-- The feed read per readable document and by revoked user id; it now reads change_audience.
DROP INDEX "activity_logs_document_xact_idx";--> statement-breakpoint
DROP INDEX "activity_logs_revoked_user_idx";
--> statement-breakpoint
-- Who could read a change's document when the change was made (hand-written, as are the trigger
-- and the backfill below): its owner and the holders of a permission on it, unless it is in the
-- trash; for `document.deleted`, those who could read it until then (the statement has trashed it
-- already); for `permission.revoked`, the user whose permission it was too (the statement has
-- deleted it), unless the document is in the trash (a purge's revocations: its holders lost access
-- with its `document.deleted`). The trigger fires once the writing statement is done and reads with a snapshot of
-- its own, so a grant or revocation that committed while the statement waited for the document's
-- row lock is seen (src/changes/feed.store.ts).
CREATE FUNCTION "docvault_change_readers"("doc_id" uuid, "change_action" text, "change_details" jsonb) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
	SELECT d."owner_id" FROM "documents" d
	WHERE d."id" = "doc_id" AND (d."deleted_at" IS NULL OR "change_action" = 'document.deleted')
	UNION
	SELECT p."user_id" FROM "document_permissions" p JOIN "documents" d ON d."id" = p."document_id"
	WHERE p."document_id" = "doc_id" AND (d."deleted_at" IS NULL OR "change_action" = 'document.deleted')
	UNION
	SELECT ("change_details"->>'user_id')::uuid WHERE "change_action" = 'permission.revoked' AND "change_details" ? 'user_id'
		AND EXISTS (SELECT 1 FROM "documents" d WHERE d."id" = "doc_id" AND d."deleted_at" IS NULL)
$$;--> statement-breakpoint
CREATE FUNCTION "docvault_change_audience"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "change_audience" ("user_id", "xact_id", "seq")
	SELECT r, NEW."xact_id", NEW."seq" FROM "docvault_change_readers"(NEW."document_id", NEW."action", NEW."details") r
	WHERE r IS NOT NULL;
	RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "activity_logs_audience" AFTER INSERT ON "activity_logs"
FOR EACH ROW EXECUTE FUNCTION "docvault_change_audience"();--> statement-breakpoint
-- Rows written before this migration: who can read their document now (the rule the feed used
-- until then), so no feed changes at the migration; a revocation stays its user's whatever became
-- of the document since (not a purge's: those holders were told by the document.deleted).
INSERT INTO "change_audience" ("user_id", "xact_id", "seq")
SELECT r, l."xact_id", l."seq" FROM "activity_logs" l
CROSS JOIN LATERAL "docvault_change_readers"(l."document_id", l."action", l."details") r
WHERE r IS NOT NULL
UNION
SELECT (l."details"->>'user_id')::uuid, l."xact_id", l."seq" FROM "activity_logs" l
WHERE l."action" = 'permission.revoked' AND l."details" ? 'user_id' AND l."details"->>'reason' IS DISTINCT FROM 'purged';
