// What the activity log records, defined once: the statements that write a row and the API's
// schema of the log derive from this list, so a misspelt action does not compile.
export const ACTIVITY_ACTIONS = [
  "document.created",
  "document.updated",
  "document.deleted",
  "version.created",
  "permission.granted",
  "permission.updated",
  "permission.revoked",
  "document.downloaded",
  "document.restored",
  "document.purged",
  "link.created",
  "link.revoked",
  "link.downloaded",
  "content.indexed",
] as const;

export type ActivityAction = (typeof ACTIVITY_ACTIONS)[number];
