import type { AppRouteHandler } from "../../app-env";
import { requireRole } from "../../documents/documents.store";
import { contentDisposition } from "../../documents/file-names";
import { checkQuota } from "../../documents/quota";
import { storeUpload } from "../../documents/upload";
import { addVersion, listVersions, versionForDownload } from "../../documents/versions.store";
import { actorOf } from "../../lib/actor";
import { Failure } from "../../lib/failure";
import { parseOr422, validationError } from "../../lib/validation";
import { discardAfterFailedWrite, discardObject } from "./discard-object";
import type { downloadDocument, listVersions as listVersionsRoute, uploadVersion } from "./documents.routes";
import { Comment } from "./documents.schemas";
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

  const { file, fields } = await readMultipart(c.req.raw, {
    maxFileBytes: config.MAX_UPLOAD_BYTES,
    fields: ["comment"],
  });
  if (!file) throw validationError([{ path: "body.file", message: "A file is required" }]);
  const comment = parseOr422(Comment.optional(), fields.get("comment")?.[0] || undefined, "body.comment");
  // The owner's quota, before any byte is stored; the version's statement makes the exact check.
  checkQuota(config.STORAGE_QUOTA_BYTES, ownerUsedBytes, file.size);
  const stored = await storeUpload(config, storage, id, file);
  try {
    // Round trip 2: number, row and activity in one statement under the document's row lock.
    const version = await addVersion(db, {
      id,
      file: stored,
      comment: comment ?? null,
      actor: actorOf(c),
      quotaBytes: config.STORAGE_QUOTA_BYTES,
    });
    const { revision: _, ...body } = version;
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
  });
  const ttl = c.get("config").DOWNLOAD_URL_TTL_SECONDS;
  const url = await c.get("storage").presign("GET", version.storage_key, {
    expiresInSeconds: ttl,
    query: {
      "response-content-disposition": contentDisposition(version.file_name),
      "response-content-type": version.content_type,
    },
  });
  return c.json(
    {
      url,
      expires_at: new Date(Date.now() + ttl * 1000).toISOString(),
      version_number: version.version_number,
      file_name: version.file_name,
      content_type: version.content_type,
      size_bytes: version.size_bytes,
    },
    200,
  );
};
