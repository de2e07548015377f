import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import * as handlers from "./webhooks.handlers";
import * as routes from "./webhooks.routes";

const router = createRouter();
router.post("/api/v1/webhooks", jsonBodyLimit);

export const webhooksRouter = router
  .openapi(routes.createWebhook, handlers.createWebhookHandler)
  .openapi(routes.listWebhooks, handlers.listWebhooksHandler)
  .openapi(routes.getWebhook, handlers.getWebhookHandler)
  .openapi(routes.deleteWebhook, handlers.deleteWebhookHandler)
  .openapi(routes.testWebhook, handlers.testWebhookHandler)
  .openapi(routes.listDeliveries, handlers.listDeliveriesHandler);
