// Scripts and markup never keep an executable name (#12 finding 5): HTML, SVG and XML are detected
// from the bytes and answer to the allow-list; any other file whose extension is not its detected
// type's is stored with that type's extension appended, and downloads carry that name. Office
// documents with macros, found through the ZIP central directory or the OLE2 directory, are
// refused unless the allow-list names the macro-enabled type.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { blobSource } from "../../src/documents/containers";
import { detectType, nameForType, sniffMarkup } from "../../src/documents/file-types";
import worker from "../../src/index";
import { newUser, postJson } from "../support/auth";
import { sha256Hex } from "../support/bytes";
import { DOCS, download, multipart, samplePdf, uploadDocument, uploadVersion } from "../support/documents";
import {
  excelMacroPackage,
  installerPackage,
  legacyExcelWithMacros,
  legacyWordDocument,
  wordPackage,
  zip,
} from "../support/office";
import { testSql, testStorage } from "../support/stack";

const sql = testSql();
let user: Awaited<ReturnType<typeof newUser>>;

beforeAll(async () => {
  user = await newUser("file-types");
});

const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const DOCM = "application/vnd.ms-word.document.macroEnabled.12";
const XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12";

async function state() {
  const [row] =
    await sql`select (select count(*) from documents)::int as docs, (select count(*) from document_versions)::int as versions`;
  return { ...row, objects: (await testStorage().listKeys("documents/")).length };
}

/** Downloads the current version: the API's file_name and the store's Content-Disposition. */
async function downloaded(id: string) {
  const res = await download(user.auth, id);
  expect(res.status).toBe(200);
  const info = (await res.json()) as { url: string; file_name: string; content_type: string };
  const file = await fetch(info.url);
  expect(file.status).toBe(200);
  await file.arrayBuffer();
  const disposition = file.headers.get("content-disposition") as string;
  return { info, disposition, name: decodeURIComponent(disposition.split("UTF-8''")[1] as string) };
}

/** The Worker with other bindings, e.g. an allow-list. */
async function withBindings(request: Request, bindings: Partial<Record<keyof Env, string>>) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Parameters<typeof worker.fetch>[0], { ...env, ...bindings } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const HTML_PAYLOAD = "<!DOCTYPE html><html><body><script>fetch('/api/v1/auth/me')</script></body></html>";
const SVG_PAYLOAD = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><circle r="5"/></svg>';
const XML_PAYLOAD = '<?xml version="1.0"?>\n<note><to>you</to></note>';
const HTA_PAYLOAD =
  '<html><head><HTA:APPLICATION ID="x"/><script language="VBScript">CreateObject("WScript.Shell").Run "calc"</script></head></html>';

describe("script and markup names", () => {
  const refused: [string, string][] = [
    ["payload.html", HTML_PAYLOAD],
    ["image.svg", SVG_PAYLOAD],
    ["x.xml", XML_PAYLOAD],
    ["x.hta", HTA_PAYLOAD],
    // The bytes decide, whatever the name claims.
    ["notes.txt", `\uFEFF  \n<!-- generated -->\n<IFRAME src="https://evil.example">`],
    ["logo.png.txt", `<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x"><svg/>`],
  ];
  it.each(refused)("%s holding markup is refused with 415 and stores nothing", async (name, text) => {
    const before = await state();
    const res = await uploadDocument(user.auth, { bytes: text, name, type: "text/plain" });
    expect(res.status).toBe(415);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await state()).toEqual(before);
  });

  const renamed: [string, string, string][] = [
    ["run.bat", "run.bat.txt", "@echo off\r\ndel /q C:\\Users\\*\r\n"],
    ["x.hta", "x.hta.txt", "just words, no markup"],
    ["evil.js", "evil.js.txt", "new ActiveXObject('WScript.Shell').Run('calc');\n"],
    ["payload.html", "payload.html.txt", "Dear reader, <script> appears here but not at the start."],
    ["image.svg", "image.svg.txt", "not an image at all"],
    ["x.xml", "x.xml.txt", "plain words"],
    ["setup.ps1", "setup.ps1.txt", "Remove-Item -Recurse C:\\\n"],
    // A name without any extension gets one too: "agrees with the detected type" has no exception.
    ["README", "README.txt", "read me"],
  ];
  it.each(renamed)("%s holding text is stored, and downloads, as %s", async (name, stored, text) => {
    const res = await uploadDocument(user.auth, { bytes: text, name, type: "application/octet-stream" });
    expect(res.status).toBe(201);
    const doc = (await res.json()) as { id: string; file_name: string; content_type: string };
    expect(doc.file_name).toBe(stored);
    expect(doc.content_type).toBe("text/plain; charset=utf-8");
    const { info, name: saved } = await downloaded(doc.id);
    expect(info.file_name).toBe(stored);
    expect(saved).toBe(stored);
  });

  it("keeps names whose extension is the detected type's, in any case", async () => {
    for (const [name, bytes] of [
      ["Notes.TXT", "hello"],
      ["data.csv", "a,b\n1,2\n"],
      ["report.pdf", samplePdf()],
    ] as const) {
      const res = await uploadDocument(user.auth, { bytes, name });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { file_name: string }).file_name).toBe(name);
    }
  });

  it("appends the detected type's extension to a new version's name too", async () => {
    const res = await uploadDocument(user.auth, { bytes: samplePdf(), name: "plan.pdf" });
    const { id } = (await res.json()) as { id: string };
    const version = await uploadVersion(user.auth, id, { bytes: "@echo off\r\n", name: "plan.cmd" });
    expect(version.status).toBe(201);
    expect(((await version.json()) as { file_name: string }).file_name).toBe("plan.cmd.txt");
    expect((await downloaded(id)).name).toBe("plan.cmd.txt");
  });

  it("accepts Markdown that opens with an HTML block, as Markdown under its .md name", async () => {
    const text = '<p align="center"><img src="logo.png"></p>\n\n# Project\n';
    const res = await uploadDocument(user.auth, { bytes: text, name: "README.md" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ file_name: "README.md", content_type: "text/markdown; charset=utf-8" });
  });

  it("stores HTML as text/html under an .html name when the allow-list names text/html", async () => {
    const request = new Request(DOCS, {
      method: "POST",
      headers: user.auth,
      body: multipart({ bytes: HTML_PAYLOAD, name: "page.htm.exe" }),
    });
    const res = await withBindings(request, { ALLOWED_CONTENT_TYPES: "text/html,application/pdf" });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      file_name: "page.htm.exe.html",
      content_type: "text/html; charset=utf-8",
    });
  });
});

describe("Office documents with macros", () => {
  it("refuses a .docm (vbaProject.bin named only in the central directory, past the first 8 KiB)", async () => {
    const before = await state();
    const bytes = await wordPackage({ macros: true, padding: 20_000 });
    for (const name of ["invoice.docm", "invoice.docx"]) {
      const res = await uploadDocument(user.auth, { bytes, name, type: DOCX });
      expect(res.status).toBe(415);
      expect(((await res.json()) as { detail: string }).detail).toContain("contains macros");
    }
    expect(await state()).toEqual(before);
  });

  it("refuses a package whose VBA project is renamed but declared in [Content_Types].xml", async () => {
    const bytes = await wordPackage({ macros: true, vbaPartName: "word/styles2.bin" });
    expect((await uploadDocument(user.auth, { bytes, name: "a.docx" })).status).toBe(415);
  });

  it("refuses an .xlsm and an OLE2 .doc or .xls holding a VBA project", async () => {
    const before = await state();
    for (const [bytes, name] of [
      [await excelMacroPackage(), "book.xlsx"],
      [legacyWordDocument({ macros: true }), "letter.doc"],
      // The directory sits past the first 8 KiB: found through the header, not the first bytes.
      [legacyWordDocument({ macros: true, gap: 40 }), "letter.doc"],
      [legacyExcelWithMacros(), "sheet.xls"],
    ] as const) {
      const res = await uploadDocument(user.auth, { bytes, name });
      expect(res.status, name).toBe(415);
      expect(((await res.json()) as { detail: string }).detail, name).toContain("contains macros");
    }
    expect(await state()).toEqual(before);
  });

  it("accepts a plain .docx and a plain .doc, with their types decided by their contents", async () => {
    const docx = await uploadDocument(user.auth, { bytes: await wordPackage({ padding: 20_000 }), name: "plan.docx" });
    expect(docx.status).toBe(201);
    expect(await docx.json()).toMatchObject({ file_name: "plan.docx", content_type: DOCX });
    const doc = await uploadDocument(user.auth, { bytes: legacyWordDocument({ gap: 40 }), name: "letter.doc" });
    expect(doc.status).toBe(201);
    expect(await doc.json()).toMatchObject({ file_name: "letter.doc", content_type: "application/msword" });
    // The name no longer decides what an OLE2 file is.
    const renamed = await uploadDocument(user.auth, { bytes: legacyWordDocument(), name: "letter.xls" });
    expect(await renamed.json()).toMatchObject({ file_name: "letter.xls.doc", content_type: "application/msword" });
  });

  it("refuses an OLE2 file that is no Office document (an installer named .doc)", async () => {
    const res = await uploadDocument(user.auth, { bytes: installerPackage(), name: "setup.doc" });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { detail: string }).detail).toContain("unknown OLE2 container");
  });

  it("accepts macros when the allow-list names the macro-enabled type", async () => {
    const allowList = { ALLOWED_CONTENT_TYPES: `${DOCX},application/msword,${DOCM}` };
    const post = (bytes: Uint8Array, name: string) =>
      withBindings(
        new Request(DOCS, { method: "POST", headers: user.auth, body: multipart({ bytes, name }) }),
        allowList,
      );
    const docm = await post(await wordPackage({ macros: true }), "macro.docx");
    expect(docm.status).toBe(201);
    expect(await docm.json()).toMatchObject({ file_name: "macro.docx.docm", content_type: DOCM });
    const doc = await post(legacyWordDocument({ macros: true }), "macro.doc");
    expect(doc.status).toBe(201);
    expect(await doc.json()).toMatchObject({ file_name: "macro.doc", content_type: "application/msword" });
    // Naming Word's macro type does not allow Excel's.
    expect((await post(await excelMacroPackage(), "book.xlsm")).status).toBe(415);
  });
});

describe("direct uploads", () => {
  const UPLOADS = "http://api.test/api/v1/uploads";
  async function direct(bytes: Uint8Array, fileName: string, contentType: string) {
    const start = await postJson(
      UPLOADS,
      { file_name: fileName, content_type: contentType, size_bytes: bytes.byteLength, sha256: await sha256Hex(bytes) },
      user.auth,
    );
    expect(start.status).toBe(201);
    const ticket = (await start.json()) as { upload_id: string; url: string; headers: Record<string, string> };
    const put = await fetch(ticket.url, { method: "PUT", headers: ticket.headers, body: bytes });
    expect(put.status).toBe(200);
    return postJson(`${UPLOADS}/${ticket.upload_id}/complete`, {}, user.auth);
  }

  it("store a script under the detected type's extension", async () => {
    const res = await direct(new TextEncoder().encode("@echo off\r\n"), "run.bat", "text/plain");
    expect(res.status).toBe(201);
    const doc = (await res.json()) as { id: string; file_name: string; title: string };
    expect(doc.file_name).toBe("run.bat.txt");
    // The default title is the stored name, as for an upload through the API.
    expect(doc.title).toBe("run.bat.txt");
    expect((await downloaded(doc.id)).name).toBe("run.bat.txt");
  });

  it("refuse a .docm found through ranged reads of the stored object", async () => {
    const res = await direct(await wordPackage({ macros: true, padding: 20_000 }), "a.docx", DOCX);
    expect(res.status).toBe(415);
    expect(((await res.json()) as { detail: string }).detail).toContain("contains macros");
  });
});

describe("detection", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  const detect = (bytes: Uint8Array | string, fileName = "x", declaredType?: string) =>
    detectType(blobSource(new Blob([typeof bytes === "string" ? text(bytes) : (bytes as Uint8Array<ArrayBuffer>)])), {
      fileName,
      declaredType,
    });

  it.each([
    ["<!DOCTYPE HTML>", "text/html"],
    ["\uFEFF\t\r\n <html lang=en>", "text/html"],
    ["<SCRIPT>alert(1)</SCRIPT>", "text/html"],
    ["<iframe src=x>", "text/html"],
    ["<body onload=x>", "text/html"],
    ["<b>bold</b>", "text/html"],
    ["<!-- just a comment -->", "text/html"],
    ["<!-- c --><svg/>", "image/svg+xml"],
    ["<svg>", "image/svg+xml"],
    ["<svg:svg xmlns:svg='http://www.w3.org/2000/svg'>", "image/svg+xml"],
    ['<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"],
    ['<?xml version="1.0"?><!DOCTYPE svg [ <!ENTITY a "b"> ]><svg/>', "image/svg+xml"],
    ['<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script/></html>', "text/html"],
    ['<?xml version="1.0"?><!-- c --><note/>', "application/xml"],
    ["<?xml version='1.0'?>", "application/xml"],
    ["<note>hi</note>", null],
    ["<3 you", null],
    ["<abbr>", null],
    ["a <script> later", null],
    ["", null],
  ])("sniffs %j as %s", (input, expected) => {
    expect(sniffMarkup(text(input))).toBe(expected);
  });

  it("answers the detected types, with macros as a separate condition", async () => {
    expect(await detect("<html>", "x.txt")).toEqual({ type: "text/html" });
    expect(await detect("<html>", "x.md")).toEqual({ type: "text/markdown" });
    expect(await detect(await wordPackage())).toEqual({ type: DOCX });
    expect(await detect(await wordPackage({ macros: true, padding: 20_000 }))).toEqual({ type: DOCM });
    expect(await detect(await excelMacroPackage())).toEqual({ type: XLSM });
    expect(await detect(legacyWordDocument({ macros: true }))).toEqual({ type: "application/msword", macroType: DOCM });
    expect(await detect(legacyExcelWithMacros())).toEqual({ type: "application/vnd.ms-excel", macroType: XLSM });
    expect(await detect(installerPackage())).toEqual({ rejected: "unknown OLE2 container" });
    // A ZIP that is not an OOXML package, and one whose directory cannot be read, are archives.
    expect(await detect(await zip([{ name: "word/notes.txt", data: "x" }]))).toEqual({ type: "application/zip" });
    const damaged = await wordPackage({ macros: true });
    expect(await detect(damaged.subarray(0, damaged.length - 30))).toEqual({ type: "application/zip" });
    // A truncated compound file cannot hide its directory: it is refused.
    expect(await detect(legacyWordDocument({ gap: 40 }).subarray(0, 4096))).toEqual({
      rejected: "unreadable OLE2 container",
    });
  });

  it("appends extensions within the 255-character limit", () => {
    expect(nameForType("a.JPEG", "image/jpeg")).toBe("a.JPEG");
    expect(nameForType("a.jpg.exe", "image/jpeg")).toBe("a.jpg.exe.jpg");
    expect(nameForType("trailing.bat.", "text/plain")).toBe("trailing.bat..txt");
    const long = `${"é".repeat(254)}.bat`;
    const named = nameForType(long, "text/plain");
    expect([...named].length).toBe(255);
    expect(named.endsWith("é.txt")).toBe(true);
  });
});
