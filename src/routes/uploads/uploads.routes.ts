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
    document_id: z.uuid().optional().openapi({ description: "Upload a new version of this document (needs EDIT)." }),
  })
  .openapi("NewUpload");

export const UploadTicketSchema = z
  .object({
    upload_id: z.uuid(),
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

export const CompleteUploadBody = z
  .object({
    title: Title.optional(),
    description: Description.optional(),
    tags: z.union([z.array(z.string().max(200)).max(200), z.string().max(20_000)]).optional(),
    comment: Comment.optional(),
  })
  .openapi("CompleteUpload");

const UploadIdParam = z.object({ upload_id: z.uuid().openapi({ param: { name: "upload_id", in: "path" } }) });

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
    "`complete` refuses an encoded object), then call `complete`. The URL never names the version's own object, " +
    "so replaying it after `complete` cannot change what downloads serve. 413 above MAX_DIRECT_UPLOAD_BYTES " +
    "(default 5 GiB); 415 when `content_type` is not on the allow-list. With `document_id`, the upload becomes " +
    "a new version (needs EDIT). `size_bytes` must fit the storage quota of the future owner (the caller, " +
    "or the document's owner for a version): 507 `quota_exceeded` otherwise.",
  request: { body: { required: true, content: { "application/json": { schema: NewUploadBody } } } },
  responses: {
    201: { description: "Where to PUT the bytes.", content: { "application/json": { schema: UploadTicketSchema } } },
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
    "and the upload and answers 422 (415 for a type that is not allowed). Then creates the document " +
    "(201 Document; `title`, `description`, `tags`) or the new version (201 Version; `comment`). A second " +
    "`complete` is 409, also when two run at once; so is an expired upload, and an object that changed while " +
    "it was checked. Only the user who started the upload can complete it (404 for anyone else). The owner's " +
    "storage quota is checked again before the copy and, exactly, by the statement recording the version: " +
    "when the file no longer fits (other uploads took the room since the start), the object and the upload " +
    "are deleted and the answer is 507 `quota_exceeded`.",
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
