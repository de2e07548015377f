import type { AppRouteHandler } from "../../app-env";
import { purgeNow } from "../../documents/purge";
import { listTrash as listTrashRows, restoreDocument as restoreDocumentRow } from "../../documents/trash.store";
import { actorOf } from "../../lib/actor";
import { countedPage } from "../../lib/pagination";
import { etagOf } from "../documents/etag";
import { indexContentLater } from "../documents/index-content";
import type { listTrash, purgeDocument, restoreDocument } from "./trash.routes";

export const listTrashHandler: AppRouteHandler<typeof listTrash> = async (c) => {
  const { page, limit } = c.req.valid("query");
  const trash = await listTrashRows(
    c.get("db"),
    c.get("userId"),
    { page, limit },
    c.get("config").TRASH_RETENTION_DAYS,
  );
  return c.json(countedPage(trash, { page, limit }), 200);
};

export const restoreDocumentHandler: AppRouteHandler<typeof restoreDocument> = async (c) => {
  const { revision, ...document } = await restoreDocumentRow(c.get("db"), {
    id: c.req.valid("param").id,
    actor: actorOf(c),
    quotaBytes: c.get("config").STORAGE_QUOTA_BYTES,
  });
  // The consumer writes nothing for a trashed document, so a version trashed before its text was
  // extracted (or while its message waited for a retry) would stay pending for good: ask again.
  // A message already on its way is harmless, as every message is (consume.ts).
  if (document.content_status === "pending") indexContentLater(c, document.id, document.current_version);
  c.header("ETag", etagOf(revision));
  return c.json(document, 200);
};

export const purgeDocumentHandler: AppRouteHandler<typeof purgeDocument> = async (c) => {
  await purgeNow(c.var, c.req.valid("param").id, actorOf(c));
  return c.body(null, 204);
};
