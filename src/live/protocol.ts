// Constants shared by the Worker and the live objects (kept apart from the objects, which import
// cloudflare:workers, so that code importing these runs outside workerd too: the OpenAPI linter).

/** The headers the Worker passes to an object with an upgrade it has authenticated. */
export const LIVE_USER_HEADER = "x-docvault-live-user";
export const LIVE_NAME_HEADER = "x-docvault-live-name";
export const LIVE_OBJECT_HEADER = "x-docvault-live-object";

export const MAX_MESSAGE_BYTES = 1024;
export const CLOSE_REVOKED = 4403;
export const CLOSE_ACCOUNT_CLOSED = 4401;
