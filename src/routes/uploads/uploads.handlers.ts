import type { AppRouteHandler } from "../../app-env";
import { completeDirectUpload, startDirectUpload } from "../../documents/direct-uploads";
import { actorOf } from "../../lib/actor";
import { discardingOf } from "../documents/discard-object";
import { etagOf } from "../documents/etag";
import { tagsFromInput } from "../documents/tags-input";
import type { completeUpload, startUpload } from "./uploads.routes";

export const startUploadHandler: AppRouteHandler<typeof startUpload> = async (c) => {
  const body = c.req.valid("json");
  const ticket = await startDirectUpload(c.var, c.get("userId"), {
    fileName: body.file_name,
    contentType: body.content_type,
    sizeBytes: body.size_bytes,
    sha256: body.sha256,
    documentId: body.document_id,
  });
  return c.json(
    {
      upload_id: ticket.uploadId,
      url: ticket.url,
      method: "PUT" as const,
      headers: ticket.headers,
      expires_at: ticket.expiresAt.toISOString(),
    },
    201,
  );
};

export const completeUploadHandler: AppRouteHandler<typeof completeUpload> = async (c) => {
  const { upload_id } = c.req.valid("param");
  const body = c.req.valid("json");
  const tags = tagsFromInput(body.tags, "body.tags");
  const completed = await completeDirectUpload(
    { ...discardingOf(c), config: c.get("config"), db: c.get("db") },
    {
      uploadId: upload_id,
      actor: actorOf(c),
      title: body.title,
      description: body.description,
      tags,
      comment: body.comment,
    },
  );
  if ("version" in completed) {
    const { revision: _, ...version } = completed.version;
    return c.json(version, 201);
  }
  const { revision, ...document } = completed.document;
  c.header("ETag", etagOf(revision));
  return c.json(document, 201);
};
