import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import { requireAuth } from "../../middleware/require-auth";
import { completeUploadHandler, startUploadHandler } from "./uploads.handlers";
import { completeUpload, startUpload } from "./uploads.routes";

const router = createRouter();
router.use("/api/v1/uploads", requireAuth, jsonBodyLimit);
router.use("/api/v1/uploads/*", requireAuth, jsonBodyLimit);

export const uploadsRouter = router
  .openapi(startUpload, startUploadHandler)
  .openapi(completeUpload, completeUploadHandler);
