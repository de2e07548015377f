import type { AppRouteHandler } from "../../app-env";
import { abortUpload, completeDirectUpload, startDirectUpload, uploadStatus } from "../../documents/direct-uploads";
import { signParts } from "../../documents/multipart-uploads";
import { actorOf } from "../../lib/actor";
import { discardingOf } from "../documents/discard-object";
import { etagOf } from "../documents/etag";
import { indexContentLater } from "../documents/index-content";
import { tagsFromInput } from "../documents/tags-input";
import type {
  abortUpload as abortUploadRoute,
  completeUpload,
  getUpload,
  requestPartUrls,
  startUpload,
} from "./uploads.routes";

export const startUploadHandler: AppRouteHandler<typeof startUpload> = async (c) => {
  const body = c.req.valid("json");
  const input = {
    fileName: body.file_name,
    contentType: body.content_type,
    sizeBytes: body.size_bytes,
    sha256: body.sha256,
    documentId: body.document_id,
  };
  if (body.multipart) {
    const ticket = await startDirectUpload(c.var, c.get("userId"), { ...input, multipart: true });
    return c.json(
      {
        upload_id: ticket.uploadId,
        method: "MULTIPART" as const,
        part_size: ticket.partSize,
        parts_count: ticket.partsCount,
        expires_at: ticket.expiresAt.toISOString(),
      },
      201,
    );
  }
  const ticket = await startDirectUpload(c.var, c.get("userId"), input);
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
  const tags = tagsFromInput(body.tags, "body.tags", "json");
  const completed = await completeDirectUpload(
    { ...discardingOf(c), config: c.get("config"), db: c.get("db") },
    {
      uploadId: upload_id,
      actor: actorOf(c),
      title: body.title,
      description: body.description,
      tags,
      comment: body.comment,
      parts: body.parts?.map((p) => ({ partNumber: p.part_number, etag: p.etag })),
    },
  );
  if ("version" in completed) {
    const { revision: _, ...version } = completed.version;
    indexContentLater(c, completed.documentId, version.version_number);
    return c.json(version, 201);
  }
  const { revision, ...document } = completed.document;
  indexContentLater(c, document.id, document.current_version);
  c.header("ETag", etagOf(revision));
  return c.json(document, 201);
};

export const requestPartUrlsHandler: AppRouteHandler<typeof requestPartUrls> = async (c) => {
  const { upload_id } = c.req.valid("param");
  const { part_numbers } = c.req.valid("json");
  const parts = await signParts(c.var, c.get("userId"), upload_id, part_numbers);
  return c.json(
    {
      parts: parts.map((p) => ({
        part_number: p.partNumber,
        url: p.url,
        method: "PUT" as const,
        headers: p.headers,
        expires_at: p.expiresAt.toISOString(),
      })),
    },
    200,
  );
};

export const getUploadHandler: AppRouteHandler<typeof getUpload> = async (c) => {
  const { upload_id } = c.req.valid("param");
  const { upload, status } = await uploadStatus(c.get("db"), upload_id, c.get("userId"));
  return c.json(
    {
      upload_id: upload.id,
      status,
      file_name: upload.fileName,
      size_bytes: upload.sizeBytes,
      multipart: upload.partsCount !== null,
      part_size: upload.partSize,
      parts_count: upload.partsCount,
      expires_at: upload.expiresAt.toISOString(),
      created_at: upload.createdAt.toISOString(),
    },
    200,
  );
};

export const abortUploadHandler: AppRouteHandler<typeof abortUploadRoute> = async (c) => {
  const { upload_id } = c.req.valid("param");
  await abortUpload(c.var, upload_id, c.get("userId"));
  return c.body(null, 204);
};
