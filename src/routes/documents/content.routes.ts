import { createRoute, z } from "@hono/zod-openapi";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { IdParam } from "./documents.schemas";

export const getContent = createRoute({
  operationId: "getDocumentContent",
  method: "get",
  path: "/api/v1/documents/{id}/content",
  tags: ["Documents"],
  security: AUTHENTICATED,
  summary: "The indexed text of the current version",
  description:
    "Any role may read it. The text extracted in the background from the current version (plain text, " +
    "Markdown, CSV, JSON, HTML without scripts and styles, PDF, DOCX, XLSX, PPTX, ODT, ODS, ODP), as " +
    "`text/plain; charset=utf-8`: at most CONTENT_MAX_CHARS characters (default 1,000,000; the rest is " +
    "neither stored nor searched), the first 500 pages of a PDF. Paragraphs, rows and slides are separated " +
    "by line breaks; other layout is not kept. `404 content_not_indexed` while the document's " +
    "`content_status` is not `indexed`: `pending` (just uploaded, or a new version: the previous version's " +
    "text is no longer served), `unsupported` (images, legacy Office, RTF, ZIP) or `failed` (an encrypted " +
    "or damaged file, a zip bomb, a PDF over 25 MiB).",
  request: { params: IdParam },
  responses: {
    200: {
      description: "The text.",
      content: { "text/plain; charset=utf-8": { schema: z.string() } },
    },
    ...problems(401, 404, 422, 503),
  },
});
