// The extracted text, collected up to its bound: extraction stops reading as soon as it is full.

/** An extraction refused for a reason of the file itself (a zip bomb, an encrypted file, damage): `failed`. */
export class ExtractionRefused extends Error {}

/** Appends text up to `maxChars` UTF-16 code units; NULs (which PostgreSQL text cannot hold) become spaces. */
export class TextCollector {
  #parts: string[] = [];
  #length = 0;
  #full = false;

  constructor(readonly maxChars: number) {}

  /** Some text did not fit: what was kept is the beginning, and reading may stop. */
  get full(): boolean {
    return this.#full;
  }

  add(text: string): void {
    if (this.#full || text.length === 0) return;
    let clean = text.replaceAll("\u0000", " ");
    const room = this.maxChars - this.#length;
    // Exactly filling the bound cuts nothing: only text that does not fit makes it full.
    if (clean.length > room) {
      clean = clean.slice(0, room);
      // Never keep half of a surrogate pair.
      if (/[\uD800-\uDBFF]$/.test(clean)) clean = clean.slice(0, -1);
      this.#full = true;
    }
    this.#parts.push(clean);
    this.#length += clean.length;
  }

  text(): string {
    const joined = this.#parts.join("");
    this.#parts = [joined];
    return joined;
  }
}

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00A0" };

/** XML's entities and numeric character references (HTML's most common named ones too). */
export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});/g, (whole, name: string) => {
    if (name.startsWith("#")) {
      const code = name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : " ";
    }
    return NAMED[name] ?? whole;
  });
}
