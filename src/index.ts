// The Worker's boundary: configuration is validated here, once per isolate, before any route or
// scheduled job runs.

import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { createApp } from "./app";
import type { AppEnv } from "./app-env";
import { loadConfig } from "./config";
import { contentDeps, enqueuePending } from "./content/consume";
import { createDatabase } from "./db/client";
import { problemResponse } from "./lib/problem";
import { type LiveBindings, notifyLive } from "./live/notify";
import { runScheduledMaintenance } from "./maintenance";
import { securityHeaders } from "./middleware/security-headers";
import { handleQueueBatch } from "./queues";
import { runWebhookJob, WEBHOOK_CRON } from "./webhooks/job";

const app = createApp();

// The Durable Objects of live events (wrangler.toml binds them).
export { DocumentPresence, UserEvents } from "./live/objects";

// `npx wrangler dev` alone (the Workers habit) has none of the configuration that `npm run dev`
// generates: say how to start the local stack instead of a bare 500.
const LOCAL_HINT =
  "Running locally? Start the whole stack with `npm run dev` (it provides the database, storage and secrets), " +
  "or put the variables of .dev.vars.example into .dev.vars.";

/** Backfill rows sent per scheduled run; each one handled sends the next (src/content/consume.ts). */
const CONTENT_BACKFILL_PER_RUN = 1000;

const isLoopback = (url: string) => /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(new URL(url).hostname);

function logInvalidConfiguration(problems: string[], request_id?: string) {
  console.error(
    JSON.stringify({ level: "error", msg: "invalid configuration", problems, hint: LOCAL_HINT, request_id }),
  );
}

/**
 * The answer to every request while the configuration is invalid: a 500 `service_misconfigured`
 * problem with the request id and security headers every other answer has.
 */
function misconfigured(request: Request, problems: string[]): Response | Promise<Response> {
  const answer = new Hono<AppEnv>();
  answer.use(requestId({ headerName: "X-Request-Id" }), securityHeaders);
  answer.all("*", (c) => {
    logInvalidConfiguration(problems, c.get("requestId"));
    // Only a caller on this machine is told more: elsewhere it is the operator's business.
    return problemResponse(
      c,
      "service_misconfigured",
      isLoopback(request.url)
        ? `The service is misconfigured (${problems.map((p) => p.split(":")[0]).join(", ")}). ${LOCAL_HINT}`
        : "The service is misconfigured; the operator has been told in the logs.",
    );
  });
  return answer.fetch(request);
}

export default {
  fetch(request, env, ctx) {
    const loaded = loadConfig(env);
    if (!loaded.ok) return misconfigured(request, loaded.problems);
    return app.fetch(request, env, ctx);
  },

  async scheduled(controller, env) {
    const loaded = loadConfig(env);
    if (!loaded.ok) {
      logInvalidConfiguration(loaded.problems);
      throw new Error("invalid configuration");
    }
    // Every minute: the webhook dispatcher's safety net (src/webhooks/job.ts); hourly: housekeeping.
    if (controller.cron === WEBHOOK_CRON) {
      await runWebhookJob(loaded.config, env.WEBHOOK_QUEUE);
      // Live events' safety net: changes whose notification after the request did not happen.
      await notifyLive(createDatabase(loaded.config), env as LiveBindings);
      return;
    }
    // The scheduled time is the run's clock for the trash's retention (tests drive it forward).
    await runScheduledMaintenance(loaded.config, controller.cron, { now: new Date(controller.scheduledTime) });
    // The content backfill's rows (npm run content:reindex) start through the queue from here.
    await enqueuePending(contentDeps(loaded.config).db, env.CONTENT_QUEUE, CONTENT_BACKFILL_PER_RUN);
  },

  // One consumer for every queue of wrangler.toml, dispatched by the queue's name (src/queues.ts).
  async queue(batch, env, ctx) {
    const loaded = loadConfig(env);
    if (!loaded.ok) {
      logInvalidConfiguration(loaded.problems);
      throw new Error("invalid configuration");
    }
    // ctx: changes a consumer recorded are dispatched in its waitUntil, as a request's are.
    await handleQueueBatch(batch, loaded.config, env, ctx);
  },
} satisfies ExportedHandler<Env>;
