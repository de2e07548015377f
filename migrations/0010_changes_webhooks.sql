CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"webhook_id" uuid NOT NULL,
	"activity_id" uuid,
	"type" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status" integer,
	"last_attempt_at" timestamp with time zone,
	"next_attempt_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"ended_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_id" uuid NOT NULL,
	"url" text NOT NULL,
	"events" text[],
	"document_id" uuid,
	"secret_ciphertext" text NOT NULL,
	"start_xact" "xid8" DEFAULT pg_snapshot_xmin(pg_current_snapshot()) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp with time zone,
	"failure_count" integer DEFAULT 0 NOT NULL,
	"failing_since" timestamp with time zone,
	CONSTRAINT "webhooks_url_length" CHECK (char_length("webhooks"."url") between 1 and 2000)
);
--> statement-breakpoint
ALTER TABLE "activity_logs" ADD COLUMN "xact_id" "xid8" DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
ALTER TABLE "activity_logs" ADD COLUMN "seq" bigint NOT NULL GENERATED ALWAYS AS IDENTITY (sequence name "activity_logs_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1);--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_id_webhooks_id_fk" FOREIGN KEY ("webhook_id") REFERENCES "public"."webhooks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_activity_id_activity_logs_id_fk" FOREIGN KEY ("activity_id") REFERENCES "public"."activity_logs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_webhook_activity_key" ON "webhook_deliveries" USING btree ("webhook_id","activity_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_webhook_created_idx" ON "webhook_deliveries" USING btree ("webhook_id","created_at" DESC NULLS LAST,"id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_pending_idx" ON "webhook_deliveries" USING btree ("next_attempt_at") WHERE "webhook_deliveries"."delivered_at" is null and "webhook_deliveries"."ended_reason" is null;--> statement-breakpoint
CREATE INDEX "webhooks_owner_created_idx" ON "webhooks" USING btree ("owner_id","created_at" DESC NULLS LAST,"id");--> statement-breakpoint
CREATE INDEX "webhooks_active_idx" ON "webhooks" USING btree ("owner_id") WHERE "webhooks"."disabled_at" is null;--> statement-breakpoint
CREATE INDEX "activity_logs_document_xact_idx" ON "activity_logs" USING btree ("document_id","xact_id","seq");--> statement-breakpoint
CREATE INDEX "activity_logs_xact_idx" ON "activity_logs" USING btree ("xact_id","seq");--> statement-breakpoint
CREATE INDEX "activity_logs_revoked_user_idx" ON "activity_logs" USING btree ((("details"->>'user_id')),"xact_id","seq") WHERE "activity_logs"."action" = 'permission.revoked';--> statement-breakpoint
CREATE INDEX "documents_owner_deleted_idx" ON "documents" USING btree ("owner_id","id") WHERE "documents"."deleted_at" is not null;--> statement-breakpoint
-- Hand-written (#17): the webhook dispatcher's persisted position ("<xact_id>:<seq>", see
-- src/webhooks/dispatcher.ts) starts after every activity row that exists now. The ALTER above gave
-- them all this migration's transaction id, so none is dispatched (webhooks only take changes
-- made after their creation anyway); the dispatcher starts from "0:0" if this row is missing.
INSERT INTO "maintenance_state" ("name", "value")
SELECT 'webhook_dispatch_position', pg_current_xact_id()::text || ':' || coalesce(max("seq"), 0)::text FROM "activity_logs";
