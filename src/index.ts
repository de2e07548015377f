// The Worker's boundary: configuration is validated here, once per isolate, before any route runs.
import { createApp } from "./app";
import { loadConfig } from "./config";
import { problemBody } from "./lib/problem";

const app = createApp();

export default {
  fetch(request, env, ctx) {
    const loaded = loadConfig(env);
    if (!loaded.ok) {
      console.error(JSON.stringify({ level: "error", msg: "invalid configuration", problems: loaded.problems }));
      const body = problemBody(500, "The service is misconfigured; the operator has been told in the logs.");
      return new Response(JSON.stringify(body), {
        status: 500,
        headers: { "Content-Type": "application/problem+json", "X-Content-Type-Options": "nosniff" },
      });
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
