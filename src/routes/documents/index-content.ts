// The content queue's producer: once a version has committed (an upload, a new version, a direct
// upload's complete), its text is asked for in the background (src/content/consume.ts). Sent with
// waitUntil after the response is decided, so the upload's latency does not include it; a send
// that fails is logged, and the version stays `pending` until `npm run content:reindex` asks again.
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import type { ContentMessage } from "../../content/consume";
import { describeError } from "../../lib/logger";
import { backgroundOf } from "./discard-object";

export function indexContentLater(c: Context<AppEnv>, documentId: string, versionNumber: number): void {
  const message: ContentMessage = { document_id: documentId, version_number: versionNumber };
  const logger = c.get("logger");
  // Bound in wrangler.toml; a runtime without it (the bench's generated workerd config) indexes nothing.
  const queue = c.env.CONTENT_QUEUE as Queue | undefined;
  if (!queue) {
    logger.warn("no content queue bound: the text of this version is not extracted", { document_id: documentId });
    return;
  }
  backgroundOf(c)(
    queue.send(message, { contentType: "json" }).catch((error: unknown) => {
      logger.error("content message not sent", { document_id: documentId, ...describeError(error) });
    }),
  );
}
