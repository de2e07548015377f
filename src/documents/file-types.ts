// What a file is, decided from its own first bytes (magic numbers), not from its name or the
// client's Content-Type. Those only refine a type the bytes already allow (e.g. which text type,
// or which legacy Office format an OLE2 container is).

/** How many leading bytes detection reads. */
export const SNIFF_BYTES = 8192;

export const DEFAULT_ALLOWED_TYPES = [
  "application/pdf",
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/tiff",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  "application/msword",
  "application/vnd.ms-excel",
  "application/vnd.ms-powerpoint",
  "application/vnd.oasis.opendocument.text",
  "application/vnd.oasis.opendocument.spreadsheet",
  "application/vnd.oasis.opendocument.presentation",
  "application/rtf",
  "application/zip",
  "text/plain",
  "text/markdown",
  "text/csv",
  "application/json",
] as const;

const startsWith = (bytes: Uint8Array, signature: number[], offset = 0) =>
  signature.every((b, i) => bytes[offset + i] === b);
const ascii = (text: string) => [...text].map((ch) => ch.charCodeAt(0));
const contains = (bytes: Uint8Array, text: string) => {
  const needle = ascii(text);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
};

const EXECUTABLE_SIGNATURES = [
  [0x4d, 0x5a], // MZ: Windows PE/DOS
  [0x7f, 0x45, 0x4c, 0x46], // ELF
  [0xfe, 0xed, 0xfa, 0xce],
  [0xfe, 0xed, 0xfa, 0xcf],
  [0xce, 0xfa, 0xed, 0xfe],
  [0xcf, 0xfa, 0xed, 0xfe], // Mach-O
  [0xca, 0xfe, 0xba, 0xbe], // Mach-O universal / Java class
  [0x00, 0x61, 0x73, 0x6d], // WebAssembly
];

const OLE2 = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

const EXTENSION_TYPES: Record<string, string> = {
  md: "text/markdown",
  markdown: "text/markdown",
  csv: "text/csv",
  json: "application/json",
  txt: "text/plain",
  doc: "application/msword",
  xls: "application/vnd.ms-excel",
  ppt: "application/vnd.ms-powerpoint",
};

function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  return dot > 0 ? fileName.slice(dot + 1).toLowerCase() : "";
}

function isUtf8Text(bytes: Uint8Array, truncated: boolean): boolean {
  if (bytes.includes(0)) return false;
  try {
    // A multi-byte character cut by the sniff window is not an error: `stream` decoding tolerates it.
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes, { stream: truncated });
    return true;
  } catch {
    return false;
  }
}

export type Detection = { type: string } | { rejected: string };

/**
 * The content type of a file from its first bytes (`head`), with the declared type and file name
 * as hints. `truncated` tells whether `head` is only the beginning of the file.
 */
export function detectType(
  head: Uint8Array,
  hints: { fileName: string; declaredType?: string },
  truncated: boolean,
): Detection {
  if (EXECUTABLE_SIGNATURES.some((s) => startsWith(head, s))) return { rejected: "executable" };
  if (startsWith(head, ascii("#!"))) return { rejected: "script" };
  if (startsWith(head, ascii("%PDF-"))) return { type: "application/pdf" };
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { type: "image/png" };
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { type: "image/jpeg" };
  if (startsWith(head, ascii("GIF87a")) || startsWith(head, ascii("GIF89a"))) return { type: "image/gif" };
  if (startsWith(head, ascii("RIFF")) && startsWith(head, ascii("WEBP"), 8)) return { type: "image/webp" };
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a]))
    return { type: "image/tiff" };
  if (startsWith(head, ascii("{\\rtf"))) return { type: "application/rtf" };
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) {
    // OpenDocument stores an uncompressed "mimetype" entry first; OOXML names its parts.
    if (startsWith(head, ascii("mimetype"), 30)) {
      for (const kind of ["text", "spreadsheet", "presentation"]) {
        if (startsWith(head, ascii(`application/vnd.oasis.opendocument.${kind}`), 38)) {
          return { type: `application/vnd.oasis.opendocument.${kind}` };
        }
      }
    }
    if (contains(head, "word/"))
      return { type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document" };
    if (contains(head, "xl/")) return { type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" };
    if (contains(head, "ppt/"))
      return { type: "application/vnd.openxmlformats-officedocument.presentationml.presentation" };
    return { type: "application/zip" };
  }
  if (startsWith(head, OLE2)) {
    const hinted = EXTENSION_TYPES[extensionOf(hints.fileName)] ?? hints.declaredType ?? "";
    const legacy = ["application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"];
    return legacy.includes(hinted) ? { type: hinted } : { rejected: "unknown OLE2 container" };
  }
  if (isUtf8Text(head, truncated)) {
    const hinted = EXTENSION_TYPES[extensionOf(hints.fileName)];
    const declared = hints.declaredType?.split(";")[0]?.trim().toLowerCase();
    for (const candidate of [hinted, declared]) {
      if (candidate && ["text/markdown", "text/csv", "application/json", "text/plain"].includes(candidate)) {
        return { type: candidate };
      }
    }
    return { type: "text/plain" };
  }
  return { rejected: "unrecognised binary" };
}

/** Content-Type to store and serve: text types carry their charset. */
export function servedContentType(type: string): string {
  return type.startsWith("text/") ? `${type}; charset=utf-8` : type;
}
