import { createRoute } from "@hono/zod-openapi";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import {
  CloseAccountBody,
  CurrentUserSchema,
  LoginForm,
  LoginJson,
  RefreshBody,
  RefreshForm,
  RegisterBody,
  TokensSchema,
  UserSchema,
} from "./auth.schemas";

const tags = ["Auth"];
const tokens = {
  description: "Tokens. Sent with `Cache-Control: no-store`.",
  content: { "application/json": { schema: TokensSchema } },
};

export const register = createRoute({
  operationId: "register",
  method: "post",
  path: "/api/v1/auth/register",
  tags,
  security: [],
  summary: "Create an account",
  description: "Emails are unique case-insensitively. Unknown fields (e.g. `first_name`) are ignored.",
  request: { body: { required: true, content: { "application/json": { schema: RegisterBody } } } },
  responses: {
    201: { description: "The new user.", content: { "application/json": { schema: UserSchema } } },
    ...problems(400, 409, 413, 415, 422, 503),
  },
});

export const login = createRoute({
  operationId: "login",
  method: "post",
  path: "/api/v1/auth/login",
  tags,
  security: [],
  summary: "Log in (OAuth2 password flow)",
  description:
    "Takes an OAuth2 password-grant form (`username` = email, `password`, optional `grant_type=password`; " +
    "what Swagger UI's Authorize button sends), URL-encoded or as multipart/form-data (a browser's FormData, " +
    "which the original design's FastAPI form read too), or JSON `{email, password}`. Every wrong email/password " +
    "pair answers the same 401, whether or not the account exists. At most the configured number of " +
    "passwords are checked per account (default 5 in 15 minutes) and per client address (default 50; IPv6 " +
    "by /64) in a window, however many arrive at once; the rest are 429 with `Retry-After` until the window " +
    "ends. A successful login clears the account's count. Attempts are counted before they are checked, " +
    "so while the places within a limit are held by checks still running (several right logins at once), " +
    "an attempt over it waits for one to end (up to 10 s) rather than being refused; when failures alone " +
    "fill a limit, it is 429 at once. Each login starts a new refresh-token chain.",
  request: {
    body: {
      required: false,
      content: {
        "application/x-www-form-urlencoded": { schema: LoginForm },
        // FastAPI's OAuth2PasswordRequestForm (the original design) reads it too: a browser's FormData.
        "multipart/form-data": { schema: LoginForm },
        "application/json": { schema: LoginJson },
      },
    },
  },
  responses: { 200: tokens, ...problems(400, 401, 413, 415, 422, 429, 503) },
});

export const refresh = createRoute({
  operationId: "refreshTokens",
  method: "post",
  path: "/api/v1/auth/refresh",
  tags,
  security: [],
  summary: "Exchange a refresh token for new tokens",
  description:
    "Refresh tokens are single use: the answer carries the next one and the presented one stops working. " +
    "Presenting an already-used refresh token again is treated as theft: 401, and every refresh token of " +
    "that login is revoked (the user must log in again), also when both uses arrive at once. Expired, " +
    "revoked and unknown tokens are 401, and so is any token of a login older than `SESSION_MAX_SECONDS` " +
    "(default 30 days). Takes JSON `{refresh_token}`, or an OAuth2 refresh form (RFC 6749 §6: " +
    "`grant_type=refresh_token&refresh_token=…`, URL-encoded), since this is the password flow's `refreshUrl`.",
  request: {
    body: {
      required: false,
      content: {
        "application/json": { schema: RefreshBody },
        "application/x-www-form-urlencoded": { schema: RefreshForm },
      },
    },
  },
  responses: { 200: tokens, ...problems(400, 401, 413, 415, 422, 503) },
});

export const logout = createRoute({
  operationId: "logout",
  method: "post",
  path: "/api/v1/auth/logout",
  tags,
  security: [],
  summary: "Log out",
  description:
    "Revokes the presented refresh token and the rest of its login chain. Always 204 for a well-formed " +
    "body, also for a token that is unknown or already revoked, so the answer reveals nothing.",
  request: { body: { required: true, content: { "application/json": { schema: RefreshBody } } } },
  responses: { 204: { description: "Logged out." }, ...problems(400, 413, 415, 422, 503) },
});

export const me = createRoute({
  operationId: "getCurrentUser",
  method: "get",
  path: "/api/v1/auth/me",
  tags,
  security: AUTHENTICATED,
  summary: "The current user",
  responses: {
    200: {
      description: "The caller, with `storage: {used_bytes, quota_bytes}` (`quota_bytes` 0: unlimited).",
      content: { "application/json": { schema: CurrentUserSchema } },
    },
    ...problems(401, 503),
  },
});

export const closeAccount = createRoute({
  operationId: "closeAccount",
  method: "delete",
  path: "/api/v1/auth/me",
  tags,
  security: AUTHENTICATED,
  summary: "Close the caller's account",
  description:
    "Confirms with the account's password (JSON `{password}`). A wrong password is 401 `password_incorrect` " +
    "and changes nothing; attempts count on the login throttle's counters for this account and the client " +
    "address (the same limits as login, counted before any hashing, waiting as a login does while other " +
    "checks hold the places), so past the limit it is 429 " +
    "`login_throttled` with `Retry-After`. On success (204), in one transaction: every refresh token of the " +
    "account stops working; its access tokens are refused (401 `account_inactive`) from the next request on, " +
    "on every route; the documents it owns move to the trash with `document.deleted` activity (purged " +
    "`TRASH_RETENTION_DAYS` later; until then a holder of ADMIN on one may restore it and becomes its owner, " +
    "taking its bytes into their quota); its permissions on other users' documents are removed, each " +
    "recorded as `permission.revoked`; login with its email is refused, and the email may register a new, " +
    "unrelated account. Pending direct uploads of the account can no longer be completed and are swept when " +
    "they expire. The account's row (id, email, name) is kept, closed, because documents, versions and " +
    "activity rows name it.",
  request: { body: { required: true, content: { "application/json": { schema: CloseAccountBody } } } },
  responses: { 204: { description: "The account is closed." }, ...problems(400, 401, 413, 415, 422, 429, 503) },
});
