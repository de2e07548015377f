import { normaliseTags } from "../../documents/tags";
import { validationError } from "../../lib/validation";

/**
 * Tags from a request (an array, one comma-separated string, or repeated form fields),
 * normalised, or the same 422 as any schema failure, naming `path`. A JSON array (`json`) lists
 * tags one by one: an element that is empty (or blank) or holds a comma is not a tag of 1–50
 * characters and is refused, where a comma-separated string or form field skips empty pieces
 * ("a,,b", or the empty field a form sends for no tags).
 */
export function tagsFromInput(
  input: string | readonly string[] | undefined,
  path: string,
  form: "json" | "form" = "form",
): string[] {
  const values = input === undefined ? [] : typeof input === "string" ? [input] : input;
  if (form === "json" && Array.isArray(input)) {
    for (const [index, value] of input.entries()) {
      const message = !value.trim()
        ? "a tag must have at least 1 character"
        : value.includes(",")
          ? "a tag cannot contain a comma (commas separate tags)"
          : undefined;
      if (message) throw validationError([{ path: `${path}.${index}`, message }]);
    }
  }
  const result = normaliseTags(values);
  if (!result.ok) throw validationError([{ path, message: result.message }]);
  return result.tags;
}
