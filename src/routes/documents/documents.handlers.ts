import type { AppRouteHandler } from "../../app-env";
import {
  createDocument as createDocumentRow,
  deleteDocument as deleteDocumentRow,
  getDocument as getDocumentRow,
  updateDocument as updateDocumentRow,
} from "../../documents/documents.store";
import { checkQuota, quotaLimit, storageUsage } from "../../documents/quota";
import { stageUpload } from "../../documents/upload";
import { actorOf } from "../../lib/actor";
import { Failure } from "../../lib/failure";
import { parseOr422, validationError } from "../../lib/validation";
import { discardAfterFailedWrite, discardObject } from "./discard-object";
import type { createDocument, deleteDocument, getDocument, updateDocument } from "./documents.routes";
import { Description, Title } from "./documents.schemas";
import { etagOf, revisionsFromIfMatch } from "./etag";
import { indexContentLater } from "./index-content";
import { readMultipart } from "./multipart";
import { tagsFromInput } from "./tags-input";

export const createDocumentHandler: AppRouteHandler<typeof createDocument> = async (c) => {
  const { config, storage, db } = c.var;
  const quota = config.STORAGE_QUOTA_BYTES;
  // The caller's usage for the quota's early check. Nothing reads the database before the bytes
  // are stored here, so this is one primary-key read, only when a quota is set, sent while the
  // body is still arriving: it adds a query, not its latency. (Its rejection is handled where
  // it is awaited; the no-op catch keeps a body that fails first from leaving it unhandled.)
  const usage = quota > 0 ? storageUsage(db, c.get("userId")) : Promise.resolve(0);
  usage.catch(() => {});
  const documentId = crypto.randomUUID();
  const fieldsOf = (fields: ReadonlyMap<string, string[]>) => {
    const first = (name: string) => fields.get(name)?.[0];
    return {
      title: parseOr422(Title.optional(), first("title") || undefined, "body.title"),
      description: parseOr422(Description.optional(), first("description") || undefined, "body.description"),
      tags: tagsFromInput(fields.get("tags"), "body.tags"),
    };
  };
  const { file: staged, fields } = await readMultipart(c.req.raw, {
    maxFileBytes: config.MAX_UPLOAD_BYTES,
    fields: ["title", "description", "tags"],
    onFile: async (file, before) => {
      // Fields sent before the file are checked before any of it is stored.
      fieldsOf(before);
      const used = await usage;
      return stageUpload(config, storage, documentId, file, { limit: quotaLimit(quota, used) });
    },
    discard: (staged) => staged.abort(),
  });
  if (!staged) throw validationError([{ path: "body.file", message: "A file is required" }]);
  let input: ReturnType<typeof fieldsOf>;
  try {
    // Fields may also follow the file: nothing is stored under the document's key until they pass.
    input = fieldsOf(fields);
    checkQuota(quota, await usage, staged.sizeBytes);
  } catch (error) {
    await staged.abort().catch(() => {});
    throw error;
  }
  const { title, description, tags } = input;
  const stored = await staged.commit();
  try {
    const document = await createDocumentRow(db, {
      id: documentId,
      // A cleaned file name (at most 255 characters) always fits the title's 500; slicing it at
      // 500 UTF-16 units cut a name of 251 emoji and ".txt" (255 characters) to 250 emoji.
      title: title ?? stored.fileName,
      description: description ?? null,
      tags,
      file: stored,
      actor: actorOf(c),
      quotaBytes: quota,
    });
    const { revision, ...body } = document;
    indexContentLater(c, documentId, 1);
    c.header("ETag", etagOf(revision));
    c.header("Location", `/api/v1/documents/${documentId}`);
    return c.json(body, 201);
  } catch (error) {
    // A Failure is the statement's answer (the quota refused it): it wrote nothing. Otherwise only
    // a statement PostgreSQL refused certainly wrote nothing; after a deadline the row may still
    // commit, so its bytes stay for the sweeper.
    if (error instanceof Failure) discardObject(c, stored.storageKey);
    else discardAfterFailedWrite(c, stored.storageKey, error);
    throw error;
  }
};

export const getDocumentHandler: AppRouteHandler<typeof getDocument> = async (c) => {
  const document = await getDocumentRow(c.get("db"), c.req.valid("param").id, c.get("userId"));
  const { revision, ...body } = document;
  c.header("ETag", etagOf(revision));
  return c.json(body, 200);
};

export const updateDocumentHandler: AppRouteHandler<typeof updateDocument> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const ifMatch = c.req.valid("header")["if-match"];
  const expected = revisionsFromIfMatch(ifMatch);
  const tags = body.tags === undefined ? undefined : tagsFromInput(body.tags, "body.tags", "json");
  const document = await updateDocumentRow(c.get("db"), {
    id,
    actor: actorOf(c),
    // An If-Match that cannot match any revision fails like a stale one.
    expectedRevisions: expected === "any" ? null : expected,
    title: body.title,
    description: body.description,
    tags,
  });
  const { revision, ...updated } = document;
  c.header("ETag", etagOf(revision));
  return c.json(updated, 200);
};

export const deleteDocumentHandler: AppRouteHandler<typeof deleteDocument> = async (c) => {
  await deleteDocumentRow(c.get("db"), c.req.valid("param").id, actorOf(c));
  return c.body(null, 204);
};
