import type { AppRouteHandler } from "../../app-env";
import { indexedText } from "../../content/content.store";
import type { getContent } from "./content.routes";

export const getContentHandler: AppRouteHandler<typeof getContent> = async (c) => {
  const text = await indexedText(c.get("db"), c.req.valid("param").id, c.get("userId"));
  return c.text(text, 200, { "Content-Type": "text/plain; charset=utf-8" });
};
