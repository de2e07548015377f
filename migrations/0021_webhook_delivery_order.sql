-- Deliveries of one webhook in order (src/webhooks/delivery.ts): a delivery's first attempt waits
-- while an earlier delivery of its webhook has had none yet or is being attempted (`attempting`,
-- under its lease), since queue batches may be consumed side by side. A failed attempt being
-- retried does not hold the later ones ("in order as far as retries allow").
ALTER TABLE "webhook_deliveries" ADD COLUMN "attempting" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_webhook_pending_idx" ON "webhook_deliveries" USING btree ("webhook_id") WHERE "webhook_deliveries"."delivered_at" is null and "webhook_deliveries"."ended_reason" is null;