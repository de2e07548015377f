import { createRoute, type z } from "@hono/zod-openapi";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { pageQuery } from "../../lib/pagination";
import {
  DocumentPageSchema,
  DocumentSchema,
  DownloadQuery,
  DownloadSchema,
  IdParam,
  IfMatchHeader,
  ListQuery,
  multipartDocument,
  multipartVersion,
  UpdateDocumentBody,
  VersionPageSchema,
  VersionSchema,
} from "./documents.schemas";

const tags = ["Documents"];
const security = AUTHENTICATED;
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const etag = {
  ETag: {
    schema: { type: "string" as const },
    description:
      "Strong validator for If-Match: the document's revision, changed by every edit, new version, delete and restore. " +
      "`content_status` (and `highlight`, `my_role`) are not part of it: background indexing does not invalidate an " +
      "If-Match a client is about to send after an upload. Conditional GETs (If-None-Match) are not answered with 304.",
  },
};

export const createDocument = createRoute({
  operationId: "createDocument",
  method: "post",
  path: "/api/v1/documents",
  tags,
  security,
  summary: "Upload a document (version 1)",
  description:
    "Multipart upload, streamed to storage as it arrives, in bounded memory whatever its size. Send the " +
    "text fields before the `file` part (this page's form does; with curl, put the `-F` fields first): " +
    "they are then checked (422) before any byte of the file is stored. Fields after the file are read " +
    "too, and the file is kept only once they pass. The size limit (MAX_UPLOAD_BYTES, default 50 MiB) " +
    "is enforced on the bytes received, as they arrive (413). Only the documented fields are read; " +
    "more than 100 parts, or a field other than the file over " +
    "64 KiB, is 413 as soon as it arrives. The type is detected from the file's bytes and must be on the " +
    "allow-list (415): PDF, images, Office and OpenDocument formats, RTF, and UTF-8 text (plain, Markdown, " +
    "CSV, JSON); executables are refused whatever their name, and so are HTML, SVG and XML, and Office " +
    "documents with macros, unless the allow-list names their types. The file name is cleaned (no path, " +
    "control or bidi characters, at most 255 characters) and used only for display and downloads; when its " +
    "extension is not one of the detected type's, that type's extension is appended (`run.bat` holding text " +
    "is stored as `run.bat.txt`). The file counts against the caller's storage quota (STORAGE_QUOTA_BYTES, " +
    "default 10 GiB: every version of every document a user owns, deleted ones too until purged; " +
    "`GET /auth/me` shows the usage): 507 `quota_exceeded` when it does not fit, and nothing is stored.",
  request: { body: { required: true, content: { "multipart/form-data": { schema: multipartDocument } } } },
  responses: {
    201: { ...json(DocumentSchema, "The new document."), headers: etag },
    ...problems(400, 401, 413, 415, 422, 503, 507),
  },
});

export const getDocument = createRoute({
  operationId: "getDocument",
  method: "get",
  path: "/api/v1/documents/{id}",
  tags,
  security,
  summary: "A document's metadata",
  request: { params: IdParam },
  responses: {
    200: { ...json(DocumentSchema, "The document."), headers: etag },
    ...problems(401, 404, 422, 503),
  },
});

export const updateDocument = createRoute({
  operationId: "updateDocument",
  method: "put",
  path: "/api/v1/documents/{id}",
  tags,
  security,
  summary: "Update title, description or tags",
  description:
    "Partial: only the fields sent change; `tags` replaces the set; `description: null` clears it. Needs EDIT. " +
    "A body with none of the three (empty, or only fields the API ignores) changes nothing: the same checks " +
    "(role, If-Match), the document as it is, the same ETag, no activity. " +
    "With `If-Match`, the update only happens if the document's ETag still matches (412 otherwise).",
  request: {
    params: IdParam,
    headers: IfMatchHeader,
    body: { required: true, content: { "application/json": { schema: UpdateDocumentBody } } },
  },
  responses: {
    200: { ...json(DocumentSchema, "The updated document."), headers: etag },
    ...problems(400, 401, 403, 404, 412, 413, 415, 422, 503),
  },
});

export const deleteDocument = createRoute({
  operationId: "deleteDocument",
  method: "delete",
  path: "/api/v1/documents/{id}",
  tags,
  security,
  summary: "Soft-delete a document",
  description:
    "Needs the owner or ADMIN. Moves the document to the trash: it then answers 404 on every other route and " +
    "leaves every list, while its rows, versions, tags, permissions and stored bytes are kept (and still count " +
    "against the owner's storage quota). The owner and ADMINs see it in `GET /api/v1/trash` and may restore it " +
    "until the scheduled job purges it, `TRASH_RETENTION_DAYS` (default 30) after this deletion.",
  request: { params: IdParam },
  responses: { 204: { description: "Deleted." }, ...problems(401, 403, 404, 422, 503) },
});

export const downloadDocument = createRoute({
  operationId: "downloadDocument",
  method: "get",
  path: "/api/v1/documents/{id}/download",
  tags,
  security,
  summary: "A short-lived download URL",
  description:
    "A presigned GET on the object store for the current version (or `version`), valid " +
    "DOWNLOAD_URL_TTL_SECONDS (default 15 minutes). It answers exactly the uploaded bytes with " +
    "`Content-Disposition: attachment` and the original file name (RFC 6266). The bytes never pass " +
    "through the API. A GET is recorded in the activity log (`document.downloaded`); a HEAD makes the same checks and records nothing.",
  request: { params: IdParam, query: DownloadQuery },
  responses: { 200: json(DownloadSchema, "Where to download."), ...problems(401, 404, 422, 503) },
});

export const listVersions = createRoute({
  operationId: "listVersions",
  method: "get",
  path: "/api/v1/documents/{id}/versions",
  tags,
  security,
  summary: "Version history, newest first",
  description: "Any role may read it. Paginated: `page` from 1, `limit` 1–100 (default 100), with `total`.",
  request: { params: IdParam, query: pageQuery(100) },
  responses: { 200: json(VersionPageSchema, "One page of versions."), ...problems(401, 404, 422, 503) },
});

export const uploadVersion = createRoute({
  operationId: "uploadVersion",
  method: "post",
  path: "/api/v1/documents/{id}/upload-version",
  tags,
  security,
  summary: "Upload a new version",
  description:
    "Needs EDIT. Same checks and streaming as the first upload (send `comment` before the file). " +
    "Numbers go up by one and never repeat, even under " +
    "concurrent uploads; the document's `current_version` becomes the new number. The file counts against " +
    "the storage quota of the document's owner, whoever uploads it: 507 `quota_exceeded` when it does not " +
    "fit, and nothing is stored.",
  request: {
    params: IdParam,
    body: { required: true, content: { "multipart/form-data": { schema: multipartVersion } } },
  },
  responses: {
    201: json(VersionSchema, "The new version."),
    ...problems(400, 401, 403, 404, 413, 415, 422, 503, 507),
  },
});

export const listDocuments = createRoute({
  operationId: "listDocuments",
  method: "get",
  path: "/api/v1/documents",
  tags,
  security,
  summary: "List, search and filter documents",
  description:
    "Everything the caller can read (owned or shared), never deleted documents. Filters combine with AND. " +
    "`total` counts all matches; a page past the end is empty. Unknown query parameters are ignored.",
  request: { query: ListQuery },
  responses: { 200: json(DocumentPageSchema, "One page."), ...problems(401, 422, 503) },
});
