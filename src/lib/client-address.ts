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

/** The eight 16-bit groups of an IPv6 address, or null when `address` is not one. */
function ipv6Groups(address: string): number[] | null {
  if (!address.includes(":")) return null;
  let host: string;
  try {
    // The URL parser validates and canonicalises (case, leading zeros, an embedded IPv4 tail).
    host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const [head = "", tail] = host.split("::");
  const part = (text: string) => (text ? text.split(":").map((group) => Number.parseInt(group, 16)) : []);
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key for counting a client's attempts: an IPv4 address as it is, an IPv6 address by its
 * /64, since one subscriber usually holds a whole /64 and could otherwise step through 2^64
 * fresh addresses. An IPv4-mapped IPv6 address counts as its IPv4 address.
 */
export function throttleAddress(address: string): string {
  const groups = ipv6Groups(address);
  if (!groups) return address;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [a = 0, b = 0] = groups.slice(6);
    return [a >> 8, a & 0xff, b >> 8, b & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}
