// Office files built byte by byte for the type-detection tests: ZIP packages (OOXML, with or without
// a VBA project) and OLE2 compound files (legacy .doc/.xls/.ppt, with or without one). Small, but
// laid out as Office lays them out, so that detection reads them the way it reads real ones.

import { concatBytes } from "./bytes";

const encoder = new TextEncoder();

class Writer {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }
  u16(at: number, value: number) {
    this.#view.setUint16(at, value, true);
    return this;
  }
  u32(at: number, value: number) {
    this.#view.setUint32(at, value >>> 0, true);
    return this;
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

async function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export type ZipInput = { name: string; data: Uint8Array | string; deflate?: boolean }[];

/** A ZIP archive: local headers and data, then the central directory and its end record. */
export async function zip(entries: ZipInput): Promise<Uint8Array> {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    const data = typeof entry.data === "string" ? encoder.encode(entry.data) : entry.data;
    const stored = entry.deflate ? await deflateRaw(data) : data;
    const method = entry.deflate ? 8 : 0;
    const crc = crc32(data);
    const local = new Writer(30 + name.length)
      .u32(0, 0x04034b50)
      .u16(4, 20)
      .u16(8, method)
      .u32(14, crc)
      .u32(18, stored.length)
      .u32(22, data.length)
      .u16(26, name.length).bytes;
    local.set(name, 30);
    const central = new Writer(46 + name.length)
      .u32(0, 0x02014b50)
      .u16(4, 20)
      .u16(6, 20)
      .u16(10, method)
      .u32(16, crc)
      .u32(20, stored.length)
      .u32(24, data.length)
      .u16(28, name.length)
      .u32(42, offset).bytes;
    central.set(name, 46);
    locals.push(local, stored);
    centrals.push(central);
    offset += local.length + stored.length;
  }
  const directory = concatBytes(centrals);
  const end = new Writer(22)
    .u32(0, 0x06054b50)
    .u16(8, entries.length)
    .u16(10, entries.length)
    .u32(12, directory.length)
    .u32(16, offset).bytes;
  return concatBytes([...locals, directory, end]);
}

const CONTENT_TYPES = {
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
  docm: "application/vnd.ms-word.document.macroEnabled.main+xml",
  xlsm: "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
};

function contentTypes(main: string, mainPart: string, vba?: string): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="${mainPart}" ContentType="${main}"/>${vba ? `<Override PartName="${vba}" ContentType="application/vnd.ms-office.vbaProject"/>` : ""}</Types>`;
}

const RELS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`;
const DOCUMENT = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p></w:body></w:document>`;
/** Opaque bytes standing in for a VBA project (an OLE2 file in real packages). */
const VBA_PROJECT = new Uint8Array(512).fill(0x41);

/** A Word package; `macros` adds a VBA project the way Word saves a .docm. `padding` puts that
 * many bytes of an image before it, so the project is named only past the first 8 KiB. */
export async function wordPackage(
  options: { macros?: boolean; vbaPartName?: string; padding?: number } = {},
): Promise<Uint8Array> {
  const vbaPart = options.vbaPartName ?? "word/vbaProject.bin";
  const entries: ZipInput = [
    {
      name: "[Content_Types].xml",
      data: contentTypes(
        options.macros ? CONTENT_TYPES.docm : CONTENT_TYPES.docx,
        "/word/document.xml",
        options.macros ? `/${vbaPart}` : undefined,
      ),
      deflate: true,
    },
    { name: "_rels/.rels", data: RELS, deflate: true },
    { name: "word/document.xml", data: DOCUMENT, deflate: true },
  ];
  if (options.padding) {
    const image = new Uint8Array(options.padding);
    crypto.getRandomValues(image.subarray(0, Math.min(65536, image.length)));
    entries.push({ name: "word/media/image1.png", data: image });
  }
  if (options.macros) entries.push({ name: vbaPart, data: VBA_PROJECT });
  return zip(entries);
}

/** An Excel package with a VBA project (.xlsm). */
export function excelMacroPackage(): Promise<Uint8Array> {
  return zip([
    {
      name: "[Content_Types].xml",
      data: contentTypes(CONTENT_TYPES.xlsm, "/xl/workbook.xml", "/xl/vbaProject.bin"),
    },
    { name: "xl/workbook.xml", data: "<workbook/>" },
    { name: "xl/vbaProject.bin", data: VBA_PROJECT },
  ]);
}

type DirectoryEntry = { name: string; type: 1 | 2 | 5; children?: DirectoryEntry[] };

/**
 * An OLE2 compound file (512-byte sectors) with these storages and streams under the root. The
 * directory is placed after `gap` free sectors, so it lies past the first 8 KiB when gap ≥ 16.
 */
export function compoundFile(rootChildren: DirectoryEntry[], gap = 0): Uint8Array {
  const flat: { entry: DirectoryEntry; left: number; right: number; child: number }[] = [];
  const NONE = 0xffffffff;
  const add = (entry: DirectoryEntry) => {
    flat.push({ entry, left: NONE, right: NONE, child: NONE });
    return flat.length - 1;
  };
  // Siblings as a chain of right links: a valid (if unbalanced) red-black tree shape to read.
  const addChildren = (parent: number, children: DirectoryEntry[]) => {
    let previous = -1;
    for (const child of children) {
      const id = add(child);
      if (previous < 0) (flat[parent] as { child: number }).child = id;
      else (flat[previous] as { right: number }).right = id;
      previous = id;
      addChildren(id, child.children ?? []);
    }
  };
  addChildren(add({ name: "Root Entry", type: 5 }), rootChildren);

  const directorySectors = Math.ceil(flat.length / 4);
  const firstDirectory = 1 + gap;
  const sectors = firstDirectory + directorySectors;
  const file = new Writer(512 * (1 + sectors));
  file.bytes.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
  file
    .u16(24, 0x3e)
    .u16(26, 3)
    .u16(28, 0xfffe)
    .u16(30, 9)
    .u16(32, 6)
    .u32(44, 1)
    .u32(48, firstDirectory)
    .u32(56, 4096)
    .u32(60, 0xfffffffe)
    .u32(68, 0xfffffffe);
  for (let i = 0; i < 109; i++) file.u32(76 + i * 4, i === 0 ? 0 : NONE);
  // Sector 0: the FAT.
  const fat = 512;
  for (let s = 0; s < 128; s++) file.u32(fat + s * 4, NONE);
  file.u32(fat, 0xfffffffd);
  for (let s = firstDirectory; s < sectors; s++) file.u32(fat + s * 4, s + 1 < sectors ? s + 1 : 0xfffffffe);
  // The directory.
  flat.forEach(({ entry, left, right, child }, i) => {
    const at = 512 * (1 + firstDirectory) + i * 128;
    for (let c = 0; c < entry.name.length; c++) file.u16(at + c * 2, entry.name.charCodeAt(c));
    file.u16(at + 64, (entry.name.length + 1) * 2);
    file.bytes[at + 66] = entry.type;
    file.bytes[at + 67] = 1;
    file
      .u32(at + 68, left)
      .u32(at + 72, right)
      .u32(at + 76, child);
    file.u32(at + 116, 0xfffffffe).u32(at + 120, 0);
  });
  return file.bytes;
}

const stream = (name: string): DirectoryEntry => ({ name, type: 2 });
const storage = (name: string, children: DirectoryEntry[]): DirectoryEntry => ({ name, type: 1, children });

/** A Word 97–2003 document; `macros` adds the `Macros/VBA/_VBA_PROJECT` storages Word writes. */
export function legacyWordDocument(options: { macros?: boolean; gap?: number } = {}): Uint8Array {
  const children = [stream("\u0001CompObj"), stream("WordDocument"), stream("1Table")];
  if (options.macros) {
    children.push(storage("Macros", [storage("VBA", [stream("dir"), stream("_VBA_PROJECT")]), stream("PROJECT")]));
  }
  return compoundFile(children, options.gap ?? 0);
}

/** An Excel 97–2003 workbook with a VBA project (`_VBA_PROJECT_CUR`). */
export const legacyExcelWithMacros = () =>
  compoundFile([stream("Workbook"), storage("_VBA_PROJECT_CUR", [storage("VBA", [stream("dir")])])]);

/** A compound file that is no Office document (an installer's streams). */
export const installerPackage = () => compoundFile([stream("\u4840\u3f3f\u4577"), stream("SummaryInformation")]);

// Packages with text, for the content-search tests: the parts that hold text as Office and
// LibreOffice write them (namespaced elements, runs split mid-sentence, entities).

const xmlText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';
const typesOf = (overrides: Record<string, string>) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>${Object.entries(
    overrides,
  )
    .map(([part, type]) => `<Override PartName="${part}" ContentType="${type}"/>`)
    .join("")}</Types>`;

/** A .docx whose paragraphs are these (each split into two runs). */
export function docxWithText(paragraphs: string[]): Promise<Uint8Array> {
  const body = paragraphs
    .map((p) => {
      const half = Math.floor(p.length / 2);
      return `<w:p><w:r><w:t xml:space="preserve">${xmlText(p.slice(0, half))}</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>${xmlText(p.slice(half))}</w:t></w:r></w:p>`;
    })
    .join("");
  return zip([
    { name: "[Content_Types].xml", data: contentTypes(CONTENT_TYPES.docx, "/word/document.xml"), deflate: true },
    { name: "_rels/.rels", data: RELS, deflate: true },
    {
      name: "word/document.xml",
      data: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document ${W}><w:body>${body}<w:sectPr/></w:body></w:document>`,
      deflate: true,
    },
  ]);
}

/** A .xlsx whose cells hold these strings (shared strings) and one inline string. */
export function xlsxWithText(strings: string[], inline: string): Promise<Uint8Array> {
  const ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"';
  return zip([
    {
      name: "[Content_Types].xml",
      data: typesOf({
        "/xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
      }),
      deflate: true,
    },
    {
      name: "xl/workbook.xml",
      data: `<workbook ${ns}><sheets><sheet name="S" sheetId="1"/></sheets></workbook>`,
      deflate: true,
    },
    {
      name: "xl/sharedStrings.xml",
      data: `<sst ${ns} count="${strings.length}">${strings.map((s) => `<si><t>${xmlText(s)}</t></si>`).join("")}</sst>`,
      deflate: true,
    },
    {
      name: "xl/worksheets/sheet1.xml",
      data: `<worksheet ${ns}><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>31337</v></c><c r="C1" t="inlineStr"><is><t>${xmlText(inline)}</t></is></c><c r="D1" t="b"><v>1</v></c><c r="E1" t="str"><f>"formula"&amp;"word"</f><v>formulaword</v></c><c r="F1" t="e"><v>#DIV/0!</v></c><c r="G1" s="1" t="n"><v>2.5</v></c></row></sheetData></worksheet>`,
      deflate: true,
    },
  ]);
}

/** A .pptx whose slides (in order: slide2.xml is the second) hold these texts. */
export function pptxWithText(slides: string[]): Promise<Uint8Array> {
  const ns =
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"';
  return zip([
    {
      name: "[Content_Types].xml",
      data: typesOf({
        "/ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
      }),
      deflate: true,
    },
    { name: "ppt/presentation.xml", data: `<p:presentation ${ns}/>`, deflate: true },
    // Stored in reverse: the order of the text is the slides' numbers, not the archive's.
    ...slides
      .map((text, i) => ({
        name: `ppt/slides/slide${i + 1}.xml`,
        data: `<p:sld ${ns}><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>${xmlText(text)}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>`,
        deflate: true,
      }))
      .reverse(),
  ]);
}

/** An OpenDocument text (.odt) with these paragraphs. */
export function odtWithText(paragraphs: string[]): Promise<Uint8Array> {
  const ns =
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"';
  return zip([
    { name: "mimetype", data: "application/vnd.oasis.opendocument.text" },
    {
      name: "content.xml",
      data: `<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content ${ns}><office:body><office:text>${paragraphs
        .map((p) => `<text:p text:style-name="P1">${xmlText(p)}</text:p>`)
        .join("")}</office:text></office:body></office:document-content>`,
      deflate: true,
    },
    { name: "META-INF/manifest.xml", data: "<manifest/>", deflate: true },
  ]);
}
