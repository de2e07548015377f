ALTER TABLE "users" ADD COLUMN "webhook_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_webhook_count_nonnegative" CHECK ("users"."webhook_count" >= 0);--> statement-breakpoint
-- The webhooks users already have.
UPDATE "users" u SET "webhook_count" = c.n
FROM (SELECT "owner_id", count(*)::int AS n FROM "webhooks" GROUP BY "owner_id") c
WHERE u."id" = c."owner_id";--> statement-breakpoint
-- Every insert and delete of a webhook, however it happens (DELETE /webhooks/{id} today, any
-- later path or cascade), moves its owner's counter in the same transaction.
CREATE FUNCTION "docvault_webhook_count"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE "users" SET "webhook_count" = "webhook_count" + 1 WHERE "id" = NEW."owner_id";
	ELSE
		UPDATE "users" SET "webhook_count" = "webhook_count" - 1 WHERE "id" = OLD."owner_id";
	END IF;
	RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "webhooks_count" AFTER INSERT OR DELETE ON "webhooks"
FOR EACH ROW EXECUTE FUNCTION "docvault_webhook_count"();
