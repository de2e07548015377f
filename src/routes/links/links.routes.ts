import { createRoute, z } from "@hono/zod-openapi";
import { codePoints } from "../../lib/characters";
import { AUTHENTICATED, problems, problemsOf } from "../../lib/openapi";
import { countedPageOf, countedPageQuery } from "../../lib/pagination";
import { IdParam } from "../documents/documents.schemas";

const tags = ["Share links"];
const DAY_MS = 86_400_000;
/** The furthest a link's expiry may lie ahead. */
export const MAX_LINK_LIFETIME_DAYS = 365;

export const LinkSchema = z
  .object({
    id: z.guid(),
    document_id: z.guid(),
    version_number: z.number().int().nullable().openapi({
      description: "The pinned version, or null: the link serves whatever version is current when it is used.",
    }),
    expires_at: z.iso.datetime().nullable().openapi({ description: "Null: the link does not expire." }),
    max_downloads: z.number().int().nullable().openapi({ description: "Null: no limit." }),
    download_count: z.number().int(),
    has_password: z.boolean(),
    created_by: z.guid(),
    created_at: z.iso.datetime(),
  })
  .openapi("Link");

export const CreatedLinkSchema = LinkSchema.extend({
  token: z.string().openapi({
    description:
      "The link's secret: 43 base64url characters (256 random bits). Shown only in this response; the service " +
      "stores only its SHA-256 and cannot show it again.",
  }),
  url: z
    .url()
    .openapi({ description: "`GET` it (no authentication) for what the link offers: `/api/v1/links/{token}`." }),
}).openapi("CreatedLink");

export const CreateLinkBody = z
  .object({
    expires_at: z.iso
      .datetime({ offset: true })
      .nullish()
      .openapi({
        description:
          "RFC 3339. Must be in the future and at most 365 days ahead (422 otherwise). Absent or null: the link " +
          "does not expire (until revoked, or until its document is purged).",
      }),
    password: z
      .string()
      .max(1024)
      .refine((v) => codePoints(v) >= 4, "must be at least 4 characters")
      .refine((v) => codePoints(v) <= 256, "must be at most 256 characters")
      .nullish()
      .openapi({
        minLength: 4,
        maxLength: 256,
        description:
          "4 to 256 characters. Hashed like an account password (scrypt over a peppered HMAC); never shown again. " +
          "Recipients send it to `POST /api/v1/links/{token}/download`.",
      }),
    max_downloads: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .nullish()
      .openapi({ description: "1 to 1,000,000. Absent or null: unlimited." }),
    version: z
      .number()
      .int()
      .min(1)
      .max(2_147_483_647)
      .nullish()
      .openapi({
        description:
          "Pin this version (422 `link_version_not_found` if the document has none such). Absent: the link follows " +
          "the current version.",
      }),
  })
  .superRefine((body, ctx) => {
    if (!body.expires_at) return;
    const at = Date.parse(body.expires_at);
    const now = Date.now();
    if (at <= now) ctx.addIssue({ code: "custom", path: ["expires_at"], message: "must be in the future" });
    else if (at > now + MAX_LINK_LIFETIME_DAYS * DAY_MS) {
      ctx.addIssue({ code: "custom", path: ["expires_at"], message: "must be at most 365 days ahead" });
    }
  })
  .openapi("CreateLink");

const LinkParams = IdParam.extend({
  link_id: z.guid().openapi({ param: { name: "link_id", in: "path" } }),
});

// Any string: a token of the wrong shape is simply an unknown link (404), refused before any
// database work, not a validation failure.
const TokenParam = z.object({
  token: z
    .string()
    .openapi({ param: { name: "token", in: "path" }, description: "The link's token (43 base64url characters)." }),
});

export const PublicLinkSchema = z
  .object({
    title: z.string(),
    file_name: z.string(),
    content_type: z.string(),
    size_bytes: z.number().int(),
    version_number: z.number().int().openapi({ description: "The version a download serves now." }),
    expires_at: z.iso.datetime().nullable(),
    has_password: z.boolean(),
    downloads_left: z.number().int().nullable().openapi({ description: "Null: unlimited. Never 0 (that is 410)." }),
  })
  .openapi("PublicLink");

export const LinkDownloadBody = z
  .object({
    password: z
      .string()
      .max(1024)
      .optional()
      .openapi({
        description:
          "Required for a link with a password; ignored otherwise. When sent, it must be a string (a number is 422 " +
          "for any link).",
      }),
  })
  .openapi("LinkDownloadRequest");

export const LinkDownloadSchema = z
  .object({
    url: z.url().openapi({
      description: "Presigned GET on the object store, valid 60 s; answers the exact bytes as an attachment.",
    }),
    expires_at: z.iso.datetime(),
  })
  .openapi("LinkDownload");

const LINK_GONE =
  "An unknown, malformed or revoked token, a link whose document was deleted, or a link whose creator no " +
  "longer holds EDIT on the document (see createLink) is 404 `link_not_found`; " +
  "an expired link 410 `link_expired`; a link with no downloads left 410 `link_exhausted`.";
const PUBLIC =
  "No authentication (no `Authorization` header is read). Rate limited per client address with the per-user " +
  "budget's value (RATE_LIMIT_PER_MINUTE, default 600 a minute; 429 `rate_limited`). Responses are `Cache-Control: no-store`.";

export const createLink = createRoute({
  operationId: "createLink",
  method: "post",
  path: "/api/v1/documents/{id}/links",
  tags,
  security: AUTHENTICATED,
  summary: "Create a share link",
  description:
    "Needs EDIT or above. Answers the link with its `token` and `url`, shown only here. Validation (422): " +
    "`expires_at` in the past or more than 365 days ahead, `max_downloads` outside 1–1,000,000, a password " +
    "shorter than 4 characters (`validation_failed`, naming the field); a `version` the document does not have " +
    "(`link_version_not_found`). The link answers only while its document is live: while the document is in the " +
    "trash its links are 404, a restore brings them back unchanged, a purge deletes them. Links die with the " +
    "account that created them: closing an account (`DELETE /auth/me`) revokes every link it created. " +
    "While the creator holds less than EDIT on the document (their permission revoked, or demoted to READ), " +
    "their links answer 404 `link_not_found`, using no download; given EDIT or ADMIN again, the links answer " +
    "again. The owner's links always answer.",
  request: {
    params: IdParam,
    body: { required: true, content: { "application/json": { schema: CreateLinkBody } } },
  },
  responses: {
    201: { description: "The link, with its token.", content: { "application/json": { schema: CreatedLinkSchema } } },
    ...problems(400, 401, 403, 404, 413, 415, 422, 503),
  },
});

export const listLinks = createRoute({
  operationId: "listLinks",
  method: "get",
  path: "/api/v1/documents/{id}/links",
  tags,
  security: AUTHENTICATED,
  summary: "A document's share links",
  description:
    "Needs EDIT or above. Oldest first, expired and used-up links included, and links that answer 404 while " +
    "their creator holds less than EDIT (revoked links are gone); never " +
    "with tokens, which are not stored. Paginated: `page` from 1, `limit` 1–100 (default 20), with `total`.",
  request: { params: IdParam, query: countedPageQuery(20) },
  responses: {
    200: {
      description: "One page of links.",
      content: { "application/json": { schema: countedPageOf(LinkSchema, "LinkPage") } },
    },
    ...problems(401, 403, 404, 422, 503),
  },
});

export const revokeLink = createRoute({
  operationId: "revokeLink",
  method: "delete",
  path: "/api/v1/documents/{id}/links/{link_id}",
  tags,
  security: AUTHENTICATED,
  summary: "Revoke a share link",
  description:
    "The link's creator (whatever their role now, as long as they can see the document), or the owner or an " +
    "ADMIN. Others with EDIT get 403; a reader gets 403 whether or not the link exists (readers cannot list " +
    "links); 404 `link_not_found` for a link that is not the document's. The token answers 404 from then on.",
  request: { params: LinkParams },
  responses: { 204: { description: "Revoked." }, ...problems(401, 403, 404, 422, 503) },
});

export const getPublicLink = createRoute({
  operationId: "getPublicLink",
  security: [],
  method: "get",
  path: "/api/v1/links/{token}",
  tags,
  summary: "What a share link offers",
  description: `${PUBLIC} Uses no download and needs no password (\`has_password\` says whether a download will). ${LINK_GONE}`,
  request: { params: TokenParam },
  responses: {
    200: { description: "The link's document.", content: { "application/json": { schema: PublicLinkSchema } } },
    ...problemsOf({
      404: ["link_not_found"],
      410: ["link_expired", "link_exhausted"],
      429: ["rate_limited"],
      503: ["database_unavailable"],
    }),
  },
});

const DOWNLOAD_RULES =
  "Counts one download, only when a URL is handed out: the object is checked in storage first (a missing object " +
  "or a storage failure is 503 and uses no download), the URL is signed next, and the download is counted last, " +
  "in the one statement that checks `max_downloads`, so of N+k simultaneous downloads of a link with N left " +
  "exactly N get a URL and the rest 410 `link_exhausted`. Each counted download writes a `link.downloaded` " +
  "activity row (`actor_id` null, the client address recorded).";

export const downloadByLink = createRoute({
  operationId: "downloadByLink",
  security: [],
  method: "post",
  path: "/api/v1/links/{token}/download",
  tags,
  summary: "Download through a share link",
  description:
    `${PUBLIC} ${DOWNLOAD_RULES} A link with a password needs it in the body: missing, 401 ` +
    "`link_password_required`; wrong, 401 `link_password_wrong`. These 401s carry `WWW-Authenticate: LinkPassword " +
    'realm="docvault share link"`, not a Bearer challenge (no token helps). Wrong passwords are throttled like ' +
    "logins, counted before any hashing: per link LOGIN_MAX_FAILURES_PER_ACCOUNT (default 5) and per client " +
    "address LOGIN_MAX_FAILURES_PER_ADDRESS (default 50, the same counter as logins) in LOGIN_FAILURE_WINDOW_SECONDS " +
    "(default 900); past either, 429 `link_password_throttled` with Retry-After, without checking the password. " +
    "Attempts are counted before hashing, so at most the per-link limit are checked at once; an attempt past it " +
    "while others are still being checked waits for one to end (up to 10 s) rather than answering 429, since a right " +
    "password takes its attempt back when it finishes: of a burst of right passwords, each gets its answer, and of " +
    "N+k at once for a link with N downloads left exactly N get a URL. 429 means the limit is full of wrong ones " +
    `(or the checks did not end in time). ${LINK_GONE} The dead-link answers come before any password check.`,
  request: {
    params: TokenParam,
    body: { required: false, content: { "application/json": { schema: LinkDownloadBody } } },
  },
  responses: {
    200: { description: "Where to download.", content: { "application/json": { schema: LinkDownloadSchema } } },
    ...problemsOf({
      400: ["malformed_body"],
      401: ["link_password_required", "link_password_wrong"],
      404: ["link_not_found"],
      410: ["link_expired", "link_exhausted"],
      413: ["body_too_large"],
      415: ["unsupported_media_type"],
      422: ["validation_failed"],
      429: ["link_password_throttled", "rate_limited"],
      503: ["database_unavailable", "storage_unavailable"],
    }),
  },
});

export const redirectByLink = createRoute({
  operationId: "redirectByLink",
  security: [],
  method: "get",
  path: "/api/v1/links/{token}/download",
  tags,
  summary: "Download through a share link (redirect)",
  description:
    `${PUBLIC} For links without a password (a browser can follow it): 302 to the presigned GET (valid 60 s). ` +
    `${DOWNLOAD_RULES} A link with a password is 401 \`link_password_required\` (use POST). ${LINK_GONE} ` +
    "A `HEAD` request makes the same checks but uses no download and gets no URL: 204 for a link that would " +
    "redirect (so link previews and prefetchers do not spend downloads).",
  request: { params: TokenParam },
  responses: {
    302: {
      description: "To the presigned GET.",
      headers: { Location: { schema: { type: "string" }, description: "The presigned URL (valid 60 s)." } },
    },
    ...problemsOf({
      401: ["link_password_required"],
      404: ["link_not_found"],
      410: ["link_expired", "link_exhausted"],
      429: ["rate_limited"],
      503: ["database_unavailable", "storage_unavailable"],
    }),
  },
});
