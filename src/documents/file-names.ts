// File names are kept for display and for the download's Content-Disposition only; storage keys
// never derive from them. Cleaning: last path segment, no control or bidi-override characters,
// Unicode NFC, at most 255 characters (keeping the extension), never empty.

const MAX_LENGTH = 255;
// C0/C1 controls, DEL, and the bidirectional overrides that can disguise an extension (U+202E…).
const UNSAFE = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

export function cleanFileName(raw: string | undefined | null, fallback = "file"): string {
  let name = (raw ?? "").normalize("NFC");
  name = name.split(/[/\\]/).pop() ?? "";
  name = name.replace(UNSAFE, "").trim();
  name = name.replace(/^\.+/, ""); // no hidden files or "..": also what remains of a path
  if (!name) name = fallback;
  const chars = [...name];
  if (chars.length > MAX_LENGTH) {
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
    name = chars.slice(0, MAX_LENGTH - [...ext].length).join("") + ext;
  }
  return name;
}

/** The lower-cased extension after the last dot ("" for none, or for a name that is only an extension). */
export function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  return dot > 0 ? fileName.slice(dot + 1).toLowerCase() : "";
}

/** `name.extension`, the name shortened (never the extension) to stay within the length limit. */
export function appendExtension(fileName: string, extension: string): string {
  const chars = [...fileName];
  const room = MAX_LENGTH - extension.length - 1;
  return `${chars.length > room ? chars.slice(0, room).join("") : fileName}.${extension}`;
}

/** RFC 6266 attachment disposition: an ASCII fallback plus the exact name as RFC 8187 UTF-8. */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]/g, "_").replace(/["\\%]/g, "_");
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
