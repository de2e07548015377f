import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../app-env";

// JSON responses need no content at all from the browser's point of view.
const apiHeaders = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  crossOriginResourcePolicy: "same-origin",
  xFrameOptions: "DENY",
});

// Swagger UI and ReDoc load their bundles from this origin (/assets), start with an inline
// script, and ReDoc runs a web worker from a blob URL.
const docsHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'", "'unsafe-inline'"],
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
