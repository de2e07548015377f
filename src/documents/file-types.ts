// What a file is, decided from its own bytes (magic numbers, then the directories of ZIP and OLE2
// containers, then markup at the start of text), not from its name or the client's Content-Type.
// Those only refine a type the bytes already allow (which text type a text file is). The stored
// name's extension is then made to agree with the detected type (`nameForType`), so no download is
// saved under an executable or markup extension that detection did not confirm.
import { type ByteSource, blobSource, ole2Directory, Uninspectable, zipEntries, zipEntryBytes } from "./containers";
import { appendExtension, extensionOf } from "./file-names";

export { type ByteSource, blobSource };

/** How many leading bytes the magic numbers and the markup sniffing look at. */
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

type Office = "word" | "excel" | "powerpoint";

const OOXML_TYPES: Record<Office, string> = {
  word: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  excel: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  powerpoint: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
};
/** Types an allow-list names to accept documents with macros (VBA), in OOXML or legacy form. */
export const MACRO_TYPES: Record<Office, string> = {
  word: "application/vnd.ms-word.document.macroEnabled.12",
  excel: "application/vnd.ms-excel.sheet.macroEnabled.12",
  powerpoint: "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
};
export const isMacroType = (type: string) => Object.values(MACRO_TYPES).includes(type);
const LEGACY_TYPES: Record<Office, string> = {
  word: "application/msword",
  excel: "application/vnd.ms-excel",
  powerpoint: "application/vnd.ms-powerpoint",
};

/** Every type detection can answer, with the extensions that agree with it (the first is appended). */
const TYPE_EXTENSIONS: Record<string, readonly string[]> = {
  "application/pdf": ["pdf"],
  "image/png": ["png"],
  "image/jpeg": ["jpg", "jpeg"],
  "image/gif": ["gif"],
  "image/webp": ["webp"],
  "image/tiff": ["tif", "tiff"],
  [OOXML_TYPES.word]: ["docx"],
  [OOXML_TYPES.excel]: ["xlsx"],
  [OOXML_TYPES.powerpoint]: ["pptx"],
  [MACRO_TYPES.word]: ["docm"],
  [MACRO_TYPES.excel]: ["xlsm"],
  [MACRO_TYPES.powerpoint]: ["pptm"],
  [LEGACY_TYPES.word]: ["doc"],
  [LEGACY_TYPES.excel]: ["xls"],
  [LEGACY_TYPES.powerpoint]: ["ppt"],
  "application/vnd.oasis.opendocument.text": ["odt"],
  "application/vnd.oasis.opendocument.spreadsheet": ["ods"],
  "application/vnd.oasis.opendocument.presentation": ["odp"],
  "application/rtf": ["rtf"],
  "application/zip": ["zip"],
  "text/plain": ["txt", "text", "log"],
  "text/markdown": ["md", "markdown"],
  "text/csv": ["csv"],
  "application/json": ["json"],
  "text/html": ["html", "htm"],
  "image/svg+xml": ["svg"],
  "application/xml": ["xml"],
};

/** The file name, with the detected type's extension appended unless it already ends in one of its
 * extensions (`run.bat` holding text becomes `run.bat.txt`, `notes` becomes `notes.txt`). */
export function nameForType(fileName: string, type: string): string {
  const extensions = TYPE_EXTENSIONS[type];
  if (!extensions?.[0]) throw new Error(`no extension known for ${type}`);
  return extensions.includes(extensionOf(fileName)) ? fileName : appendExtension(fileName, extensions[0]);
}

const startsWith = (bytes: Uint8Array, signature: number[], offset = 0) =>
  signature.every((b, i) => bytes[offset + i] === b);
const ascii = (text: string) => [...text].map((ch) => ch.charCodeAt(0));

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

const TEXT_EXTENSION_TYPES: Record<string, string> = {
  md: "text/markdown",
  markdown: "text/markdown",
  csv: "text/csv",
  json: "application/json",
  txt: "text/plain",
};
const TEXT_TYPES = ["text/markdown", "text/csv", "application/json", "text/plain"];

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

// WHATWG MIME Sniffing §7.1 ("identifying a resource with an unknown MIME type"): the tags a
// browser takes for HTML when they open a resource, after whitespace.
const HTML_TAGS = new Set([
  "html",
  "head",
  "script",
  "iframe",
  "h1",
  "div",
  "font",
  "table",
  "a",
  "style",
  "title",
  "b",
  "body",
  "br",
  "p",
]);

type Markup = "text/html" | "image/svg+xml" | "application/xml";

/**
 * HTML, SVG or XML at the start of a text, as a browser would take it: after a byte order mark and
 * whitespace, through an XML declaration, processing instructions, comments and a doctype, up to
 * the root element. `<svg` (with any namespace prefix) is SVG; one of WHATWG's HTML tags, a
 * leading comment or `<!DOCTYPE html` is HTML; anything else after an XML declaration or doctype
 * is XML.
 */
export function sniffMarkup(head: Uint8Array): Markup | null {
  const text = new TextDecoder().decode(head).toLowerCase(); // drops a UTF-8 BOM
  let i = 0;
  let xml = false;
  let comment = false;
  const skipSpace = () => {
    while (i < text.length && " \t\n\f\r".includes(text[i] as string)) i++;
  };
  const skipPast = (end: string) => {
    const found = text.indexOf(end, i);
    i = found < 0 ? text.length : found + end.length;
  };
  for (skipSpace(); text.startsWith("<", i); skipSpace()) {
    if (text.startsWith("<?", i)) {
      xml = true;
      skipPast("?>");
    } else if (text.startsWith("<!--", i)) {
      comment = true;
      skipPast("-->");
    } else if (text.startsWith("<!doctype", i)) {
      const name = /^<!doctype\s+([^\s>[]+)/.exec(text.slice(i, i + 100))?.[1];
      if (name === "html") return "text/html";
      if (name === "svg") return "image/svg+xml";
      xml = true;
      const subset = text.indexOf("[", i);
      const close = text.indexOf(">", i);
      if (subset >= 0 && (close < 0 || subset < close)) skipPast("]");
      skipPast(">");
    } else {
      const tag = /^<([a-z][a-z0-9_.:-]*)(?=[\s/>]|$)/.exec(text.slice(i, i + 100))?.[1];
      if (tag === undefined) break;
      if (tag === "svg" || tag.endsWith(":svg")) return "image/svg+xml";
      if (HTML_TAGS.has(tag) || HTML_TAGS.has(tag.slice(tag.indexOf(":") + 1))) return "text/html";
      return xml ? "application/xml" : comment ? "text/html" : null;
    }
  }
  return xml ? "application/xml" : comment ? "text/html" : null;
}

export type Detection =
  /** `macroType`: the file carries a VBA project; it is allowed only if the allow-list names that too. */
  { type: string; macroType?: string } | { rejected: string };

function officeOfParts(names: string[]): Office | null {
  for (const [prefix, office] of [
    ["word/", "word"],
    ["xl/", "excel"],
    ["ppt/", "powerpoint"],
  ] as const) {
    if (names.some((name) => name.startsWith(prefix))) return office;
  }
  return null;
}

/** OpenDocument stores an uncompressed "mimetype" entry first: its type, from the head alone. */
function openDocumentType(head: Uint8Array): string | null {
  if (!startsWith(head, ascii("mimetype"), 30)) return null;
  for (const kind of ["text", "spreadsheet", "presentation"]) {
    if (startsWith(head, ascii(`application/vnd.oasis.opendocument.${kind}`), 38)) {
      return `application/vnd.oasis.opendocument.${kind}`;
    }
  }
  return null;
}

/**
 * Whether `detectType` needs more than the first SNIFF_BYTES of this file: a ZIP that is not
 * OpenDocument (its central directory, at the end, says whether it is Office and has macros) and
 * an OLE2 compound file (its directory may be anywhere). Every other type is decided from the
 * head alone.
 */
export function needsWholeFile(head: Uint8Array): boolean {
  if (startsWith(head, OLE2)) return true;
  return startsWith(head, [0x50, 0x4b, 0x03, 0x04]) && openDocumentType(head) === null;
}

async function detectZip(source: ByteSource, head: Uint8Array): Promise<Detection> {
  const openDocument = openDocumentType(head);
  if (openDocument) return { type: openDocument };
  try {
    const entries = await zipEntries(source);
    const names = entries.map((entry) => entry.name.toLowerCase());
    const contentTypesEntry = entries.find((entry) => entry.name.toLowerCase() === "[content_types].xml");
    const office = officeOfParts(names);
    // An OOXML package declares its parts' types in [Content_Types].xml; Office finds the VBA project
    // by that type (a vbaProject.bin can be renamed), so both the names and the types are checked.
    if (!contentTypesEntry || !office) return { type: "application/zip" };
    const contentTypes = decodeXml(await zipEntryBytes(source, contentTypesEntry))
      .toLowerCase()
      // The binary workbook's main part is named "macroEnabled" whether or not it holds macros.
      .replaceAll("sheet.binary.macroenabled", "sheet.binary");
    const macros =
      names.some((name) => name.includes("vbaproject") || name.includes("macrosheets/")) ||
      ["vbaproject", "macroenabled", "macrosheet"].some((word) => contentTypes.includes(word));
    return { type: macros ? MACRO_TYPES[office] : OOXML_TYPES[office] };
  } catch (error) {
    // A ZIP whose directory cannot be read is not an Office document Office would open: it is kept
    // as an archive, under a .zip name.
    if (error instanceof Uninspectable) return { type: "application/zip" };
    throw error;
  }
}

function decodeXml(bytes: Uint8Array): string {
  if (startsWith(bytes, [0xff, 0xfe])) return new TextDecoder("utf-16le").decode(bytes);
  if (startsWith(bytes, [0xfe, 0xff])) return new TextDecoder("utf-16be").decode(bytes);
  return new TextDecoder().decode(bytes);
}

/** Directory entries of a VBA project: Word's `Macros` storage, Excel's `_VBA_PROJECT_CUR`, and
 * the `VBA` storage and `_VBA_PROJECT` stream inside them. */
const VBA_NAMES = new Set(["macros", "_vba_project_cur", "vba", "_vba_project"]);

async function detectOle2(source: ByteSource): Promise<Detection> {
  let directory: Awaited<ReturnType<typeof ole2Directory>>;
  try {
    directory = await ole2Directory(source);
  } catch (error) {
    if (error instanceof Uninspectable) return { rejected: "unreadable OLE2 container" };
    throw error;
  }
  const root = new Set(directory.rootNames);
  const office: Office | null = root.has("WordDocument")
    ? "word"
    : root.has("PowerPoint Document")
      ? "powerpoint"
      : root.has("Workbook") || root.has("Book")
        ? "excel"
        : null;
  // Installers (.msi), Outlook messages and other compound files are not documents.
  if (!office) return { rejected: "unknown OLE2 container" };
  const macros = directory.allNames.some((name) => VBA_NAMES.has(name.toLowerCase()));
  return macros ? { type: LEGACY_TYPES[office], macroType: MACRO_TYPES[office] } : { type: LEGACY_TYPES[office] };
}

/** The content type of a file from its bytes, with the declared type and file name as hints. */
export async function detectType(
  source: ByteSource,
  hints: { fileName: string; declaredType?: string },
): Promise<Detection> {
  const head = await source.read(0, Math.min(source.size, SNIFF_BYTES));
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
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) return detectZip(source, head);
  if (startsWith(head, OLE2)) return detectOle2(source);
  if (isUtf8Text(head, source.size > head.length)) {
    const hinted = TEXT_EXTENSION_TYPES[extensionOf(hints.fileName)];
    const declared = hints.declaredType?.split(";")[0]?.trim().toLowerCase();
    const markup = sniffMarkup(head);
    if (markup) {
      // Markdown may open with an HTML block (`<p align="center">`, `<!-- toc -->`), and a .md
      // download is not rendered as HTML; any other name gets no such allowance.
      const markdown = hinted === "text/markdown" || declared === "text/markdown";
      return { type: markup === "text/html" && markdown ? "text/markdown" : markup };
    }
    for (const candidate of [hinted, declared]) {
      if (candidate && TEXT_TYPES.includes(candidate)) return { type: candidate };
    }
    return { type: "text/plain" };
  }
  return { rejected: "unrecognised binary" };
}

/** Content-Type to store and serve: text types carry their charset. */
export function servedContentType(type: string): string {
  return type.startsWith("text/") ? `${type}; charset=utf-8` : type;
}
