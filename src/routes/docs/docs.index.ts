// Swagger UI and ReDoc pages. Their bundles are served from this origin under /assets (Workers
// Static Assets, copied from node_modules by `npm run assets`), so both work offline. Neither page
// has an inline script: Swagger UI is started by /assets/swagger-init.js, so the pages' CSP can
// allow scripts from this origin only.
import { swaggerUI } from "@hono/swagger-ui";
import { createRouter } from "../../lib/router";

export const ASSETS_BASE = "/assets";
const SWAGGER_INIT = `${ASSETS_BASE}/swagger-init.js`;
const SPEC_URL = "/openapi.json";

const REDOC_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>DocVault API · ReDoc</title>
  </head>
  <body>
    <redoc spec-url="${SPEC_URL}"></redoc>
    <script src="${ASSETS_BASE}/redoc/redoc.standalone.js"></script>
  </body>
</html>`;

export const docsRouter = createRouter()
  .get(
    "/docs",
    swaggerUI({
      url: SPEC_URL, // read by the page below (data-spec-url), not by the library
      baseUrl: ASSETS_BASE,
      title: "DocVault API · Swagger UI",
      // The library's default page starts Swagger UI with an inline script; this one loads the
      // same bundle and a served start-up script (which sets the options, without
      // persistAuthorization: tokens stay in memory, not in localStorage).
      manuallySwaggerUIHtml: (asset) => `
        <div id="swagger-ui" data-spec-url="${SPEC_URL}"></div>
        ${asset.css.map((url) => `<link rel="stylesheet" href="${url}" />`).join("")}
        ${asset.js.map((url) => `<script src="${url}"></script>`).join("")}
        <script src="${SWAGGER_INIT}"></script>`,
    }),
  )
  .get("/redoc", (c) => c.html(REDOC_HTML));
