-- Trash, purge and account closure (#16).
DROP INDEX "users_email_lower_key";--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "purge_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "purge_lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "purge_claim" uuid;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "purged_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "closed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "documents_trash_idx" ON "documents" USING btree ("deleted_at","id") WHERE "documents"."deleted_at" is not null and "documents"."purged_at" is null;--> statement-breakpoint
CREATE INDEX "documents_owner_trash_idx" ON "documents" USING btree ("owner_id","deleted_at" DESC NULLS LAST,"id") WHERE "documents"."deleted_at" is not null and "documents"."purged_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_lower_key" ON "users" USING btree (lower("email")) WHERE "users"."is_active";--> statement-breakpoint
-- Account closure (#16): the statements a request runs check that their caller's account is
-- still open, in the same round trip, by calling this function in a condition that names no
-- table (PostgreSQL evaluates such a condition once, before reading anything). A closed or
-- missing account raises SQLSTATE DV401, which the API answers as 401 account_inactive, so a
-- closed account's access token stops working on its next request whatever an isolate cached.
CREATE FUNCTION "docvault_require_open_account"(caller uuid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM 1 FROM "users" WHERE "id" = caller AND "is_active";
	IF NOT FOUND THEN
		RAISE EXCEPTION 'the account is closed' USING ERRCODE = 'DV401';
	END IF;
	RETURN true;
END
$$;
