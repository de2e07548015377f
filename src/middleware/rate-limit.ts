// Request budgets, counted by Cloudflare's Rate Limiting binding: per user on every API route,
// per user again on uploads, per client address on registration. Over budget: 429 with
// Retry-After; every limited response carries the IETF RateLimit-Policy and RateLimit headers.
//
// A binding's limit is fixed in wrangler.toml, so each allowed budget (RATE_LIMIT_STEPS) has a
// namespace of its own and a variable picks the namespace of its value: exact and one call per
// budget, no database round trip, at the price of a fixed ladder of values. The binding counts
// per Cloudflare location (eventually consistent across locations), in fixed 60 s windows; it
// answers only "allowed or not", so the remaining count in the RateLimit header is this isolate's
// own tally of the window (exact where one isolate serves a client, as locally; an upper bound
// otherwise), and the reset is the end of the clock-aligned window.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import type { Config, RateLimitStep } from "../config";
import { clientAddress, throttleAddress } from "../lib/client-address";
import { ApiError } from "../lib/problem";

const WINDOW_SECONDS = 60;

type Budget = {
  /** The policy's name in the headers and the prefix of its keys. */
  name: "user" | "upload" | "register" | "link";
  limit: (config: Config) => RateLimitStep;
  key: (c: Context<AppEnv>) => string;
};

const BUDGETS = {
  user: { name: "user", limit: (config) => config.RATE_LIMIT_PER_MINUTE, key: (c) => c.get("userId") },
  upload: { name: "upload", limit: (config) => config.UPLOAD_RATE_LIMIT_PER_MINUTE, key: (c) => c.get("userId") },
  register: {
    name: "register",
    limit: (config) => config.REGISTER_RATE_LIMIT_PER_MINUTE,
    key: (c) => throttleAddress(clientAddress(c)),
  },
  // The public share-link routes (no account to count against): per client address, with the
  // per-user budget's value, so one address gets what one user gets.
  link: {
    name: "link",
    limit: (config) => config.RATE_LIMIT_PER_MINUTE,
    key: (c) => throttleAddress(clientAddress(c)),
  },
} satisfies Record<string, Budget>;

// This isolate's count of allowed requests per key in the current window (see above). Windows
// are aligned to the clock, so a new window empties it; its size is bounded besides.
const MAX_TALLIED_KEYS = 10_000;
let talliedWindow = -1;
const tally = new Map<string, number>();

function countAllowed(key: string, window: number): number {
  if (window !== talliedWindow || tally.size >= MAX_TALLIED_KEYS) {
    tally.clear();
    talliedWindow = window;
  }
  const used = (tally.get(key) ?? 0) + 1;
  tally.set(key, used);
  return used;
}

/** Counts the request against `budget`; 429 when it is spent. */
export function rateLimit(which: keyof typeof BUDGETS) {
  const budget: Budget = BUDGETS[which];
  return createMiddleware<AppEnv>(async (c, next) => {
    const limit = budget.limit(c.get("config"));
    const key = `${budget.name}:${budget.key(c)}`;
    const binding = c.env[`RATE_LIMIT_${limit}`];
    const now = Date.now() / 1000;
    const window = Math.floor(now / WINDOW_SECONDS);
    const reset = Math.max(1, Math.ceil((window + 1) * WINDOW_SECONDS - now));
    const policy = `"${budget.name}";q=${limit};w=${WINDOW_SECONDS}`;
    const { success } = await binding.limit({ key });
    if (!success) {
      throw new ApiError(
        "rate_limited",
        `Over the ${budget.name} budget of ${limit} requests a minute; try again later.`,
        {
          retryAfterSeconds: reset,
          headers: { "RateLimit-Policy": policy, RateLimit: `"${budget.name}";r=0;t=${reset}` },
        },
      );
    }
    const remaining = Math.max(0, limit - countAllowed(key, window));
    await next();
    // Also on errors: the handler's problem response is c.res by now.
    c.res.headers.append("RateLimit-Policy", policy);
    c.res.headers.append("RateLimit", `"${budget.name}";r=${remaining};t=${reset}`);
  });
}
