CREATE TABLE "document_contents" (
	"document_id" uuid PRIMARY KEY NOT NULL,
	"version_number" integer NOT NULL,
	"status" text NOT NULL,
	"text" text,
	"search_vector" "tsvector" DEFAULT ''::tsvector NOT NULL,
	"error" text,
	"queued_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "document_contents_status" CHECK ("document_contents"."status" in ('pending', 'indexed', 'unsupported', 'failed')),
	CONSTRAINT "document_contents_version_positive" CHECK ("document_contents"."version_number" >= 1)
);
--> statement-breakpoint
ALTER TABLE "document_contents" ADD CONSTRAINT "document_contents_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "document_contents_search_vector_idx" ON "document_contents" USING gin ("search_vector");--> statement-breakpoint
CREATE INDEX "document_contents_pending_idx" ON "document_contents" USING btree ("queued_at") WHERE "document_contents"."status" = 'pending';