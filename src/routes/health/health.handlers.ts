import type { AppRouteHandler } from "../../app-env";
import { checkDependencies } from "../../health/checks";
import type { health, live } from "./health.routes";

export const healthHandler: AppRouteHandler<typeof health> = async (c) => {
  const checks = await checkDependencies(c.var);
  if (checks.database === "ok" && checks.storage === "ok") return c.json({ status: "ok" as const, checks }, 200);
  return c.json({ status: "error" as const, checks }, 503);
};

export const liveHandler: AppRouteHandler<typeof live> = (c) => c.json({ status: "ok" as const }, 200);
