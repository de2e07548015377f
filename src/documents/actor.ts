/** Who is acting, as every change records it in the activity log. */
export type Actor = { userId: string; ipAddress: string | null; userAgent: string | null };
