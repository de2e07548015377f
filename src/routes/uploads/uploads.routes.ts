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
    headers: z.record(z.string(), z.string()).openapi({ example: { "Content-Type": "application/pdf" } }),
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
    "Answers a presigned PUT for exactly `size_bytes` bytes (Content-Length and Content-Type are signed), " +
    "valid UPLOAD_URL_TTL_SECONDS (default 15 minutes). Send the bytes to `url` with `method` and `headers`, " +
    "then call `complete`. 413 above MAX_DIRECT_UPLOAD_BYTES (default 5 GiB); 415 when `content_type` is not " +
    "on the allow-list. With `document_id`, the upload becomes a new version (needs EDIT).",
  request: { body: { required: true, content: { "application/json": { schema: NewUploadBody } } } },
  responses: {
    201: { description: "Where to PUT the bytes.", content: { "application/json": { schema: UploadTicketSchema } } },
    ...problems(400, 401, 403, 404, 413, 415, 422, 503),
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
    "Checks the stored object: its size (HEAD), its type from its first bytes (a ranged GET), and its SHA-256 " +
    "when one was declared. A missing object is 422; a mismatch deletes the object and answers 422 (415 for a " +
    "type that is not allowed). Then creates the document (201 Document; `title`, `description`, `tags`) or the " +
    "new version (201 Version; `comment`). A second `complete` is 409; an expired upload is 409 too. Only the " +
    "user who started the upload can complete it (404 for anyone else).",
  request: {
    params: UploadIdParam,
    body: { required: false, content: { "application/json": { schema: CompleteUploadBody } } },
  },
  responses: {
    201: {
      description: "The new document, or the new version when the upload named a document.",
      content: { "application/json": { schema: z.union([DocumentSchema, VersionSchema]) } },
    },
    ...problems(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});
