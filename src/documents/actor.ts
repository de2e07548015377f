/** Who is acting, as every change records it in the activity log. */
export type Actor = { userId: string; ipAddress: string | null; userAgent: string | null };

/**
 * Who a change is recorded for: an account, or nobody (actor_id null) with what is known of the
 * client — the public through a share link, or the service itself (content indexing).
 */
export type RecordedActor = Omit<Actor, "userId"> & { userId: string | null };

/** The service acting on its own (a queue consumer): no account, no client. */
export const SERVICE_ACTOR: RecordedActor = { userId: null, ipAddress: null, userAgent: null };
