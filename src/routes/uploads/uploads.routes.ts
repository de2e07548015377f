import { createRoute, z } from "@hono/zod-openapi";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { Comment, Description, DocumentSchema, Title, VersionSchema } from "../documents/documents.schemas";

export const NewUploadBody = z
  .object({
    file_name: z.string().min(1).max(1000).openapi({ example: "scan.pdf" }),
    content_type: z.string().min(1).max(200).openapi({ example: "application/pdf" }),
    size_bytes: z.number().int().min(0).openapi({ example: 734003200 }),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hexadecimal characters")
      .optional()
      .openapi({
        description: "Hex SHA-256 of the file; when given, `complete` verifies the stored bytes against it.",
      }),
    document_id: z.guid().optional().openapi({ description: "Upload a new version of this document (needs EDIT)." }),
    multipart: z
      .boolean()
      .optional()
      .openapi({
        description:
          "Resumable upload: the file is sent in parts, each to a presigned URL of its own " +
          "(`POST /uploads/{upload_id}/parts`), and `complete` lists the parts' ETags. Default false: one PUT.",
      }),
  })
  .openapi("NewUpload");

export const UploadTicketSchema = z
  .object({
    upload_id: z.guid(),
    url: z.url(),
    method: z.literal("PUT"),
    headers: z.record(z.string(), z.string()).openapi({
      description:
        "Headers to send with the PUT exactly as given (they are signed): `Content-Type`, `If-None-Match: *`, and " +
        "`x-amz-checksum-sha256` (base64 of the declared digest) when `sha256` was given.",
      example: {
        "Content-Type": "application/pdf",
        "If-None-Match": "*",
        "x-amz-checksum-sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
      },
    }),
    expires_at: z.iso.datetime(),
  })
  .openapi("UploadTicket");

export const MultipartUploadTicketSchema = z
  .object({
    upload_id: z.guid(),
    method: z.literal("MULTIPART"),
    part_size: z
      .number()
      .int()
      .openapi({
        description:
          "Bytes of every part but the last (the last has the rest). Chosen as the smallest whole number of MiB, " +
          "at least 5 MiB (S3's and R2's minimum part), that splits the file into at most 10,000 parts (their " +
          "maximum): 5 MiB up to 50,000 MiB, larger beyond.",
        example: 5242880,
      }),
    parts_count: z.number().int().openapi({ description: "Parts numbered 1 to `parts_count`.", example: 140 }),
    expires_at: z.iso.datetime().openapi({
      description:
        "The upload's deadline (MULTIPART_UPLOAD_TTL_SECONDS after the start, default 24 h): parts and " +
        "`complete` are refused after it, and the scheduled job then removes its parts.",
    }),
  })
  .openapi("MultipartUploadTicket");

export const PartUrlsBody = z
  .object({
    part_numbers: z
      .array(z.number().int())
      .min(1)
      .max(100)
      .openapi({
        description:
          "Numbers of the parts to sign, 1 to `parts_count`, each once, at most 100 a call " +
          "(422 `part_number_out_of_range`, `duplicate_part_number`).",
        example: [1, 2, 3],
      }),
  })
  .openapi("PartUrlsRequest");

export const PartUrlsSchema = z
  .object({
    parts: z.array(
      z
        .object({
          part_number: z.number().int(),
          url: z.url(),
          method: z.literal("PUT"),
          headers: z.record(z.string(), z.string()).openapi({
            description:
              "Headers to add to the PUT: none. The part's exact Content-Length is signed into the URL (every " +
              "HTTP client sends it from the body), so storage refuses a part of another size (403).",
            example: {},
          }),
          expires_at: z.iso.datetime().openapi({
            description: "UPLOAD_URL_TTL_SECONDS from now (default 15 min), never after the upload's deadline.",
          }),
        })
        .openapi("PartUrl"),
    ),
  })
  .openapi("PartUrls");

export const UploadStatusSchema = z
  .object({
    upload_id: z.guid(),
    status: z.enum(["pending", "completed", "aborted", "expired"]).openapi({
      description:
        "`pending` until completed or its deadline passes; `completed` once it became a document or version; " +
        "`aborted` after DELETE, or when `complete` refused its bytes (size, type, SHA-256: they were deleted); " +
        "`expired` once past its deadline without being completed.",
    }),
    file_name: z.string(),
    size_bytes: z.number().int(),
    multipart: z.boolean(),
    part_size: z.number().int().nullable().openapi({ description: "Multipart uploads only (null otherwise)." }),
    parts_count: z.number().int().nullable().openapi({ description: "Multipart uploads only (null otherwise)." }),
    expires_at: z.iso.datetime(),
    created_at: z.iso.datetime(),
  })
  .openapi("UploadStatus");

export const CompleteUploadBody = z
  .object({
    parts: z
      .array(
        z.object({
          part_number: z.number().int(),
          etag: z.string().min(1).max(200).openapi({ description: "The ETag header the part's PUT answered." }),
        }),
      )
      .max(10_000)
      .optional()
      .openapi({
        description:
          "Multipart uploads only, where it is required: every part 1 to `parts_count` exactly once, with the " +
          "ETag of its last PUT.",
      }),
    title: Title.optional(),
    description: Description.optional(),
    tags: z.union([z.array(z.string().max(200)).max(200), z.string().max(20_000)]).optional(),
    comment: Comment.optional(),
  })
  .openapi("CompleteUpload");

const UploadIdParam = z.object({ upload_id: z.guid().openapi({ param: { name: "upload_id", in: "path" } }) });

export const startUpload = createRoute({
  operationId: "startUpload",
  method: "post",
  path: "/api/v1/uploads",
  tags: ["Direct uploads"],
  security: AUTHENTICATED,
  summary: "Start a direct upload to storage (large files)",
  description:
    "Answers a presigned PUT for exactly `size_bytes` bytes to a staging object of this upload, valid " +
    "UPLOAD_URL_TTL_SECONDS (default 15 minutes). Content-Length, Content-Type and `If-None-Match: *` are signed, " +
    "and so is `x-amz-checksum-sha256` when `sha256` is declared, so S3 and R2 refuse a second write and bytes " +
    "with another digest. Send the bytes to `url` with `method` and `headers` (do not add a Content-Encoding: " +
    "`complete` refuses an encoded object), then call `complete`. The URL writes once: a second PUT to it is " +
    "refused by storage (412 PreconditionFailed; if a PUT's answer was lost, call `complete`). Once the upload " +
    "ends (`complete`, DELETE, a refused `complete`) its staging object is replaced by an empty marker until the " +
    "URL expires, so a replayed PUT stores nothing, and the URL never names the version's own object, so it " +
    "cannot change what downloads serve. 413 above MAX_DIRECT_UPLOAD_BYTES " +
    "(default 5 GiB), and without `multipart` above 5 GiB whatever that limit (one PUT holds no more on S3 or R2); 415 when `content_type` is not on the allow-list. With `document_id`, the upload becomes " +
    "a new version (needs EDIT). `size_bytes` must fit the storage quota of the future owner (the caller, " +
    "or the document's owner for a version): 507 `quota_exceeded` otherwise.\n\n" +
    'With `multipart: true` the upload is resumable: the answer is `{upload_id, method: "MULTIPART", part_size, ' +
    "parts_count, expires_at}` and an S3 multipart upload is opened on the staging object. Ask for part URLs with " +
    "`POST /uploads/{upload_id}/parts`, PUT the parts in any order (again when one fails: the last PUT of a part " +
    "counts), then `complete` with every part's ETag. Same size cap, type allow-list and quota checks as above.",
  request: { body: { required: true, content: { "application/json": { schema: NewUploadBody } } } },
  responses: {
    201: {
      description: "Where to PUT the bytes (one presigned PUT), or the part layout of a `multipart` upload.",
      content: { "application/json": { schema: z.union([UploadTicketSchema, MultipartUploadTicketSchema]) } },
    },
    ...problems(400, 401, 403, 404, 413, 415, 422, 503, 507),
  },
});

export const completeUpload = createRoute({
  operationId: "completeUpload",
  method: "post",
  path: "/api/v1/uploads/{upload_id}/complete",
  tags: ["Direct uploads"],
  security: AUTHENTICATED,
  summary: "Finish a direct upload",
  description:
    "Checks the staged object: its size and that it has no Content-Encoding (HEAD), its type from its first " +
    "bytes (a ranged GET). Then copies it server-side to the version's own object, with metadata set by the " +
    "service (no client-set Content-Encoding or Cache-Control survives), and reads the copy back: its size, " +
    "first bytes and SHA-256 (which must equal `sha256` when one was declared) are what is recorded and served. " +
    "Nothing uploaded yet is 422 and the upload stays open; a mismatch or an encoded object deletes the object " +
    "(the upload ends `aborted`) and answers 422 (415 for a type that is not allowed). Then creates the document " +
    "(201 Document; `title`, `description`, `tags`) or the new version (201 Version; `comment`); the fields of " +
    "the other kind are ignored, as unknown fields are (a new document's version 1 has no comment; a version " +
    "leaves the document's title, description and tags as they are: change them with PUT). A second " +
    "`complete` is 409, also when two run at once; so is an expired upload, and an object that changed while " +
    "it was checked. Only the user who started the upload can complete it (404 for anyone else). A new " +
    "version needs EDIT at `complete` too: a holder demoted since the start is 403 `role_too_low`, one whose " +
    "access was removed 404 `document_not_found`, checked before anything is assembled or copied; the upload " +
    "stays pending. An empty file (`size_bytes` 0) completes like any other. The owner's " +
    "storage quota is checked again before the copy and, exactly, by the statement recording the version: " +
    "when the file no longer fits (other uploads took the room since the start), the object is deleted, the upload " +
    "ends `aborted`, and the answer is 507 `quota_exceeded`.\n\n" +
    "A multipart upload is completed with `parts`, every part 1..`parts_count` once with the ETag its last PUT " +
    "answered. The list is checked against storage (ListParts) before anything changes: 422 `parts_required`, " +
    "`parts_missing`, `part_number_out_of_range`, `duplicate_part_number`, `part_not_uploaded`, " +
    "`part_size_mismatch`, `part_etag_mismatch`, and the upload stays pending and resumable. Then storage " +
    "assembles the parts into the staging object (CompleteMultipartUpload), and the checks above apply to it " +
    "unchanged; a refused object is deleted and the upload ends `aborted`. `parts` on a single-PUT upload is " +
    "409 `upload_not_multipart`; after DELETE, 409 `upload_aborted`. A mismatch at `complete` of a single-PUT " +
    "upload ends it `aborted` as well (its record stays, for `GET /uploads/{upload_id}`). The body may have up " +
    "to 1 MiB here (10,000 parts with their ETags); 413 `body_too_large` above.",
  request: {
    params: UploadIdParam,
    body: { required: false, content: { "application/json": { schema: CompleteUploadBody } } },
  },
  responses: {
    201: {
      description: "The new document, or the new version when the upload named a document.",
      content: { "application/json": { schema: z.union([DocumentSchema, VersionSchema]) } },
    },
    ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503, 507),
  },
});

export const requestPartUrls = createRoute({
  operationId: "requestUploadPartUrls",
  method: "post",
  path: "/api/v1/uploads/{upload_id}/parts",
  tags: ["Direct uploads"],
  security: AUTHENTICATED,
  summary: "Presigned URLs for parts of a multipart upload",
  description:
    "Signs one PUT URL per part asked for. Each URL names the upload's S3 multipart upload and the part number " +
    "and signs the part's exact Content-Length (`part_size`, or the remainder for the last part), so storage " +
    "refuses a part of another size. A URL lives UPLOAD_URL_TTL_SECONDS (default 15 min) and never past the " +
    "upload's deadline; ask again for a part whose URL expired or whose PUT failed: parts may be sent in any " +
    "order and again. Keep the ETag header each PUT answers, for `complete`. 422 `part_number_out_of_range` " +
    "(outside 1..`parts_count`), `duplicate_part_number`, `validation_failed` (none, or more than 100). 409 " +
    "`upload_not_multipart` for a single-PUT upload, `upload_aborted`, `upload_expired`, " +
    "`upload_already_completed`. Only the user who started the upload (404 for anyone else). An upload of a new " +
    "version needs EDIT on its document for every batch, as at the start and at `complete`: 403 `role_too_low` " +
    "once demoted, 404 `document_not_found` once the access or the document is gone.",
  request: {
    params: UploadIdParam,
    body: { required: true, content: { "application/json": { schema: PartUrlsBody } } },
  },
  responses: {
    200: { description: "One URL per part asked for.", content: { "application/json": { schema: PartUrlsSchema } } },
    ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

export const getUpload = createRoute({
  operationId: "getUpload",
  method: "get",
  path: "/api/v1/uploads/{upload_id}",
  tags: ["Direct uploads"],
  security: AUTHENTICATED,
  summary: "What became of a direct upload",
  description:
    "The upload's status, single or multipart. Only the user who started it sees it (404 for anyone else). " +
    "Records of uploads that were aborted or expired are kept 7 days past their deadline, then removed by the " +
    "scheduled job (404 afterwards); completed ones are kept.",
  request: { params: UploadIdParam },
  responses: {
    200: { description: "The upload.", content: { "application/json": { schema: UploadStatusSchema } } },
    ...problems(401, 404, 422, 503),
  },
});

export const abortUpload = createRoute({
  operationId: "abortUpload",
  method: "delete",
  path: "/api/v1/uploads/{upload_id}",
  tags: ["Direct uploads"],
  security: AUTHENTICATED,
  summary: "Abandon a direct upload",
  description:
    "Marks the upload aborted, then aborts its S3 multipart upload (its parts are removed) or replaces its " +
    "staged object with an empty marker (the bytes are gone, and a replay of the presigned PUT is refused " +
    "until the URL expires); parts or `complete` afterwards are 409 `upload_aborted`. Works for single and multipart uploads, " +
    "also past the deadline (the status then stays `expired`). Idempotent: a second DELETE, or a DELETE of an upload that expired or was refused " +
    "at `complete`, is 204 again (it removes anything left) and keeps the status. A completed upload cannot be " +
    "abandoned: 409 `upload_already_completed` (delete the document or version instead). Only the user who " +
    "started the upload (404 for anyone else).",
  request: { params: UploadIdParam },
  responses: {
    204: { description: "Abandoned; no bytes of it are left in storage." },
    ...problems(401, 404, 409, 422, 503),
  },
});
