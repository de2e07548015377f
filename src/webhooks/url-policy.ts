// Where a webhook may point: `https://` on a public host. Refused: credentials in the URL; the
// names `localhost`, `*.localhost`, `*.local`, `*.internal` (metadata.google.internal among them)
// and single-label names; IP literals in loopback, private (RFC 1918, CGNAT 100.64/10, ULA
// fc00::/7), link-local (169.254/16, fe80::/10, so 169.254.169.254 and fd00:ec2::254, the cloud
// metadata addresses), unspecified, multicast, reserved and documentation ranges, and IPv6 forms
// that embed an IPv4 address (mapped ::ffff:a.b.c.d, compatible, NAT64 64:ff9b::/96, 6to4
// 2002::/16). The WHATWG URL parser turns the decimal, octal and hex spellings of IPv4 (2130706433,
// 0177.0.0.1, 0x7f.1) into dotted form first, so they are caught as what they are.
// What resolves where is checked by resolveAndCheck() where DNS over HTTPS is reachable.
// WEBHOOK_ALLOW_PRIVATE_URLS=true (local development) allows http:// and every host.
import { Failure } from "../lib/failure";

const refuse = (message: string) =>
  new Failure("webhook_url_refused", `The webhook URL is refused: ${message}.`, {
    errors: [{ path: "body.url", message }],
  });

function ipv4Bytes(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

/** Why an IPv4 address is not public, or null. */
export function ipv4Refusal(bytes: number[]): string | null {
  const [a = 0, b = 0, c = 0] = bytes;
  if (a === 0) return "an unspecified (0.0.0.0/8) address";
  if (a === 127) return "a loopback address";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "a private address";
  if (a === 100 && b >= 64 && b <= 127) return "a shared (CGNAT 100.64.0.0/10) address";
  if (a === 169 && b === 254) return "a link-local or metadata address";
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return "a reserved address";
  if (a === 198 && (b === 18 || b === 19)) return "a benchmarking address";
  if ((a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) return "a documentation address";
  if (a >= 224) return "a multicast or reserved address";
  return null;
}

/** The eight 16-bit groups of an IPv6 address (no brackets), or null. */
function ipv6Groups(text: string): number[] | null {
  let host = text;
  const tail: number[] = [];
  const v4 = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(host);
  if (v4) {
    const bytes = ipv4Bytes(v4[1] as string);
    if (!bytes) return null;
    tail.push(((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0), ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0));
    host = `${host.slice(0, -(v4[1] as string).length)}0:0`;
  }
  const [head, rest] = host.split("::") as [string, string | undefined];
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array(Math.max(0, fill)).fill(0), ...right];
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g) || g < 0 || g > 0xffff)) return null;
  if (tail.length === 2) groups.splice(6, 2, ...tail);
  return groups;
}

export function ipv6Refusal(groups: number[]): string | null {
  const [g0 = 0, g1 = 0, , , , g5 = 0, , g7 = 0] = groups;
  const zeroTo = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zeroTo(7) && (g7 === 0 || g7 === 1)) return "a loopback or unspecified address";
  if (zeroTo(5) && g5 === 0xffff) return "an IPv4-mapped address";
  if (zeroTo(6)) return "an IPv4-compatible address";
  if (g0 === 0x64 && g1 === 0xff9b) return "a NAT64 address embedding IPv4";
  if (g0 === 0x2002) return "a 6to4 address embedding IPv4";
  if ((g0 & 0xfe00) === 0xfc00) return "a unique local (private) address";
  if ((g0 & 0xffc0) === 0xfe80) return "a link-local address";
  if ((g0 & 0xff00) === 0xff00) return "a multicast address";
  if (g0 === 0x2001 && g1 === 0x0db8) return "a documentation address";
  return null;
}

/** Why `address` (a resolved A or AAAA answer) is not public, or null. */
export function addressRefusal(address: string): string | null {
  const v4 = ipv4Bytes(address);
  if (v4) return ipv4Refusal(v4);
  const v6 = ipv6Groups(address);
  return v6 ? ipv6Refusal(v6) : "an unreadable address";
}

/** The normalised URL, or a Failure naming why it may not be a webhook's. */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): string {
  const url = URL.parse(raw);
  if (!url) throw refuse("not an absolute URL");
  if (url.protocol !== "https:" && !(allowPrivate && url.protocol === "http:")) {
    throw refuse(allowPrivate ? "only http:// and https:// URLs" : "only https:// URLs");
  }
  if (url.username || url.password) throw refuse("credentials (user:password@) are not allowed in the URL");
  if (url.hash) throw refuse("a fragment (#…) is never sent; leave it out");
  if (allowPrivate) return url.href;
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[")) {
    const groups = ipv6Groups(host.slice(1, -1));
    const why = groups ? ipv6Refusal(groups) : "an unreadable IPv6 address";
    if (why) throw refuse(`the host is ${why}`);
    return url.href;
  }
  const v4 = ipv4Bytes(host);
  if (v4) {
    const why = ipv4Refusal(v4);
    if (why) throw refuse(`the host is ${why}`);
    return url.href;
  }
  if (host === "localhost" || host.endsWith(".localhost")) throw refuse("the host is loopback (localhost)");
  if (/(^|\.)(local|internal|intranet|lan|home\.arpa|localdomain)$/.test(host) || host === "metadata") {
    throw refuse("the host is a private or metadata name");
  }
  if (!host.includes(".")) throw refuse("the host is not a public domain name");
  return url.href;
}

type DohAnswer = { Answer?: { type: number; data: string }[] };

/**
 * Resolves the URL's host with DNS over HTTPS (Cloudflare's resolver) and refuses it when any A or
 * AAAA answer is not public (a public name pointed at 127.0.0.1 or 169.254.169.254). Fails open
 * when the resolver cannot be reached (the local stack and tests have no internet): the literal
 * checks above still hold, and a Worker's own fetch does not reach private networks. Not proof
 * against DNS rebinding between this check and the delivery's own lookup.
 */
export async function resolveAndCheck(href: string, timeoutMs = 1500): Promise<void> {
  const host = new URL(href).hostname;
  if (host.startsWith("[") || ipv4Bytes(host)) return;
  const answers: string[] = [];
  for (const type of ["A", "AAAA"]) {
    try {
      const res = await fetch(`https://cloudflare-dns.com/dns-query?name=${encodeURIComponent(host)}&type=${type}`, {
        headers: { accept: "application/dns-json" },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) return;
      const body = (await res.json()) as DohAnswer;
      for (const answer of body.Answer ?? []) if (answer.type === 1 || answer.type === 28) answers.push(answer.data);
    } catch {
      return;
    }
  }
  for (const address of answers) {
    const why = addressRefusal(address);
    if (why) throw refuse(`the host resolves to ${why}`);
  }
}
