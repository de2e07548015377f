// Every request budget a deployment may choose (RATE_LIMIT_STEPS) has its Rate Limiting namespace
// in wrangler.toml with exactly that limit per 60 s, and no namespace is left unused: a budget
// variable picks a binding by name, so a missing or mis-sized one would limit wrongly.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { RATE_LIMIT_STEPS } from "../../src/config";

describe("wrangler.toml's [[ratelimits]]", () => {
  it("has one namespace per allowed budget, named after it, with that limit per 60 s", () => {
    const config = unstable_readConfig({ config: fileURLToPath(new URL("../../wrangler.toml", import.meta.url)) });
    const namespaces = config.ratelimits.map((r) => ({ name: r.name, limit: r.simple.limit, period: r.simple.period }));
    expect(namespaces).toEqual(RATE_LIMIT_STEPS.map((n) => ({ name: `RATE_LIMIT_${n}`, limit: n, period: 60 })));
    expect(new Set(config.ratelimits.map((r) => r.namespace_id)).size).toBe(RATE_LIMIT_STEPS.length);
  });
});
