// PDF through unpdf (pdf.js built for serverless runtimes), loaded on first use. pdf.js needs the
// whole file: the object is read once into one buffer (files over PDF_MAX_BYTES are refused
// before reading), then pages are read one at a time up to PDF_MAX_PAGES.
import { ExtractionRefused, type TextCollector } from "./collector";

/** Larger PDFs are not extracted (`failed`): pdf.js holds the file and its parsed objects. */
export const PDF_MAX_BYTES = 25 * 1024 * 1024;
/** Pages read at most; the text of later pages is not indexed (like text past CONTENT_MAX_CHARS). */
export const PDF_MAX_PAGES = 500;

type TextItem = { str?: string; hasEOL?: boolean };

export async function extractPdf(bytes: Uint8Array, out: TextCollector): Promise<void> {
  const { getDocumentProxy } = await import("unpdf");
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    pdf = await getDocumentProxy(bytes, { disableFontFace: true, verbosity: 0 });
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "PasswordException") throw new ExtractionRefused("The PDF is encrypted with a password.");
    throw new ExtractionRefused(`The PDF could not be read (${name || "damaged file"}).`);
  }
  try {
    const pages = Math.min(pdf.numPages, PDF_MAX_PAGES);
    for (let number = 1; number <= pages && !out.full; number++) {
      let items: TextItem[];
      try {
        const page = await pdf.getPage(number);
        items = (await page.getTextContent()).items as TextItem[];
        page.cleanup();
      } catch (error) {
        const name = error instanceof Error ? error.name : "";
        throw new ExtractionRefused(`Page ${number} of the PDF could not be read (${name || "damaged page"}).`);
      }
      for (const item of items) {
        if (item.str) out.add(item.str);
        if (item.hasEOL) out.add("\n");
      }
      out.add("\n\n");
    }
  } finally {
    await pdf.loadingTask.destroy().catch(() => {});
  }
}
