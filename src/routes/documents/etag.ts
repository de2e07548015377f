// Strong ETags from the document's revision counter, which every change bumps.
export const etagOf = (revision: number) => `"r${revision}"`;

/**
 * The revisions an If-Match header accepts: "any" for `*` or no header, otherwise the list of
 * strong `"r<n>"` tags (weak tags never match under If-Match, RFC 9110 §13.1.1); an empty list
 * means nothing can match.
 */
export function revisionsFromIfMatch(header: string | undefined): "any" | number[] {
  if (header === undefined || header.trim() === "*") return "any";
  const revisions: number[] = [];
  for (const part of header.split(",")) {
    const match = /^\s*"r(\d{1,9})"\s*$/.exec(part);
    if (match) revisions.push(Number(match[1]));
  }
  return revisions;
}
