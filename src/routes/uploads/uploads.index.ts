import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import { completeUploadHandler, startUploadHandler } from "./uploads.handlers";
import { completeUpload, startUpload } from "./uploads.routes";

const router = createRouter();
router.use("/api/v1/uploads", jsonBodyLimit);
router.use("/api/v1/uploads/*", jsonBodyLimit);

export const uploadsRouter = router
  .openapi(startUpload, startUploadHandler)
  .openapi(completeUpload, completeUploadHandler);
