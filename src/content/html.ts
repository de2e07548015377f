// HTML: the text of the document, through workerd's streaming HTMLRewriter, without scripts,
// styles, templates and other non-text elements; block elements separate their text by a line.
// The object's body streams through, so memory stays bounded whatever the file's size. HTML's
// 2,231 named character references (&eacute;, &mdash;, &nbsp without its semicolon…) are decoded
// by `entities` (the decoder of htmlparser2 and cheerio, ~10 KiB gzipped in the bundle), as a
// browser would; XML's five are collector.ts's.
import { decodeHTML } from "entities/decode";
import type { TextCollector } from "./collector";

const SKIPPED = "script, style, noscript, template, svg, math, iframe, object";
const BLOCKS =
  "p, div, br, li, tr, td, th, h1, h2, h3, h4, h5, h6, section, article, header, footer, pre, blockquote, title";

export async function extractHtml(body: ReadableStream<Uint8Array>, out: TextCollector): Promise<void> {
  let skipping = 0;
  let pending = "";
  const flush = () => {
    out.add(decodeHTML(pending));
    pending = "";
  };
  const rewriter = new HTMLRewriter()
    .on(SKIPPED, {
      element(element) {
        skipping += 1;
        element.onEndTag(() => {
          skipping -= 1;
        });
      },
    })
    .on(BLOCKS, {
      element() {
        pending += "\n";
      },
    })
    .onDocument({
      text(chunk) {
        if (skipping > 0) return;
        pending += chunk.text;
        // An entity may straddle two chunks: flush up to the last "&" only (the longest name,
        // &CounterClockwiseContourIntegral;, is 33 characters).
        const cut = pending.lastIndexOf("&");
        if (cut < 0 || pending.length - cut > 40) flush();
        else if (cut > 0) {
          out.add(decodeHTML(pending.slice(0, cut)));
          pending = pending.slice(cut);
        }
      },
    });
  const reader = rewriter.transform(new Response(body)).body?.getReader();
  if (!reader) return;
  try {
    while (!out.full) {
      const { done } = await reader.read();
      if (done) break;
    }
    flush();
  } finally {
    await reader.cancel().catch(() => {});
  }
}
