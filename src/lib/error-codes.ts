// Every failure the API can answer, by its stable `code`: the HTTP status it is answered with and
// what it means. Clients branch on `code` (two failures with one status differ in it); the
// OpenAPI description's table of codes is generated from this one (src/lib/openapi.ts), so the
// documentation cannot drift from what the code throws.

export type ErrorCodeInfo = { status: number; meaning: string };

export const ERROR_CODES = {
  // 400
  malformed_body: { status: 400, meaning: "The body is not valid JSON, form data or multipart." },
  // 401
  token_missing: { status: 401, meaning: "No access token was sent (`Authorization: Bearer …`)." },
  token_invalid: { status: 401, meaning: "The access token is malformed, forged, or not one of ours." },
  token_expired: { status: 401, meaning: "The access token has expired; refresh it." },
  account_inactive: { status: 401, meaning: "The token's account no longer exists or was closed." },
  credentials_invalid: { status: 401, meaning: "Wrong email or password." },
  refresh_token_invalid: { status: 401, meaning: "The refresh token is unknown, expired or revoked." },
  refresh_token_reused: {
    status: 401,
    meaning: "The refresh token was already used: its whole login was revoked (possible theft).",
  },
  session_expired: { status: 401, meaning: "The login is older than the absolute session lifetime; log in again." },
  password_incorrect: {
    status: 401,
    meaning:
      "The password sent to confirm an account operation (closing the account) is wrong; the token itself is fine.",
  },
  link_password_required: {
    status: 401,
    meaning:
      "The share link has a password: send it with `POST /links/{token}/download` (`GET …/download` serves links without one only).",
  },
  link_password_wrong: { status: 401, meaning: "The share link's password is wrong (attempts are throttled)." },
  ticket_missing: { status: 401, meaning: "A live socket needs `?ticket=` from `POST /api/v1/events/ticket`." },
  ticket_invalid: {
    status: 401,
    meaning:
      "The live-events ticket is unknown, already used (tickets are single-use), forged, or its account was closed.",
  },
  ticket_expired: { status: 401, meaning: "The live-events ticket is older than 60 s; get a new one." },
  // 403
  role_too_low: { status: 403, meaning: "The caller's role on the document is too low for this operation." },
  // 404
  route_not_found: { status: 404, meaning: "No such endpoint." },
  document_not_found: { status: 404, meaning: "No such document, or the caller has no access to it." },
  version_not_found: { status: 404, meaning: "The document exists but has no such version." },
  content_not_indexed: {
    status: 404,
    meaning:
      "The document's current version has no indexed text: not extracted yet, or its content_status is unsupported or failed.",
  },
  user_not_found: { status: 404, meaning: "No account with that email or id." },
  permission_not_found: { status: 404, meaning: "That user has no permission on the document." },
  upload_not_found: { status: 404, meaning: "No such direct upload, or it is another user's." },
  link_not_found: {
    status: 404,
    meaning: "No such share link: unknown or malformed token, revoked link, or its document was deleted.",
  },
  webhook_not_found: { status: 404, meaning: "No such webhook, or it is another user's." },
  // 405
  method_not_allowed: {
    status: 405,
    meaning: "The endpoint exists but not with this method; `Allow` lists its methods.",
  },
  // 409
  email_taken: { status: 409, meaning: "An account with this email already exists." },
  permission_exists: { status: 409, meaning: "That user already has a permission; change it with PUT." },
  owner_permission: {
    status: 409,
    meaning: "The owner always has full access: it cannot be granted, changed or removed.",
  },
  upload_already_completed: { status: 409, meaning: "The direct upload was already completed." },
  upload_expired: { status: 409, meaning: "The direct upload expired; start a new one." },
  upload_changed: { status: 409, meaning: "The uploaded object changed while it was being checked." },
  upload_aborted: { status: 409, meaning: "The direct upload was abandoned (DELETE) or refused at `complete`." },
  upload_not_multipart: {
    status: 409,
    meaning: "Parts were asked for or sent for a single-PUT direct upload; it is completed without `parts`.",
  },
  webhook_limit_reached: {
    status: 409,
    meaning: "The caller already has `WEBHOOKS_PER_USER` webhooks (default 25); delete one to add another.",
  },
  document_purging: {
    status: 409,
    meaning: "The trashed document's purge has begun (its bytes are being deleted); it can no longer be restored.",
  },
  // 412
  etag_mismatch: { status: 412, meaning: "`If-Match` does not match the document's current ETag." },
  // 410
  link_expired: { status: 410, meaning: "The share link has passed its `expires_at`." },
  link_exhausted: { status: 410, meaning: "The share link has no downloads left (`max_downloads` reached)." },
  // 413
  body_too_large: { status: 413, meaning: "The JSON or form body exceeds its size limit." },
  file_too_large: { status: 413, meaning: "The file exceeds `MAX_UPLOAD_BYTES` (or `MAX_DIRECT_UPLOAD_BYTES`)." },
  too_many_parts: { status: 413, meaning: "The multipart body has more than 100 parts." },
  field_too_large: { status: 413, meaning: "A multipart field other than the file exceeds 64 KiB." },
  // 415
  multipart_required: { status: 415, meaning: "Uploads are sent as `multipart/form-data`." },
  unsupported_media_type: { status: 415, meaning: "The body's Content-Type is not one this endpoint accepts." },
  file_type_not_allowed: {
    status: 415,
    meaning: "The file's type, detected from its bytes, is not allowed (executables, scripts, markup, macros, …).",
  },
  // 422
  validation_failed: { status: 422, meaning: "The request did not match the schema; `errors` names each field." },
  upload_not_received: { status: 422, meaning: "Nothing was uploaded to the direct upload's URL yet." },
  upload_mismatch: {
    status: 422,
    meaning: "The uploaded object is not what was announced (size, type, SHA-256 or an encoding); it was deleted.",
  },
  parts_required: {
    status: 422,
    meaning: "A multipart upload is completed with `parts`: each part's number and ETag.",
  },
  part_number_out_of_range: { status: 422, meaning: "A part number is not between 1 and the upload's `parts_count`." },
  duplicate_part_number: { status: 422, meaning: "A part number appears more than once in the list." },
  parts_missing: {
    status: 422,
    meaning: "`complete` must list every part from 1 to `parts_count`; `errors` names the missing ones.",
  },
  part_not_uploaded: { status: 422, meaning: "Storage has no bytes for a listed part yet; PUT it, then complete." },
  part_etag_mismatch: {
    status: 422,
    meaning: "A listed ETag is not the one storage has for that part (the last PUT of a part counts).",
  },
  part_size_mismatch: {
    status: 422,
    meaning: "A stored part does not have `part_size` bytes (the remainder for the last); send it again.",
  },
  link_version_not_found: {
    status: 422,
    meaning: "The share link would pin a `version` the document does not have.",
  },
  cursor_invalid: { status: 422, meaning: "The changes feed's `cursor` is not one this service issued." },
  webhook_url_refused: {
    status: 422,
    meaning:
      "The webhook URL is not `https://` on a public host (loopback, private, link-local and metadata addresses, credentials in the URL are refused).",
  },
  // 429
  login_throttled: { status: 429, meaning: "Too many login attempts for this account or address; see Retry-After." },
  rate_limited: {
    status: 429,
    meaning: "Over a request budget (per user, per user for uploads, per address for registration); see Retry-After.",
  },
  link_password_throttled: {
    status: 429,
    meaning: "Too many wrong password attempts for this share link, or from this address; see Retry-After.",
  },
  // 507
  quota_exceeded: {
    status: 507,
    meaning:
      "The document owner's storage quota (`STORAGE_QUOTA_BYTES`) has no room for the file; nothing was stored. `GET /auth/me` shows the usage.",
  },
  // 426
  websocket_upgrade_required: {
    status: 426,
    meaning: "A live-events route was requested without `Upgrade: websocket`; the ticket was not used.",
  },
  // 500, 503
  internal_error: { status: 500, meaning: "An unexpected error; the request id helps the operator find it." },
  service_misconfigured: { status: 500, meaning: "The deployment's configuration is invalid." },
  database_unavailable: { status: 503, meaning: "The database is unavailable; retry after Retry-After." },
  storage_unavailable: { status: 503, meaning: "The object storage is unavailable; retry after Retry-After." },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const statusOf = (code: ErrorCode): number => ERROR_CODES[code].status;

/** The codes a status can carry, for a route's documented responses. */
export function codesFor(status: number): ErrorCode[] {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => ERROR_CODES[code].status === status);
}
