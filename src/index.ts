// The Worker's boundary: configuration is validated here, once per isolate, before any route or
// scheduled job runs.
import { createApp } from "./app";
import { loadConfig } from "./config";
import { problemBody } from "./lib/problem";
import { runScheduledMaintenance } from "./maintenance";

const app = createApp();

function logInvalidConfiguration(problems: string[]) {
  console.error(JSON.stringify({ level: "error", msg: "invalid configuration", problems }));
}

export default {
  fetch(request, env, ctx) {
    const loaded = loadConfig(env);
    if (!loaded.ok) {
      logInvalidConfiguration(loaded.problems);
      const body = problemBody(
        "service_misconfigured",
        "The service is misconfigured; the operator has been told in the logs.",
      );
      return new Response(JSON.stringify(body), {
        status: 500,
        headers: { "Content-Type": "application/problem+json", "X-Content-Type-Options": "nosniff" },
      });
    }
    return app.fetch(request, env, ctx);
  },

  async scheduled(controller, env) {
    const loaded = loadConfig(env);
    if (!loaded.ok) {
      logInvalidConfiguration(loaded.problems);
      throw new Error("invalid configuration");
    }
    await runScheduledMaintenance(loaded.config, controller.cron);
  },
} satisfies ExportedHandler<Env>;
