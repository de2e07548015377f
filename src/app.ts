import type { MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";
import type { AppEnv } from "./app-env";
import { notFoundFor, onError } from "./lib/error-handler";
import {
  API_DESCRIPTION,
  ERROR_CODES_TABLE,
  type LimitedRoutes,
  SECURITY_SCHEMES,
  withMiddlewareResponses,
} from "./lib/openapi";
import { createRouter } from "./lib/router";
import { accessLog } from "./middleware/access-log";
import { context } from "./middleware/context";
import { corsFromConfig } from "./middleware/cors";
import { dispatchWebhooks } from "./middleware/dispatch-webhooks";
import { notifyLive } from "./middleware/notify-live";
import { rateLimit } from "./middleware/rate-limit";
import { requireAuth } from "./middleware/require-auth";
import { securityHeaders } from "./middleware/security-headers";
import { activityRouter } from "./routes/activity/activity.index";
import { authRouter } from "./routes/auth/auth.index";
import { changesRouter } from "./routes/changes/changes.index";
import { docsRouter } from "./routes/docs/docs.index";
import { documentsRouter } from "./routes/documents/documents.index";
import { eventsRouter } from "./routes/events/events.index";
import { healthRouter } from "./routes/health/health.index";
import { linksRouter } from "./routes/links/links.index";
import { permissionsRouter } from "./routes/permissions/permissions.index";
import { trashRouter } from "./routes/trash/trash.index";
import { uploadsRouter } from "./routes/uploads/uploads.index";
import { webhooksRouter } from "./routes/webhooks/webhooks.index";

export const OPENAPI_INFO = {
  title: "DocVault API",
  version: "1.0.0",
  description: `${API_DESCRIPTION}\n\n**Problem codes**\n\n${ERROR_CODES_TABLE}`,
};

// Hono's "/x/*" also matches "/x" itself, so each prefix is listed once (a middleware listed for
// both would run twice: a request would count twice against its budget).
const PROTECTED_PATHS = [
  "/api/v1/auth/me",
  "/api/v1/documents/*",
  "/api/v1/uploads/*",
  "/api/v1/trash/*",
  "/api/v1/changes/*",
  "/api/v1/webhooks/*",
  "/api/v1/events/ticket",
];

// Live sockets authenticate with a single-use ticket instead (src/live/tickets.ts); their ticket
// is what is limited (POST /events/ticket counts against the budget).
const TICKET_PATH = /^\/api\/v1\/documents\/[^/]+\/presence$/;

// Requests that store bytes, on top of the user's budget for every request.
const UPLOAD_PATHS = ["/api/v1/documents", "/api/v1/documents/:id/upload-version", "/api/v1/uploads"];

const REGISTER_PATH = "/api/v1/auth/register";
const LINK_PATHS = ["/api/v1/links/*"];

/** Which budget limits which routes: what the middleware below enforces, for the OpenAPI document. */
const LIMITED_ROUTES: LimitedRoutes[] = [
  { budget: "user", patterns: PROTECTED_PATHS, except: TICKET_PATH },
  { budget: "upload", patterns: UPLOAD_PATHS, methods: ["POST"] },
  { budget: "register", patterns: [REGISTER_PATH], methods: ["POST"] },
  { budget: "link", patterns: LINK_PATHS },
];

const unlessTicketRoute =
  (middleware: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> =>
  (c, next) =>
    TICKET_PATH.test(c.req.path) ? next() : middleware(c, next);

export function createApp() {
  const app = createRouter();

  app.use(requestId({ headerName: "X-Request-Id" }));
  app.use(context);
  app.use(accessLog);
  app.use(securityHeaders);
  app.use(corsFromConfig);

  // Everything under these prefixes needs a valid access token, whatever sub-app serves it, and
  // counts against its user's request budget.
  for (const path of PROTECTED_PATHS) {
    app.use(path, unlessTicketRoute(requireAuth), unlessTicketRoute(rateLimit("user")));
  }
  app.on("POST", UPLOAD_PATHS, rateLimit("upload"));
  app.on("POST", REGISTER_PATH, rateLimit("register"));
  // Share links' public routes: no token, a budget per client address instead.
  for (const path of LINK_PATHS) app.use(path, rateLimit("link"));
  app.use("/api/v1/*", dispatchWebhooks);
  app.use("/api/v1/*", notifyLive);

  app.route("/", healthRouter);
  app.route("/", docsRouter);
  app.route("/", authRouter);
  app.route("/", documentsRouter);
  app.route("/", permissionsRouter);
  app.route("/", activityRouter);
  app.route("/", uploadsRouter);
  app.route("/", trashRouter);
  app.route("/", linksRouter);
  app.route("/", changesRouter);
  app.route("/", webhooksRouter);
  app.route("/", eventsRouter);

  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  }
  // doc31's route, with the responses middleware adds (429s, rate-limit and challenge headers).
  app.get("/openapi.json", (c) =>
    c.json(
      withMiddlewareResponses(
        app.getOpenAPI31Document({
          openapi: "3.1.0",
          info: OPENAPI_INFO,
          servers: [{ url: new URL(c.req.url).origin, description: "This deployment" }],
        }),
        LIMITED_ROUTES,
      ),
    ),
  );

  app.notFound(notFoundFor(app.routes));
  app.onError(onError);
  return app;
}

export type App = ReturnType<typeof createApp>;
export type { AppEnv };
