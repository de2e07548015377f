// Shared OpenAPI pieces: the problem+json schema and responses every route spreads in, the
// security schemes, and the document's top-level description (where the contract is silent,
// the behaviour chosen is written down here).
import { z } from "@hono/zod-openapi";
import { BEARER_CHALLENGE, LINK_PASSWORD_CHALLENGE, TICKET_CHALLENGE } from "./bearer-challenge";
import { codesFor, ERROR_CODES, type ErrorCode } from "./error-codes";
import { STATUS_TITLES } from "./problem";

export const FieldErrorSchema = z
  .object({
    path: z.string().openapi({ example: "body.email" }),
    message: z.string().openapi({ example: "Invalid email address" }),
  })
  .openapi("FieldError");

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "about:blank" }),
    title: z.string().openapi({ example: "Unprocessable Content" }),
    status: z.number().int().openapi({ example: 422 }),
    detail: z.string().openapi({ example: "The request did not match the schema." }),
    code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).openapi({
      example: "validation_failed",
      description: "Stable name of the failure, to branch on; the API description lists every code.",
    }),
    errors: z.array(FieldErrorSchema).optional(),
    request_id: z.string().optional().openapi({ description: "The X-Request-Id of the failed request." }),
  })
  .openapi("Problem", { description: "An RFC 9457 problem detail." });

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed request body (invalid JSON, broken multipart).",
  401: "Missing, invalid or expired access token (on share links: a missing or wrong link password).",
  403: "Authenticated, but the role on this resource is too low.",
  404: "No such resource, or no access to it.",
  409: "Conflict with the current state.",
  410: "The share link is gone for good (expired or used up).",
  412: "If-Match does not match the current ETag.",
  413: "Payload too large.",
  415: "File type not allowed.",
  422: "The request failed schema validation; `errors` names each failing field.",
  429: "Rate limited; see Retry-After.",
  503: "A dependency (database or storage) is unavailable.",
  507: "The document owner's storage quota has no room for the file; nothing was stored.",
};

export type ProblemStatus = keyof typeof PROBLEM_DESCRIPTIONS & number;

/** Problem responses for a route, by status code: `responses: { 200: …, ...problems(404, 422) }`. */
export function problems<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: `${PROBLEM_DESCRIPTIONS[status] ?? STATUS_TITLES[status] ?? "Error"} Codes: ${codesFor(status)
          .map((code) => `\`${code}\``)
          .join(", ")}.`,
        content: { "application/problem+json": { schema: ProblemSchema } },
      },
    ]),
  ) as Record<S, { description: string; content: { "application/problem+json": { schema: typeof ProblemSchema } } }>;
}

/**
 * Problem responses naming only the given codes of each status, for routes where most codes of a
 * status cannot happen (the public share-link routes have no token to be missing).
 */
export function problemsOf<S extends number>(codesByStatus: Record<S, ErrorCode[]>) {
  return Object.fromEntries(
    (Object.entries(codesByStatus) as [string, ErrorCode[]][]).map(([status, codes]) => [
      status,
      {
        description: `${STATUS_TITLES[Number(status)] ?? "Error"}. Codes: ${codes.map((code) => `\`${code}\``).join(", ")}.`,
        content: { "application/problem+json": { schema: ProblemSchema } },
      },
    ]),
  ) as Record<S, { description: string; content: { "application/problem+json": { schema: typeof ProblemSchema } } }>;
}

export const SECURITY_SCHEMES = {
  bearerAuth: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "Access token from POST /api/v1/auth/login.",
  },
  oauth2Password: {
    type: "oauth2",
    description: "OAuth2 password flow: Swagger UI's Authorize button logs in with email and password.",
    flows: { password: { tokenUrl: "/api/v1/auth/login", refreshUrl: "/api/v1/auth/refresh", scopes: {} } },
  },
} as const;

/** Security requirement for authenticated routes: either scheme carries the same bearer token. */
export const AUTHENTICATED: Record<string, string[]>[] = [{ bearerAuth: [] }, { oauth2Password: [] }];

export const API_DESCRIPTION = `
Collaborative document management at the edge: accounts, documents with immutable versions in
S3-compatible storage, sharing with roles, full-text search and an audit trail.

**Errors** are RFC 9457 \`application/problem+json\`: \`{type, title, status, detail, code}\`, plus
\`errors: [{path, message}]\` for validation failures (422) and \`request_id\` (the
\`X-Request-Id\` response header). \`type\` is \`about:blank\`: the status code is the problem type.
\`code\` is a stable snake_case name of the failure to branch on: two failures with the same status
have different codes (the table at the end lists them all).
A validation error's \`path\` starts with where the value was: \`body\`, \`query\`, \`path\` or
\`header\` (for example \`body.email\`, \`query.limit\`).

**Requests** may carry \`X-Request-Id\` (letters, digits, \`-\`, \`_\`, \`=\`, at most 255
characters); otherwise one is generated. Every response echoes it. Unknown JSON fields and query
parameters are ignored. Text values must not contain NUL (U+0000), which PostgreSQL cannot store:
such a value is a 422 (with \`path\` \`body\` when it could only be found on writing) and changes
nothing; in the search parameter \`q\` a NUL simply separates words. A path written with a
trailing slash (\`/api/v1/documents/\`) is answered \`307\` with \`Location\` the path without it
(query kept; the method and body are sent again), as FastAPI does; an unknown path is \`404\`.

**Closed accounts** (\`DELETE /api/v1/auth/me\`): from the request after the closure on, every
authenticated route answers an access token of that account with 401 \`account_inactive\`, even
though the token itself is still within its lifetime; the check is made by the route's own
database statement, so it holds on every server at once.

**Share links** (\`/api/v1/links/{token}\`) need no token: their operations declare no security,
have a request budget per client address, and answer \`Cache-Control: no-store\`. Their 401s
(\`link_password_required\`, \`link_password_wrong\`) carry \`WWW-Authenticate: LinkPassword
realm="docvault share link"\`, not a Bearer challenge: the password goes in the JSON body of
\`POST /api/v1/links/{token}/download\`. The token is the link's whole secret; the service stores only
its SHA-256 and never logs it.
**Changes and webhooks**: \`GET /api/v1/changes\` lists the activity of every document the caller
can read in commit order, with opaque cursors that never skip or repeat a change; webhooks POST
the same Changes, signed per Standard Webhooks (\`webhook-id\`, \`webhook-timestamp\`,
\`webhook-signature\`), at least once: deduplicate on \`webhook-id\`.
`.trim();

/** Every problem \`code\`, with its status and meaning, from the table the code throws with. */
export const ERROR_CODES_TABLE = [
  "| code | status | meaning |",
  "|---|---|---|",
  ...(Object.entries(ERROR_CODES) as [ErrorCode, { status: number; meaning: string }][]).map(
    ([code, { status, meaning }]) => `| \`${code}\` | ${status} | ${meaning.replace(/\|/g, "\\|")} |`,
  ),
].join("\n");

/** A group of routes one request budget limits, as the app wires its middleware (Hono patterns). */
export type LimitedRoutes = {
  budget: string;
  /** Hono path patterns: `:name` is one segment, a trailing `/*` also matches the prefix itself. */
  patterns: readonly string[];
  /** Only these methods (all when absent). */
  methods?: readonly string[];
  /** Paths the patterns match but the budget skips. */
  except?: RegExp;
};

type HeaderObject = { description: string; schema: { type: string } };
type ResponseObject = {
  description: string;
  headers?: Record<string, HeaderObject>;
  content?: Record<string, unknown>;
};
type OperationDocument = { paths?: Record<string, Record<string, { responses?: Record<string, ResponseObject> }>> };

const RATE_LIMIT_HEADERS: Record<string, HeaderObject> = {
  "RateLimit-Policy": {
    description: 'The budgets this route counts against (IETF httpapi draft), e.g. `"user";q=600;w=60`.',
    schema: { type: "string" },
  },
  RateLimit: {
    description: 'What is left of each budget in this window, e.g. `"user";r=598;t=42` (t: seconds to its reset).',
    schema: { type: "string" },
  },
};
const RETRY_AFTER: Record<string, HeaderObject> = {
  "Retry-After": { description: "Seconds until the request may be retried.", schema: { type: "integer" } },
};
const WWW_AUTHENTICATE: Record<string, HeaderObject> = {
  "WWW-Authenticate": {
    description:
      `The challenge: \`${BEARER_CHALLENGE}\` (with \`error="invalid_token"\` for a bad token); on share links, ` +
      `\`${LINK_PASSWORD_CHALLENGE}\`; on live-event sockets, \`${TICKET_CHALLENGE}\`.`,
    schema: { type: "string" },
  },
};

/** An OpenAPI path (`/a/{id}/b`) matches a Hono pattern (`/a/:id/b`, `/a/*`). */
function matchesPattern(pattern: string, path: string): boolean {
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const wildcard = pattern.endsWith("/*");
  const segments = (wildcard ? pattern.slice(0, -2) : pattern)
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "\\{[^/}]+\\}" : literal(segment)));
  return new RegExp(`^${segments.join("/")}${wildcard ? "(/.*)?" : ""}$`).test(path);
}

/**
 * The generated document, completed with what middleware (not the routes) answers: on each
 * operation a budget limits, a 429 (`rate_limited`, when the route declares none of its own) with
 * Retry-After and the RateLimit headers, and the RateLimit headers on its successes; on every 401,
 * the WWW-Authenticate challenge. Derived from the same patterns that wire the middleware, so the
 * document cannot drift from what is enforced.
 */
export function withMiddlewareResponses<D extends { paths?: object }>(
  document: D,
  limited: readonly LimitedRoutes[],
): D {
  // The generator's path items are typed per method; only their responses are touched here.
  const paths = (document as OperationDocument).paths ?? {};
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const responses = operation.responses;
      if (!responses) continue;
      const budgets = limited
        .filter(
          (group) =>
            (!group.methods || group.methods.includes(method.toUpperCase())) &&
            !group.except?.test(path) &&
            group.patterns.some((pattern) => matchesPattern(pattern, path)),
        )
        .map((group) => group.budget);
      if (budgets.length > 0) {
        const named = budgets.map((budget) => `"${budget}"`).join(", ");
        responses[429] ??= {
          description: `Over a request budget (${named}); see Retry-After. Codes: \`rate_limited\`.`,
          content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
        };
        responses[429].headers = { ...responses[429].headers, ...RETRY_AFTER, ...RATE_LIMIT_HEADERS };
        for (const [status, response] of Object.entries(responses)) {
          if (/^[23]/.test(status)) response.headers = { ...response.headers, ...RATE_LIMIT_HEADERS };
        }
      }
      if (responses[401]) responses[401].headers = { ...responses[401].headers, ...WWW_AUTHENTICATE };
      // Any operation can fail inside the service, or meet a deployment whose configuration is invalid.
      responses[500] ??= {
        description:
          "The service failed (logged under the answer's `request_id`, which is also its X-Request-Id) or the " +
          "deployment's configuration is invalid. Codes: `internal_error`, `service_misconfigured`.",
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
      };
      // Every 429 (the login throttle's too) and every 503 (dependency down, "retry after 5 s") says when to retry.
      for (const status of ["429", "503"]) {
        const response = responses[status];
        // Problems only: /health's 503 is its own JSON report, without Retry-After.
        if (response?.content?.["application/problem+json"]) response.headers = { ...response.headers, ...RETRY_AFTER };
      }
    }
  }
  return document;
}
