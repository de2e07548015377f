import { createRoute, z } from "@hono/zod-openapi";
import { ACTIVITY_ACTIONS } from "../../documents/activity-actions";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { countedPageOf, countedPageQuery } from "../../lib/pagination";
import { DELIVERY_ENDED_REASONS } from "../../webhooks/webhooks.store";
import { IdParam } from "../documents/documents.schemas";

const tags = ["Webhooks"];
const security = AUTHENTICATED;

export const WebhookSchema = z
  .object({
    id: z.guid(),
    url: z.string().openapi({ description: "Where events are POSTed (normalised by the URL parser)." }),
    events: z
      .array(z.enum(ACTIVITY_ACTIONS))
      .nullable()
      .openapi({ description: "The actions delivered; `null` = every action, including ones added later." }),
    document_id: z.guid().nullable().openapi({ description: "Only this document's changes; `null` = every document." }),
    created_at: z.iso.datetime(),
    disabled_at: z.iso
      .datetime()
      .nullable()
      .openapi({ description: "Set when the receiver answered 410 Gone or failed for 3 days; nothing is sent after." }),
    failure_count: z
      .number()
      .int()
      .openapi({ description: "Failed attempts since the last successful one (0 after a success)." }),
  })
  .openapi("Webhook");

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({
    description:
      "`whsec_` + base64 of 32 random bytes: the Standard Webhooks signing key. Shown only in this answer; " +
      "stored encrypted, never shown again.",
  }),
}).openapi("CreatedWebhook");

export const CreateWebhookBody = z
  .object({
    url: z.string().max(2000).openapi({ example: "https://example.com/hooks/docvault" }),
    events: z
      .array(z.enum(ACTIVITY_ACTIONS))
      .min(1)
      .max(ACTIVITY_ACTIONS.length)
      // null as in a Webhook, where it means "all": a client may send back what it read.
      .nullish()
      .openapi({
        description: "Activity actions to deliver (absent or `null`: all). Duplicates are kept once.",
      }),
    document_id: z.guid().nullish().openapi({
      description: "Limit to one document; needs READ on it (404 otherwise). Absent or `null`: every document.",
    }),
  })
  .openapi("CreateWebhook");

export const DeliverySchema = z
  .object({
    event_id: z.guid().openapi({ description: "The event's `id` and `webhook-id` header, the same on every attempt." }),
    type: z.string().openapi({ description: "The activity action, or `webhook.test`." }),
    attempts: z.number().int(),
    last_status: z.number().int().nullable().openapi({
      description: "HTTP status of the last attempt; null before one, or after a timeout or network error.",
    }),
    last_attempt_at: z.iso.datetime().nullable(),
    next_attempt_at: z.iso
      .datetime()
      .nullable()
      .openapi({ description: "When the next attempt is due; null when none will be made." }),
    delivered_at: z.iso.datetime().nullable().openapi({ description: "When a 2xx answer was received." }),
    ended_reason: z
      .enum(DELIVERY_ENDED_REASONS)
      .nullable()
      .openapi({
        description:
          "Why a delivery that was not delivered will not be attempted again; null while it is pending or " +
          "once delivered. `gave_up`: the retry schedule ran out. `webhook_disabled`: the webhook was disabled " +
          "(410 Gone from the receiver, or failing for 3 days). `no_access`: the owner could not read the change " +
          "when it was to be sent (or had not when it was made), or the account is closed. `url_refused`: the URL " +
          "no longer passes the address policy. `secret_unreadable`: the signing secret could not be decrypted " +
          "(the service's key changed). `dead_lettered`: the queue gave up on the message.",
      }),
  })
  .openapi("WebhookDelivery");

const WebhookIdParam = IdParam;

export const createWebhook = createRoute({
  operationId: "createWebhook",
  method: "post",
  path: "/api/v1/webhooks",
  tags,
  security,
  summary: "Subscribe a URL to changes",
  description:
    "Each change the caller can read (the changes feed's rule, checked again when it is delivered) committed " +
    "after this request is POSTed to `url` as `{id, type, timestamp, data}` (`data` is the Change, `timestamp` " +
    "its `created_at`, `type` its action), signed per Standard Webhooks: `webhook-id` (the event id, the same on " +
    "every attempt: deduplicate on it), `webhook-timestamp` (Unix seconds of the attempt), `webhook-signature: " +
    'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the base64-decoded part of `secret` after ' +
    "`whsec_`. Delivery is at least once, queued within seconds of the commit, in order per webhook except where " +
    "a retry reorders. A non-2xx answer, a redirect (not followed), a timeout (10 s) or a network error is retried " +
    "after 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then every 6 h, 12 attempts over about 32 hours; `410 Gone` " +
    "disables the webhook at once, as do 3 days of failures with no success. `url` must be `https://` on a " +
    "public host: no credentials, no IP literal or name that is loopback, private (RFC 1918, 100.64/10, " +
    "fc00::/7), link-local or metadata (169.254/16, fe80::/10), `localhost`/`*.localhost`, `.local`/`.internal` " +
    "names, IPv4-mapped IPv6 or other spellings of those; the host's DNS answers are checked too where the " +
    "resolver is reachable (422 `webhook_url_refused`). Redirects are never followed. An account may have at " +
    "most `WEBHOOKS_PER_USER` webhooks (default 25; disabled ones count until deleted), since every change is " +
    "delivered to each of them: one more is `409 webhook_limit_reached` (the API contract sets no number; this " +
    "is the service's limit, like GitHub's per-repository one).",
  request: { body: { required: true, content: { "application/json": { schema: CreateWebhookBody } } } },
  responses: {
    201: {
      description: "The webhook, with its secret (only here).",
      content: { "application/json": { schema: CreatedWebhookSchema } },
    },
    ...problems(400, 401, 404, 409, 413, 415, 422, 429, 503),
  },
});

export const listWebhooks = createRoute({
  operationId: "listWebhooks",
  method: "get",
  path: "/api/v1/webhooks",
  tags,
  security,
  summary: "The caller's webhooks, newest first",
  description: "`page` from 1, `limit` 1–100 (default 20). Secrets are never listed.",
  request: { query: countedPageQuery(20) },
  responses: {
    200: {
      description: "One page of webhooks.",
      content: { "application/json": { schema: countedPageOf(WebhookSchema, "WebhookPage") } },
    },
    ...problems(401, 422, 429, 503),
  },
});

export const getWebhook = createRoute({
  operationId: "getWebhook",
  method: "get",
  path: "/api/v1/webhooks/{id}",
  tags,
  security,
  summary: "One of the caller's webhooks",
  description: "Another user's webhook is 404, like a missing one.",
  request: { params: WebhookIdParam },
  responses: {
    200: { description: "The webhook.", content: { "application/json": { schema: WebhookSchema } } },
    ...problems(401, 404, 422, 429, 503),
  },
});

export const deleteWebhook = createRoute({
  operationId: "deleteWebhook",
  method: "delete",
  path: "/api/v1/webhooks/{id}",
  tags,
  security,
  summary: "Delete a webhook",
  description: "Nothing more is sent, including retries already queued; its deliveries are deleted with it.",
  request: { params: WebhookIdParam },
  responses: { 204: { description: "Deleted." }, ...problems(401, 404, 422, 429, 503) },
});

export const testWebhook = createRoute({
  operationId: "testWebhook",
  method: "post",
  path: "/api/v1/webhooks/{id}/test",
  tags,
  security,
  summary: "Queue a webhook.test event",
  description:
    "Queues an event of type `webhook.test`, signed and retried like any other, whose `data` has a Change's " +
    "shape: `id` the event id, `action` `webhook.test`, `actor_id` the webhook's owner, `document_id` null, " +
    '`details: {webhook_id, message}`, `created_at`, and `cursor` the changes feed\'s "now" (as ' +
    "GET /changes/latest gives it). It is sent even to a disabled webhook, so a receiver can be checked " +
    "before recreating it. Its " +
    "`event_id` appears in the deliveries.",
  request: { params: WebhookIdParam },
  responses: {
    202: {
      description: "Queued.",
      content: { "application/json": { schema: z.object({ event_id: z.guid() }).openapi("QueuedTestEvent") } },
    },
    ...problems(401, 404, 422, 429, 503),
  },
});

export const listDeliveries = createRoute({
  operationId: "listWebhookDeliveries",
  method: "get",
  path: "/api/v1/webhooks/{id}/deliveries",
  tags,
  security,
  summary: "The webhook's deliveries, newest first",
  description:
    "One row per event (attempts counted on it). `page` from 1, `limit` 1–100 (default 20). A delivery that " +
    "will not be attempted again has `next_attempt_at` null: delivered (`delivered_at`), or ended, with " +
    "`ended_reason` saying why (gave up after the schedule, webhook disabled, the owner could no longer read " +
    "the change, …). Such finished deliveries are listed for " +
    "`WEBHOOK_DELIVERY_RETENTION_DAYS` (default 30) after they were made, then deleted; one still being retried " +
    "stays whatever its age.",
  request: { params: WebhookIdParam, query: countedPageQuery(20) },
  responses: {
    200: {
      description: "One page of deliveries.",
      content: { "application/json": { schema: countedPageOf(DeliverySchema, "WebhookDeliveryPage") } },
    },
    ...problems(401, 404, 422, 429, 503),
  },
});
