-- Hardening (#12): refresh chains remember when their login happened (absolute session lifetime;
-- chains that exist already count from this migration), throttle counters may fall to 0 when a
-- counted attempt succeeds, and the scheduled jobs keep small named state (where a sweep stopped).
CREATE TABLE "maintenance_state" (
	"name" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "login_throttles" DROP CONSTRAINT "login_throttles_failures_positive";--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "chain_started_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "login_throttles" ADD CONSTRAINT "login_throttles_failures_nonnegative" CHECK ("login_throttles"."failures" >= 0);