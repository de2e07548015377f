import { normaliseTags } from "../../documents/tags";
import { validationError } from "../../lib/validation";

/**
 * Tags from a request (an array, one comma-separated string, or repeated form fields),
 * normalised, or the same 422 as any schema failure, naming `path`.
 */
export function tagsFromInput(input: string | readonly string[] | undefined, path: string): string[] {
  const values = input === undefined ? [] : typeof input === "string" ? [input] : input;
  const result = normaliseTags(values);
  if (!result.ok) throw validationError([{ path, message: result.message }]);
  return result.tags;
}
