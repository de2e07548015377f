ALTER TYPE "public"."upload_status" ADD VALUE 'ABORTED';--> statement-breakpoint
ALTER TYPE "public"."upload_status" ADD VALUE 'EXPIRED';--> statement-breakpoint
ALTER TABLE "uploads" ADD COLUMN "part_size" bigint;--> statement-breakpoint
ALTER TABLE "uploads" ADD COLUMN "parts_count" integer;--> statement-breakpoint
ALTER TABLE "uploads" ADD COLUMN "multipart_upload_id" text;--> statement-breakpoint
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_multipart_shape" CHECK (("uploads"."part_size" is null) = ("uploads"."parts_count" is null) and ("uploads"."multipart_upload_id" is null or "uploads"."part_size" is not null));--> statement-breakpoint
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_parts_count_range" CHECK ("uploads"."parts_count" is null or "uploads"."parts_count" between 1 and 10000);