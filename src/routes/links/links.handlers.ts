import type { Context } from "hono";
import type { AppEnv, AppRouteHandler } from "../../app-env";
import {
  createLink as createLinkFlow,
  describeLink,
  downloadByLink as downloadFlow,
  probeDownload,
} from "../../documents/links";
import { deleteLink, listLinks as listLinkRows } from "../../documents/links.store";
import { actorOf } from "../../lib/actor";
import { clientAddress, throttleAddress } from "../../lib/client-address";
import { countedPage } from "../../lib/pagination";
import type { createLink, downloadByLink, getPublicLink, listLinks, redirectByLink, revokeLink } from "./links.routes";

export const createLinkHandler: AppRouteHandler<typeof createLink> = async (c) => {
  const body = c.req.valid("json");
  const { token, ...link } = await createLinkFlow(c.var, {
    documentId: c.req.valid("param").id,
    actor: actorOf(c),
    password: body.password ?? null,
    versionNumber: body.version ?? null,
    expiresAt: body.expires_at ? new Date(body.expires_at).toISOString() : null,
    maxDownloads: body.max_downloads ?? null,
  });
  const url = `${new URL(c.req.url).origin}/api/v1/links/${token}`;
  c.header("Cache-Control", "no-store");
  return c.json({ ...link, token, url }, 201);
};

export const listLinksHandler: AppRouteHandler<typeof listLinks> = async (c) => {
  const query = c.req.valid("query");
  const links = await listLinkRows(c.get("db"), c.req.valid("param").id, c.get("userId"), query);
  return c.json(countedPage(links, query), 200);
};

export const revokeLinkHandler: AppRouteHandler<typeof revokeLink> = async (c) => {
  const { id, link_id } = c.req.valid("param");
  await deleteLink(c.get("db"), { documentId: id, linkId: link_id, actor: actorOf(c) });
  return c.body(null, 204);
};

/** The public's part of an activity row: no account, the client address and user agent. */
function publicActor(c: Context<AppEnv>) {
  const address = clientAddress(c);
  return {
    address: throttleAddress(address),
    actor: {
      ipAddress: address === "unknown" ? null : address,
      userAgent: c.req.header("user-agent")?.slice(0, 1000) ?? null,
    },
  };
}

export const getPublicLinkHandler: AppRouteHandler<typeof getPublicLink> = async (c) => {
  const link = await describeLink(c.get("db"), c.req.valid("param").token);
  return c.json(link, 200);
};

export const downloadByLinkHandler: AppRouteHandler<typeof downloadByLink> = async (c) => {
  // The body is optional: a link without a password needs none.
  const body = (c.req.valid("json") ?? {}) as { password?: string };
  const { url, expiresAt } = await downloadFlow(c.var, {
    token: c.req.valid("param").token,
    password: body.password,
    ...publicActor(c),
  });
  return c.json({ url, expires_at: expiresAt }, 200);
};

export const redirectByLinkHandler: AppRouteHandler<typeof redirectByLink> = async (c) => {
  // Hono serves HEAD with the GET route: a HEAD (a link preview, a prefetcher) checks the link
  // the same way but uses no download and gets no URL.
  if (c.req.raw.method === "HEAD") {
    await probeDownload(c.get("db"), c.req.valid("param").token);
    return c.body(null, 204) as never;
  }
  const { url } = await downloadFlow(c.var, {
    token: c.req.valid("param").token,
    password: undefined,
    ...publicActor(c),
  });
  return c.redirect(url, 302);
};
