// Paths that carry a secret: a share link's token is its whole credential, so it never reaches a
// log line or an error body. Everything that echoes a request path goes through here.
const LINK_TOKEN = /(\/links\/)[^/]+/gi;

/** The path with every share-link token replaced by `{token}` (and at most 200 characters). */
export function redactPath(path: string): string {
  return path.replace(LINK_TOKEN, "$1{token}").slice(0, 200);
}
