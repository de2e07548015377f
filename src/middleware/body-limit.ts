import { bodyLimit } from "hono/body-limit";
import { problemResponse } from "../lib/problem";

/** JSON and form bodies of non-upload endpoints: 64 KiB is far above any valid request. */
export const JSON_BODY_LIMIT_BYTES = 64 * 1024;

export const jsonBodyLimit = bodyLimit({
  maxSize: JSON_BODY_LIMIT_BYTES,
  onError: (c) => problemResponse(c, "body_too_large", `The request body exceeds ${JSON_BODY_LIMIT_BYTES} bytes.`),
});
