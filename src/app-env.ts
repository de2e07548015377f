import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Config } from "./config";
import type { Database } from "./db/client";
import type { Logger } from "./lib/logger";
import type { ObjectStorage } from "./storage/object-storage";

export type AppVariables = {
  requestId: string;
  config: Config;
  logger: Logger;
  db: Database;
  storage: ObjectStorage;
  /** The authenticated caller; set by requireAuth on protected routes only. */
  userId: string;
};

export type AppEnv = { Bindings: Env; Variables: AppVariables };

export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;
