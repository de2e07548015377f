CREATE TABLE "login_throttles" (
	"key" text PRIMARY KEY NOT NULL,
	"failures" integer NOT NULL,
	"window_started_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "login_throttles_failures_positive" CHECK ("login_throttles"."failures" >= 1),
	CONSTRAINT "login_throttles_key_length" CHECK (char_length("login_throttles"."key") <= 300)
);
--> statement-breakpoint
CREATE INDEX "login_throttles_window_idx" ON "login_throttles" USING btree ("window_started_at");