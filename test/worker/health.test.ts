import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("GET /health", () => {
  it("reports database and storage ok", async () => {
    const res = await SELF.fetch("http://api.test/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", checks: { database: "ok", storage: "ok" } });
  });
});

describe("GET /health/live", () => {
  it("answers ok", async () => {
    const res = await SELF.fetch("http://api.test/health/live");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});
