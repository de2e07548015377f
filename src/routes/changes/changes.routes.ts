import { createRoute, z } from "@hono/zod-openapi";
import { AUTHENTICATED, problems } from "../../lib/openapi";
import { ActivitySchema } from "../activity/activity.routes";

const tags = ["Changes"];
const security = AUTHENTICATED;

export const ChangeSchema = ActivitySchema.extend({
  cursor: z.string().openapi({
    description: "Opaque position of this change in commit order: pass it as `cursor` to continue after it.",
  }),
}).openapi("Change");

export const ChangesPageSchema = z
  .object({
    items: z.array(ChangeSchema),
    next_cursor: z.string().openapi({
      description:
        "The last item's cursor, or the request's cursor when there is nothing new (without a `cursor`, one " +
        'meaning "the beginning").',
    }),
    has_more: z.boolean().openapi({ description: "More changes are ready now: ask again at once with `next_cursor`." }),
  })
  .openapi("ChangesPage");

export const ChangesQuery = z.object({
  cursor: z.string().optional().openapi({
    description:
      "A `cursor` or `next_cursor` from an earlier answer, or from `/changes/latest`. Absent: from the beginning.",
  }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ description: "1–1000 (default 100)." }),
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(30)
    .default(0)
    .openapi({ description: "Long-poll: seconds (0–30, default 0) to hold an empty answer open for a change." }),
});

export const listChanges = createRoute({
  operationId: "listChanges",
  method: "get",
  path: "/api/v1/changes",
  tags,
  security,
  summary: "Changes to the documents the caller can read, in commit order",
  description:
    "Every activity row (the same actions and shape as the activity log) made while the caller could read its " +
    "document, oldest first in commit order, after `cursor`. A change is listed once its transaction and every " +
    "transaction that began before it have ended, so a cursor never skips a change that commits late, and " +
    "never yields one twice. Who could read a document is recorded with each change as it is made (its owner " +
    "and the holders of a permission, unless it was in the trash), so what the feed lists never changes " +
    "afterwards: a reader who starts over sees exactly what one who followed the cursor saw. A new reader's " +
    "first change of a document is the `permission.granted` naming them (fetch the document then); the events " +
    "that end their access are listed too: their own `permission.revoked` (also when they removed it " +
    "themselves or a closure removed it) and `document.deleted` (listed to everyone who could read " +
    "the document until then); after them nothing of that document until they can read it again " +
    "(`document.restored`, or a new `permission.granted`), and nothing made meanwhile. A change made while a " +
    "grant or revocation of the caller is in flight may fall on either side of it. `document.purged` concerns a " +
    "document nobody can read (it is in the trash), so it is not listed. " +
    "`wait` (seconds, whole) holds an empty " +
    "answer until a change arrives (answered within about half a second of its commit) or the time passes; it " +
    "counts once against the request budget. A cursor this service did not issue is 422 `cursor_invalid`. " +
    "Cursors stay valid forever (activity rows are never removed).",
  request: { query: ChangesQuery },
  responses: {
    200: { description: "One page of changes.", content: { "application/json": { schema: ChangesPageSchema } } },
    ...problems(401, 422, 429, 503),
  },
});

export const latestChange = createRoute({
  operationId: "latestChangeCursor",
  method: "get",
  path: "/api/v1/changes/latest",
  tags,
  security,
  summary: "A cursor for now, to follow only new changes",
  description:
    "Every change committed before this request is before the cursor, every change committed after it is " +
    "after. A change whose transaction was still open at that moment is after it too (never lost).",
  responses: {
    200: {
      description: "The cursor.",
      content: { "application/json": { schema: z.object({ cursor: z.string() }).openapi("LatestCursor") } },
    },
    ...problems(401, 429, 503),
  },
});
