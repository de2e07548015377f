import { createRouter } from "../../lib/router";
import { jsonBodyLimit } from "../../middleware/body-limit";
import {
  closeAccountHandler,
  loginHandler,
  logoutHandler,
  meHandler,
  refreshHandler,
  registerHandler,
} from "./auth.handlers";
import { closeAccount, login, logout, me, refresh, register } from "./auth.routes";

const router = createRouter();
router.use("/api/v1/auth/*", jsonBodyLimit);
// GET and DELETE /auth/me are authenticated (and rate-limited) by the app: src/app.ts PROTECTED_PATHS.

export const authRouter = router
  .openapi(register, registerHandler)
  .openapi(login, loginHandler)
  .openapi(refresh, refreshHandler)
  .openapi(logout, logoutHandler)
  .openapi(me, meHandler)
  .openapi(closeAccount, closeAccountHandler);
