// Lints the OpenAPI document the Worker serves with Redocly's validator (recommended ruleset);
// any error fails the build.
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";

const BINDINGS = {
  DATABASE_URL: "postgresql://user:pass@db.example.com/app",
  S3_ENDPOINT: "https://s3.example.com",
  S3_BUCKET: "documents",
  S3_ACCESS_KEY_ID: "id",
  S3_SECRET_ACCESS_KEY: "secret",
  LOG_LEVEL: "warn",
  // Test-only (openssl rand -base64 32): the Worker refuses typed-in secrets.
  JWT_SECRET: "0TV3jjeNp5jTKkNxX65pxoyEeuNOycexA4/9wrZmXAB=",
  PASSWORD_PEPPER: "fkIxWeR4i7uOsjLgZ+aHQydyPYvnSNT7m2WH4glb75p=",
  WEBHOOK_SECRET_KEY: "Yt5Rk8Wq1Ez4Xc7Vb0Nm3Lp6Ks9Jd2Hf5Gg8Aa1Ss4D=",
};

async function servedDocument(): Promise<string> {
  const res = await createApp().request("/openapi.json", {}, BINDINGS);
  expect(res.status).toBe(200);
  return res.text();
}

describe("the OpenAPI document", () => {
  it("passes Redocly's recommended lint rules without errors", async () => {
    const source = await servedDocument();
    const problems = await lintFromString({
      source,
      absoluteRef: "openapi.json",
      config: await createConfig({ extends: ["recommended"] }),
    });
    const describe = (p: (typeof problems)[number]) =>
      `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(", ")}`;
    const errors = problems.filter((p) => p.severity === "error").map(describe);
    for (const warning of problems.filter((p) => p.severity !== "error")) console.warn(describe(warning));
    expect(errors).toEqual([]);
  });

  it("fails the linter when the document is broken (the check can fail)", async () => {
    const broken = JSON.parse(await servedDocument());
    broken.paths["/health"].get.responses = {};
    delete broken.info.title;
    const problems = await lintFromString({
      source: JSON.stringify(broken),
      absoluteRef: "openapi.json",
      config: await createConfig({ extends: ["recommended"] }),
    });
    expect(problems.filter((p) => p.severity === "error").length).toBeGreaterThan(0);
  });
});
