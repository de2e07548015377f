// Neon's driver reads its HTTP endpoint from one global setting. To let NEON_HTTP_ENDPOINT
// (the local stack) apply per database host rather than to every client in the isolate, the
// setting is a function that looks the host of each connection string up here, and otherwise
// derives Neon's own endpoint exactly as the driver does by default.
import { neonConfig } from "@neondatabase/serverless";

type EndpointFn = (host: string, port: number | string, options?: { jwtAuth?: boolean }) => string;

const overrides = new Map<string, string>();
let neonDefault: EndpointFn | undefined;

function install() {
  if (neonDefault) return;
  const current = neonConfig.fetchEndpoint;
  neonDefault =
    typeof current === "function"
      ? (current as EndpointFn)
      : (host, _port, options) => `https://${host.replace(/^[^.]+\./, options?.jwtAuth ? "apiauth." : "api.")}/sql`;
  const fallback = neonDefault;
  neonConfig.fetchEndpoint = ((host, port, options) =>
    overrides.get(String(host).toLowerCase()) ?? fallback(host, port, options)) as EndpointFn;
}

/** Sends every query for `connectionString`'s host to `endpoint` instead of Neon's. */
export function useEndpointFor(connectionString: string, endpoint: string): void {
  install();
  overrides.set(new URL(connectionString).hostname.toLowerCase(), endpoint);
}
