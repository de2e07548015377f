import type { AppRouteHandler } from "../../app-env";
import { requireRole } from "../../documents/documents.store";
import { presignDownload } from "../../documents/download-url";
import { checkQuota, quotaLimit } from "../../documents/quota";
import { stageUpload } from "../../documents/upload";
import { addVersion, listVersions, versionForDownload } from "../../documents/versions.store";
import { actorOf } from "../../lib/actor";
import { Failure } from "../../lib/failure";
import { parseOr422, validationError } from "../../lib/validation";
import { discardAfterFailedWrite, discardObject } from "./discard-object";
import type { downloadDocument, listVersions as listVersionsRoute, uploadVersion } from "./documents.routes";
import { Comment } from "./documents.schemas";
import { indexContentLater } from "./index-content";
import { readMultipart } from "./multipart";

export const listVersionsHandler: AppRouteHandler<typeof listVersionsRoute> = async (c) => {
  const query = c.req.valid("query");
  const { items, total } = await listVersions(c.get("db"), c.req.valid("param").id, c.get("userId"), query);
  return c.json({ items, total, page: query.page, limit: query.limit }, 200);
};

export const uploadVersionHandler: AppRouteHandler<typeof uploadVersion> = async (c) => {
  const { config, db, storage } = c.var;
  const { id } = c.req.valid("param");
  // Round trip 1: refuse before reading or storing any bytes; it also reads the owner's usage.
  const { ownerUsedBytes } = await requireRole(
    db,
    id,
    c.get("userId"),
    "EDIT",
    "Uploading a version needs the EDIT role.",
  );

  const quota = config.STORAGE_QUOTA_BYTES;
  const commentOf = (fields: ReadonlyMap<string, string[]>) =>
    parseOr422(Comment.optional(), fields.get("comment")?.[0] || undefined, "body.comment");
  const { file: staged, fields } = await readMultipart(c.req.raw, {
    maxFileBytes: config.MAX_UPLOAD_BYTES,
    fields: ["comment"],
    onFile: async (file, before) => {
      // A comment sent before the file is checked before any of it is stored.
      commentOf(before);
      // The owner's quota as bytes arrive; the version's statement makes the exact check.
      return stageUpload(config, storage, id, file, { limit: quotaLimit(quota, ownerUsedBytes) });
    },
    discard: (staged) => staged.abort(),
  });
  if (!staged) throw validationError([{ path: "body.file", message: "A file is required" }]);
  let comment: string | undefined;
  try {
    // A comment may also follow the file: nothing is stored under the version's key until it passes.
    comment = commentOf(fields);
    checkQuota(quota, ownerUsedBytes, staged.sizeBytes);
  } catch (error) {
    await staged.abort().catch(() => {});
    throw error;
  }
  const stored = await staged.commit();
  try {
    // Round trip 2: number, row and activity in one statement under the document's row lock.
    const version = await addVersion(db, {
      id,
      file: stored,
      comment: comment ?? null,
      actor: actorOf(c),
      quotaBytes: quota,
    });
    const { revision: _, ...body } = version;
    indexContentLater(c, id, body.version_number);
    return c.json(body, 201);
  } catch (error) {
    // A Failure is the statement's answer: it wrote nothing, so nothing refers to the bytes.
    // Otherwise only a statement PostgreSQL refused certainly wrote nothing (see discardAfterFailedWrite).
    if (error instanceof Failure) discardObject(c, stored.storageKey);
    else discardAfterFailedWrite(c, stored.storageKey, error);
    throw error;
  }
};

export const downloadHandler: AppRouteHandler<typeof downloadDocument> = async (c) => {
  const { id } = c.req.valid("param");
  const { version: versionNumber } = c.req.valid("query");
  const version = await versionForDownload(c.get("db"), {
    id,
    versionNumber: versionNumber ?? null,
    actor: actorOf(c),
    // Hono serves HEAD with this GET route: a HEAD is safe (RFC 9110), so it records no download
    // (no activity row, no change in the feed, no webhook).
    record: c.req.raw.method !== "HEAD",
  });
  const { url, expiresAt } = await presignDownload(
    c.get("storage"),
    { storageKey: version.storage_key, fileName: version.file_name, contentType: version.content_type },
    c.get("config").DOWNLOAD_URL_TTL_SECONDS,
  );
  return c.json(
    {
      url,
      expires_at: expiresAt,
      version_number: version.version_number,
      file_name: version.file_name,
      content_type: version.content_type,
      size_bytes: version.size_bytes,
    },
    200,
  );
};
