// Swagger UI and ReDoc pages. Their bundles are served from this origin under /assets (Workers
// Static Assets, copied from node_modules by `npm run assets`), so both work offline.
import { swaggerUI } from "@hono/swagger-ui";
import { createRouter } from "../../lib/router";

export const ASSETS_BASE = "/assets";

const REDOC_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>DocVault API · ReDoc</title>
  </head>
  <body>
    <redoc spec-url="/openapi.json"></redoc>
    <script src="${ASSETS_BASE}/redoc/redoc.standalone.js"></script>
  </body>
</html>`;

export const docsRouter = createRouter()
  .get(
    "/docs",
    swaggerUI({
      url: "/openapi.json",
      baseUrl: ASSETS_BASE,
      title: "DocVault API · Swagger UI",
      persistAuthorization: true,
      displayRequestDuration: true,
    }),
  )
  .get("/redoc", (c) => c.html(REDOC_HTML));
