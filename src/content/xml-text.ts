// The text of an XML part, fed in chunks as it inflates: a small state machine that keeps only the
// current tag (bounded) and the text between tags, so a part of any size is never held whole.
import { decodeEntities, ExtractionRefused, type TextCollector } from "./collector";

export type XmlTextRules = {
  /** Elements whose character data is text (`w:t`); null: all character data. */
  text: ReadonlySet<string> | null;
  /** Elements that end a line when they close (paragraphs, rows) or stand for one (`w:br`). */
  lines: ReadonlySet<string>;
  /** Elements that stand for a space or a tab (`w:tab`, a cell). */
  spaces: ReadonlySet<string>;
  /** An element whose content is never text when its attributes match (a cell holding an index). */
  skip?: { element: string; attributes: RegExp };
};

/** A tag (name and attributes) longer than this is not Office's. */
const MAX_TAG_CHARS = 1024 * 1024;

export class XmlTextExtractor {
  #decoder = new TextDecoder("utf-8");
  #inTag = false;
  #tag = "";
  #text = "";
  #depth = 0;
  #skipping = 0;

  constructor(
    readonly rules: XmlTextRules,
    readonly out: TextCollector,
  ) {}

  push(bytes: Uint8Array, final = false): void {
    this.#feed(this.#decoder.decode(bytes, { stream: !final }));
    if (final) this.#flushText(true);
  }

  #feed(chunk: string): void {
    let at = 0;
    while (at < chunk.length && !this.out.full) {
      if (this.#inTag) {
        const end = chunk.indexOf(">", at);
        this.#tag += chunk.slice(at, end < 0 ? chunk.length : end);
        if (this.#tag.length > MAX_TAG_CHARS) throw new ExtractionRefused("A part of the file is not well-formed XML.");
        if (end < 0) return;
        at = end + 1;
        // Comments and CDATA may contain ">": they end with "--" and "]]".
        if (this.#tag.startsWith("!--") && !this.#tag.endsWith("--")) {
          this.#tag += ">";
          continue;
        }
        if (this.#tag.startsWith("![CDATA[")) {
          if (!this.#tag.endsWith("]]")) {
            this.#tag += ">";
            continue;
          }
          if (this.#capturing()) this.out.add(this.#tag.slice(8, -2));
        } else this.#onTag(this.#tag);
        this.#inTag = false;
        this.#tag = "";
      } else {
        const start = chunk.indexOf("<", at);
        this.#text += chunk.slice(at, start < 0 ? chunk.length : start);
        if (start < 0) {
          this.#flushText(false);
          return;
        }
        this.#flushText(true);
        this.#inTag = true;
        at = start + 1;
      }
    }
  }

  #capturing(): boolean {
    return this.#skipping === 0 && (this.rules.text === null || this.#depth > 0);
  }

  /** Text up to the tag (or, mid-text, up to a possible entity split by the chunk's end). */
  #flushText(complete: boolean): void {
    let text = this.#text;
    this.#text = "";
    if (!complete) {
      const cut = text.lastIndexOf("&");
      if (cut >= 0 && text.length - cut <= 12) {
        this.#text = text.slice(cut);
        text = text.slice(0, cut);
      }
    }
    if (text && this.#capturing()) this.out.add(decodeEntities(text));
  }

  #onTag(tag: string): void {
    if (tag.startsWith("?") || tag.startsWith("!")) return;
    const closing = tag.startsWith("/");
    const selfClosing = tag.endsWith("/");
    const name = (closing ? tag.slice(1) : tag).split(/[\s/]/, 1)[0] ?? "";
    const { text, lines, spaces, skip } = this.rules;
    if (skip && name === skip.element && !selfClosing) {
      if (closing) this.#skipping = Math.max(0, this.#skipping - 1);
      else if (this.#skipping > 0 || skip.attributes.test(tag)) this.#skipping += 1;
    }
    if (text?.has(name)) {
      if (closing) this.#depth = Math.max(0, this.#depth - 1);
      else if (!selfClosing) this.#depth += 1;
    }
    if (lines.has(name) && (closing || selfClosing)) this.out.add("\n");
    else if (spaces.has(name) && (closing || selfClosing)) this.out.add(name.endsWith("tab") ? "\t" : " ");
  }
}
