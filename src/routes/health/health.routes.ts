import { createRoute, z } from "@hono/zod-openapi";

const CheckStatus = z.enum(["ok", "error"]);

export const HealthSchema = z
  .object({
    status: CheckStatus,
    checks: z.object({ database: CheckStatus, storage: CheckStatus }),
  })
  .openapi("Health");

export const LivenessSchema = z.object({ status: z.literal("ok") }).openapi("Liveness");

export const health = createRoute({
  operationId: "getHealth",
  method: "get",
  path: "/health",
  tags: ["Health"],
  security: [],
  summary: "Readiness: database and storage",
  description:
    "Runs `select 1` on the database and a HEAD request on the storage bucket, in parallel, each " +
    "with a 3 second timeout. 503 marks each failing dependency `error`.",
  responses: {
    200: { description: "Every dependency answers.", content: { "application/json": { schema: HealthSchema } } },
    503: { description: "At least one dependency failed.", content: { "application/json": { schema: HealthSchema } } },
  },
});

export const live = createRoute({
  operationId: "getLiveness",
  method: "get",
  path: "/health/live",
  tags: ["Health"],
  security: [],
  summary: "Liveness",
  description: "Answers without touching any dependency.",
  responses: {
    200: { description: "The Worker runs.", content: { "application/json": { schema: LivenessSchema } } },
  },
});
