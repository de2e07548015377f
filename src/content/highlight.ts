// Search highlights: PostgreSQL's ts_headline picks the excerpt around the best match, but it
// neither escapes HTML nor limits characters. So it marks matches with two private-use characters
// that are first removed from the text itself (a document containing them cannot forge a mark),
// and renderHighlight escapes everything else, turns the sentinels into <mark>/</mark> and cuts
// the excerpt to HIGHLIGHT_MAX_CHARS visible characters, keeping the tags balanced.
import { type SQL, sql } from "drizzle-orm";

const START = "\uE000";
const STOP = "\uE001";
// Sentinels found in the text itself become spaces (translate, below), so none can be forged.
// ts_headline's parser takes "<b>" or "<report>" for an HTML tag and drops it from the excerpt:
// angle brackets travel as two more private-use characters and come back in renderHighlight.
const LT = "\uE002";
const GT = "\uE003";

/** Visible characters of an excerpt at most (the contract's "~240"), the ellipsis included. */
export const HIGHLIGHT_MAX_CHARS = 240;
/**
 * ts_headline parses the whole text it is given, for each item of the page: the content is
 * excerpted from its first HIGHLIGHT_SCAN_CHARS characters only (a match found deeper in a long
 * text still finds the document, but its excerpt shows the start of the text, without a mark).
 */
export const HIGHLIGHT_SCAN_CHARS = 30_000;

const OPTIONS = `StartSel="${START}", StopSel="${STOP}", MaxWords=30, MinWords=8, ShortWord=3, MaxFragments=2, FragmentDelimiter=" … "`;

/**
 * The raw excerpt of list row `page` (title, description, then the content `pc.text` of its current
 * version) for `tsquery`: text with sentinel-marked matches, for renderHighlight.
 */
export const highlightColumn = (tsquery: SQL) => sql`ts_headline('english',
  translate(page.title || E'\\n' || coalesce(page.description, '') || E'\\n' || coalesce(left(pc.text, ${HIGHLIGHT_SCAN_CHARS}), ''),
            ${`${START}${STOP}${LT}${GT}<>`}, ${`    ${LT}${GT}`}),
  ${tsquery}, ${OPTIONS})`;

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  [LT]: "&lt;",
  [GT]: "&gt;",
};

/** HTML of an excerpt: only `<mark>`/`</mark>` are markup; at most HIGHLIGHT_MAX_CHARS visible characters. */
export function renderHighlight(raw: string): string {
  const text = raw.replace(/\s+/g, " ").trim();
  let html = "";
  let visible = 0;
  let open = false;
  let truncated = false;
  for (const char of text) {
    if (char === START || char === STOP) {
      if ((char === START) !== open) {
        html += open ? "</mark>" : "<mark>";
        open = !open;
      }
      continue;
    }
    if (visible >= HIGHLIGHT_MAX_CHARS - 1) {
      truncated = true;
      break;
    }
    html += ESCAPES[char] ?? char;
    visible += 1;
  }
  if (open) html += "</mark>";
  return (truncated ? `${html.trimEnd()}…` : html).replaceAll("<mark></mark>", "");
}
