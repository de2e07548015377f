import type { Context } from "hono";
import type { AppEnv, AppRouteHandler } from "../../app-env";
import { getActiveUser, type UserRecord } from "../../auth/auth.store";
import { closeAccount, logIn, logOut, refreshSession, registerAccount, type Tokens } from "../../auth/sessions";
import { actorOf } from "../../lib/actor";
import { clientAddress, throttleAddress } from "../../lib/client-address";
import { ApiError } from "../../lib/problem";
import type { closeAccount as closeAccountRoute, login, logout, me, refresh, register } from "./auth.routes";

const toUser = (u: UserRecord) => ({
  id: u.id,
  email: u.email,
  full_name: u.fullName,
  created_at: u.createdAt.toISOString(),
});

const toTokenResponse = (tokens: Tokens) => ({
  access_token: tokens.accessToken,
  refresh_token: tokens.refreshToken,
  token_type: "bearer" as const,
  expires_in: tokens.expiresIn,
});

// Token responses must not be cached (RFC 6749 §5.1).
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

export const registerHandler: AppRouteHandler<typeof register> = async (c) => {
  const body = c.req.valid("json");
  const user = await registerAccount(c.var, {
    email: body.email,
    fullName: body.full_name ?? null,
    password: body.password,
  });
  return c.json(toUser(user), 201);
};

/**
 * Which of its declared bodies a request sent: an OAuth2 form (URL-encoded or multipart) or JSON.
 * Login and refresh take either; each validator only reads the body its content type names.
 */
function bodyKind(c: Context<AppEnv>): "form" | "json" | null {
  const type = c.req.header("content-type") ?? "";
  if (/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) return "form";
  if (/^application\/(.+\+)?json\b/i.test(type)) return "json";
  return null;
}

function credentials(
  c: Context<AppEnv>,
  form: { username?: string; password?: string },
  json: { email?: string; password?: string },
) {
  const kind = bodyKind(c);
  if (kind === "form" && form.username && form.password) {
    return { email: form.username, password: form.password };
  }
  if (kind === "json" && json.email && json.password) {
    return { email: json.email, password: json.password };
  }
  throw new ApiError(
    "validation_failed",
    "Send JSON {email, password} or an OAuth2 password form (username, password).",
    {
      errors: [
        { path: "body.email", message: "Required" },
        { path: "body.password", message: "Required" },
      ],
    },
  );
}

export const loginHandler: AppRouteHandler<typeof login> = async (c) => {
  const { email, password } = credentials(c, c.req.valid("form"), c.req.valid("json"));
  const tokens = await logIn(c.var, { email, password, address: throttleAddress(clientAddress(c)) });
  return c.json(toTokenResponse(tokens), 200, NO_STORE);
};

export const refreshHandler: AppRouteHandler<typeof refresh> = async (c) => {
  const kind = bodyKind(c);
  const refreshToken =
    kind === "form"
      ? c.req.valid("form").refresh_token
      : kind === "json"
        ? c.req.valid("json").refresh_token
        : undefined;
  if (!refreshToken) {
    throw new ApiError("validation_failed", "Send JSON {refresh_token} or an OAuth2 refresh form.", {
      errors: [{ path: "body.refresh_token", message: "Required" }],
    });
  }
  const tokens = await refreshSession(c.var, refreshToken);
  return c.json(toTokenResponse(tokens), 200, NO_STORE);
};

export const logoutHandler: AppRouteHandler<typeof logout> = async (c) => {
  await logOut(c.get("db"), c.req.valid("json").refresh_token);
  return c.body(null, 204);
};

export const meHandler: AppRouteHandler<typeof me> = async (c) => {
  const user = await getActiveUser(c.get("db"), c.get("userId"));
  const storage = { used_bytes: Number(user.storageUsedBytes), quota_bytes: c.get("config").STORAGE_QUOTA_BYTES };
  return c.json({ ...toUser(user), storage }, 200);
};

export const closeAccountHandler: AppRouteHandler<typeof closeAccountRoute> = async (c) => {
  const actor = actorOf(c);
  await closeAccount(c.var, {
    userId: actor.userId,
    password: c.req.valid("json").password,
    address: throttleAddress(clientAddress(c)),
    ipAddress: actor.ipAddress,
    userAgent: actor.userAgent,
  });
  return c.body(null, 204);
};
