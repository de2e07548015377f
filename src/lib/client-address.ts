import type { Context } from "hono";

const IP = /^[0-9a-fA-F:.]{2,45}$/;

/**
 * The caller's IP address as Cloudflare's edge reports it (CF-Connecting-IP, which the edge
 * overwrites, so clients cannot choose it). "unknown" where no edge sets it.
 */
export function clientAddress(c: Context): string {
  const value = c.req.header("cf-connecting-ip");
  return value && IP.test(value) ? value : "unknown";
}
