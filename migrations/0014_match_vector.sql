ALTER TABLE "documents" ADD COLUMN "match_vector" "tsvector" DEFAULT ''::tsvector NOT NULL;--> statement-breakpoint
-- Existing documents get their vector (hand-written, as are the triggers below).
UPDATE "documents" d SET "match_vector" = d."search_vector" || coalesce(
	(SELECT c."search_vector" FROM "document_contents" c WHERE c."document_id" = d."id" AND c."version_number" = d."current_version"),
	''::tsvector);--> statement-breakpoint
-- A document's own statements (create, metadata edit, new version, purge) rebuild its vector from
-- their new search_vector and the content of their current version: a new version has none yet,
-- so an older version's text stops matching in the same statement. The trigger's query takes a
-- fresh snapshot after the row lock, so it sees content committed while the statement waited.
CREATE FUNCTION "docvault_document_match_vector"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW."match_vector" := NEW."search_vector" || coalesce(
		(SELECT c."search_vector" FROM "document_contents" c WHERE c."document_id" = NEW."id" AND c."version_number" = NEW."current_version"),
		''::tsvector);
	RETURN NEW;
END
$$;--> statement-breakpoint
CREATE TRIGGER "documents_match_vector" BEFORE INSERT OR UPDATE OF "search_vector", "current_version" ON "documents"
FOR EACH ROW EXECUTE FUNCTION "docvault_document_match_vector"();--> statement-breakpoint
-- Content written, replaced or deleted (indexing, purge) rebuilds its document's vector. The
-- update sets only match_vector, so the trigger above does not fire again; it waits for a
-- concurrent edit of the document and then rebuilds from that edit's search_vector.
CREATE FUNCTION "docvault_content_match_vector"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	doc uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD."document_id" ELSE NEW."document_id" END;
BEGIN
	UPDATE "documents" d SET "match_vector" = d."search_vector" || coalesce(
		(SELECT c."search_vector" FROM "document_contents" c WHERE c."document_id" = d."id" AND c."version_number" = d."current_version"),
		''::tsvector)
	WHERE d."id" = doc;
	RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "document_contents_match_vector" AFTER INSERT OR DELETE OR UPDATE OF "search_vector", "version_number", "document_id" ON "document_contents"
FOR EACH ROW EXECUTE FUNCTION "docvault_content_match_vector"();
