import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../app-env";

// JSON responses need no content at all from the browser's point of view.
const apiHeaders = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  crossOriginResourcePolicy: "same-origin",
  xFrameOptions: "DENY",
});

// Swagger UI and ReDoc load their bundles and Swagger UI's start-up script from this origin
// (/assets): no inline script runs, so none is allowed. Both set inline styles, and ReDoc runs a
// web worker from a blob URL.
const docsHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", "data:"],
    workerSrc: ["'self'", "blob:"],
    connectSrc: ["'self'"],
    frameAncestors: ["'none'"],
  },
  xFrameOptions: "DENY",
});

export const DOCS_PATHS = new Set(["/docs", "/redoc"]);

export const securityHeaders = createMiddleware<AppEnv>((c, next) =>
  (DOCS_PATHS.has(c.req.path) ? docsHeaders : apiHeaders)(c, next),
);
