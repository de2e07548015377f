-- Share-link password checks in flight (src/documents/links.ts): an attempt is counted before its
-- password is hashed, so at most the limit are ever checked at once; `checking` says how many of
-- the counted are still being checked, so an attempt over the limit waits for one of those to end
-- (a right password gives its place back) instead of answering 429 to a burst of right passwords.
ALTER TABLE "login_throttles" ADD COLUMN "checking" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "login_throttles" ADD CONSTRAINT "login_throttles_checking_nonnegative" CHECK ("login_throttles"."checking" >= 0);