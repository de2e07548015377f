-- Search vectors now read angle brackets as spaces (src/documents/sql.ts, searchableText):
-- PostgreSQL's parser dropped `<…>` as an HTML tag, and everything after an opening `<script>` or
-- `<style>`. Rebuilds the vectors of the texts that hold one, and only those (a scan, few writes).
-- Documents: title A, tags B, description C, as the service writes them; a purged document's
-- vector stays empty. Its match_vector follows (trigger of migration 0014).
UPDATE "documents" d SET "search_vector" =
	setweight(to_tsvector('english', translate(d."title", '<>', '  ')), 'A')
	|| setweight(to_tsvector('english', translate(array_to_string(
		array(SELECT t."tag" FROM "document_tags" t WHERE t."document_id" = d."id" ORDER BY t."tag" COLLATE "C"), ' '),
		'<>', '  ')), 'B')
	|| setweight(to_tsvector('english', translate(coalesce(d."description", ''), '<>', '  ')), 'C')
WHERE d."purged_at" IS NULL
	AND (d."title" ~ '[<>]' OR d."description" ~ '[<>]'
		OR EXISTS (SELECT 1 FROM "document_tags" t WHERE t."document_id" = d."id" AND t."tag" ~ '[<>]'));--> statement-breakpoint
-- Indexed contents whose whole text was searchable (no note that only a prefix is): the same
-- vector from the text read as plain text, where it still fits the service's bound on a vector
-- (content.store.ts, MAX_VECTOR_BYTES). A text searchable only in part keeps its vector until it
-- is indexed again. The content trigger of migration 0014 rebuilds each document's match_vector.
UPDATE "document_contents" c SET "search_vector" = rebuilt.v
FROM (
	SELECT c2."document_id", strip(to_tsvector('english', translate(c2."text", '<>', '  '))) AS v
	FROM "document_contents" c2
	WHERE c2."status" = 'indexed' AND c2."error" IS NULL AND c2."text" ~ '[<>]'
) rebuilt
WHERE c."document_id" = rebuilt."document_id" AND pg_column_size(rebuilt.v) <= 900000;
