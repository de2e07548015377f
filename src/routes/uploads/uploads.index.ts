import { bodyLimit } from "hono/body-limit";
import { problemResponse } from "../../lib/problem";
import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import {
  abortUploadHandler,
  completeUploadHandler,
  getUploadHandler,
  requestPartUrlsHandler,
  startUploadHandler,
} from "./uploads.handlers";
import { abortUpload, completeUpload, getUpload, requestPartUrls, startUpload } from "./uploads.routes";

/** `complete` of a multipart upload lists up to 10,000 parts with their ETags (~60 bytes each). */
const COMPLETE_BODY_LIMIT_BYTES = 1024 * 1024;
const completeBodyLimit = bodyLimit({
  maxSize: COMPLETE_BODY_LIMIT_BYTES,
  onError: (c) => problemResponse(c, "body_too_large", `The request body exceeds ${COMPLETE_BODY_LIMIT_BYTES} bytes.`),
});

const router = createRouter();
router.use("/api/v1/uploads", jsonBodyLimit);
router.use("/api/v1/uploads/:upload_id/complete", completeBodyLimit);
router.use("/api/v1/uploads/:upload_id/parts", jsonBodyLimit);

export const uploadsRouter = router
  .openapi(startUpload, startUploadHandler)
  .openapi(completeUpload, completeUploadHandler)
  .openapi(requestPartUrls, requestPartUrlsHandler)
  .openapi(getUpload, getUploadHandler)
  .openapi(abortUpload, abortUploadHandler);
