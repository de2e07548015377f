// Tags are stored normalised: trimmed, lower-case, unique, sorted; at most 20 of 1–50 characters.
export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 50;

export type TagResult = { ok: true; tags: string[] } | { ok: false; message: string };

/** From repeated fields and/or comma-separated values. */
export function normaliseTags(values: readonly string[]): TagResult {
  const tags = new Set<string>();
  for (const value of values) {
    for (const part of value.split(",")) {
      // Lower-cased one character for one (Unicode's simple mapping, as PostgreSQL's lower()
      // does): JavaScript's toLowerCase makes "İ" (U+0130) two code points, i + U+0307, the only
      // character it lengthens, so a tag of 26 "İ" was refused as 52 characters.
      const tag = part.normalize("NFC").trim().replaceAll("\u0130", "i").toLowerCase();
      if (!tag) continue;
      if ([...tag].length > MAX_TAG_LENGTH)
        return { ok: false, message: `each tag must be at most ${MAX_TAG_LENGTH} characters` };
      if (/\p{Cc}/u.test(tag)) return { ok: false, message: "tags must not contain control characters" };
      tags.add(tag);
    }
  }
  if (tags.size > MAX_TAGS) return { ok: false, message: `at most ${MAX_TAGS} tags are allowed` };
  return { ok: true, tags: [...tags].sort() };
}
