// Work of the Cron Trigger (wrangler.toml [triggers]): purge expired and revoked refresh tokens
// and finished login-throttle windows.
import { purgeAuthState } from "./auth/auth.store";
import type { Config } from "./config";
import { createDatabase } from "./db/client";
import { createLogger } from "./lib/logger";

export async function runScheduledMaintenance(config: Config, cron: string) {
  const logger = createLogger(config.LOG_LEVEL, { cron });
  const purged = await purgeAuthState(createDatabase(config), config.LOGIN_FAILURE_WINDOW_SECONDS);
  logger.info("maintenance done", { purged_refresh_tokens: purged.tokens, purged_login_throttles: purged.throttles });
  return purged;
}
