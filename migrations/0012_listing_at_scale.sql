DROP INDEX "documents_owner_created_idx";--> statement-breakpoint
ALTER TABLE "document_permissions" ADD COLUMN "document_created_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "document_permissions" ADD COLUMN "document_trashed" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "document_permissions_user_created_idx" ON "document_permissions" USING btree ("user_id","document_created_at" DESC NULLS LAST,"document_id" DESC NULLS LAST) WHERE not "document_permissions"."document_trashed";--> statement-breakpoint
CREATE INDEX "documents_owner_created_idx" ON "documents" USING btree ("owner_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "documents"."deleted_at" is null;--> statement-breakpoint
-- Existing grants get their document's values (hand-written, as are the triggers below).
UPDATE "document_permissions" p SET "document_created_at" = d."created_at", "document_trashed" = d."deleted_at" IS NOT NULL
FROM "documents" d WHERE d."id" = p."document_id";--> statement-breakpoint
-- A new grant copies its document's created_at and trashed state. FOR SHARE waits for a
-- concurrent trash or restore of the document to commit and then reads its outcome, so a grant
-- racing a delete never records a trashed document as live (or the reverse).
CREATE FUNCTION "docvault_permission_copy_document"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	SELECT d."created_at", d."deleted_at" IS NOT NULL INTO NEW."document_created_at", NEW."document_trashed"
	FROM "documents" d WHERE d."id" = NEW."document_id" FOR SHARE;
	RETURN NEW;
END
$$;--> statement-breakpoint
CREATE TRIGGER "document_permissions_copy_document" BEFORE INSERT OR UPDATE OF "document_id" ON "document_permissions"
FOR EACH ROW EXECUTE FUNCTION "docvault_permission_copy_document"();--> statement-breakpoint
-- Whatever statement trashes, restores or re-dates a document (delete, restore, account closure)
-- updates its grants' copies in the same transaction.
CREATE FUNCTION "docvault_document_copy_to_permissions"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE "document_permissions" SET "document_created_at" = NEW."created_at", "document_trashed" = NEW."deleted_at" IS NOT NULL
	WHERE "document_id" = NEW."id";
	RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "documents_copy_to_permissions" AFTER UPDATE OF "deleted_at", "created_at" ON "documents"
FOR EACH ROW WHEN (OLD."deleted_at" IS DISTINCT FROM NEW."deleted_at" OR OLD."created_at" IS DISTINCT FROM NEW."created_at")
EXECUTE FUNCTION "docvault_document_copy_to_permissions"();
