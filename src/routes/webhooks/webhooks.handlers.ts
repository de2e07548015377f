import type { AppRouteHandler } from "../../app-env";
import { describeError } from "../../lib/logger";
import { countedPage } from "../../lib/pagination";
import * as webhooks from "../../webhooks/webhooks";
import type {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  testWebhook,
} from "./webhooks.routes";

export const createWebhookHandler: AppRouteHandler<typeof createWebhook> = async (c) => {
  const body = c.req.valid("json");
  const created = await webhooks.createWebhook(c.get("db"), c.get("config"), {
    ownerId: c.get("userId"),
    url: body.url,
    events: body.events ?? null,
    documentId: body.document_id ?? null,
  });
  return c.json(created, 201);
};

export const listWebhooksHandler: AppRouteHandler<typeof listWebhooks> = async (c) => {
  const { page, limit } = c.req.valid("query");
  const found = await webhooks.listWebhooks(c.get("db"), c.get("userId"), { page, limit });
  return c.json(countedPage(found, { page, limit }), 200);
};

export const getWebhookHandler: AppRouteHandler<typeof getWebhook> = async (c) => {
  return c.json(await webhooks.getWebhook(c.get("db"), c.req.valid("param").id, c.get("userId")), 200);
};

export const deleteWebhookHandler: AppRouteHandler<typeof deleteWebhook> = async (c) => {
  await webhooks.deleteWebhook(c.get("db"), c.req.valid("param").id, c.get("userId"));
  return c.body(null, 204);
};

export const testWebhookHandler: AppRouteHandler<typeof testWebhook> = async (c) => {
  const logger = c.get("logger");
  const eventId = await webhooks.queueTestEvent(c.get("db"), c.env.WEBHOOK_QUEUE, {
    id: c.req.valid("param").id,
    ownerId: c.get("userId"),
    onSendError: (error) => logger.error("webhook test send failed", describeError(error)),
  });
  return c.json({ event_id: eventId }, 202);
};

export const listDeliveriesHandler: AppRouteHandler<typeof listDeliveries> = async (c) => {
  const { page, limit } = c.req.valid("query");
  const deliveries = await webhooks.listDeliveries(c.get("db"), {
    webhookId: c.req.valid("param").id,
    ownerId: c.get("userId"),
    page,
    limit,
  });
  return c.json(countedPage(deliveries, { page, limit }), 200);
};
