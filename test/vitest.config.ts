import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects: "worker" runs the Worker in workerd (Cloudflare's plugin) against the local stack
// started by the global setup; "node" runs what needs Node itself (the OpenAPI linter, the dev
// command end to end, the local stack's own pieces).
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ...inject<Record<string, string>>("stackBindings"),
                LOG_LEVEL: "warn",
                // Test-only keys (openssl rand -base64 32): the boundary refuses typed-in ones.
                JWT_SECRET: "aTjMob1aMT5rmiWIgvr4Wzr6PbRy2CosPRL+x/d4KP4=",
                PASSWORD_PEPPER: "fkIxWeR4i7uOsjLgZ+aHQydyPYvnSNT7m2WH4glb75o=",
                WEBHOOK_SECRET_KEY: "3q0cXbJv8Yw1m9ZrT2kLpN6sHf4GdUeA7xVi5BoCtQ8=",
                // Webhooks deliver to the local receiver (127.0.0.1); the URL policy's own tests turn it off.
                WEBHOOK_ALLOW_PRIVATE_URLS: "true",
                CORS_ORIGINS: "https://app.example.com",
                // Test files register hundreds of users from one address and send hundreds of
                // requests per user; the budgets' own tests choose small ones.
                RATE_LIMIT_PER_MINUTE: "10000",
                UPLOAD_RATE_LIMIT_PER_MINUTE: "10000",
                REGISTER_RATE_LIMIT_PER_MINUTE: "10000",
              },
            },
          })),
        ],
        test: {
          name: "worker",
          root: ".",
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          setupFiles: ["test/support/reset-state.ts"],
          // Test files share the stack; each starts from a clean database and bucket.
          fileParallelism: false,
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "node",
          root: ".",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
