import { createRouter } from "../../lib/router";
import * as handlers from "./webhooks.handlers";
import * as routes from "./webhooks.routes";

export const webhooksRouter = createRouter()
  .openapi(routes.createWebhook, handlers.createWebhookHandler)
  .openapi(routes.listWebhooks, handlers.listWebhooksHandler)
  .openapi(routes.getWebhook, handlers.getWebhookHandler)
  .openapi(routes.deleteWebhook, handlers.deleteWebhookHandler)
  .openapi(routes.testWebhook, handlers.testWebhookHandler)
  .openapi(routes.listDeliveries, handlers.listDeliveriesHandler);
