import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { Actor } from "../documents/actor";
import { clientAddress } from "./client-address";

/** Who is acting, as recorded in the activity log. */
export function actorOf(c: Context<AppEnv>): Actor {
  const address = clientAddress(c);
  return {
    userId: c.get("userId"),
    ipAddress: address === "unknown" ? null : address,
    userAgent: c.req.header("user-agent")?.slice(0, 1000) ?? null,
  };
}
