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
 * ts_headline parses (and stems) all the text it is given, for each item of the page: ~0.4 ms per
 * 3 KB measured on the bench data, too much for twenty items (0.04 ms for 300 characters). So it gets the title and a window of
 * HIGHLIGHT_WINDOW_CHARS of the description and of the content, around the first place where a
 * word of the query appears, found by strpos (cheap) in the first HIGHLIGHT_SCAN_CHARS characters.
 * The query's words are looked for by their stem, or else by their stem less its last letter
 * ("studi" → "stud", which "study" and "studies" contain: stemsOf); a stem found nowhere gives the window at the start of the text
 * (the document still matched, its excerpt then shows no mark). `lower` under the "C" collation
 * lowers ASCII letters only, byte by byte: 4 times faster than the database's locale on UTF-8
 * text (40 µs for 2.5 KB; `left`, which counts characters, only for texts longer than the scan), at the price of not finding a stem whose word starts with a capital
 * outside ASCII ("Élan"). The text is lowered once per row, not once per stem: `offset 0` keeps
 * PostgreSQL from pulling the one-row subquery up into strpos's argument (where it would run
 * again for every stem, decompressing the content each time): 13% of a typical two-word search's
 * PostgreSQL CPU (3.9 → 3.4 ms per statement, 1,000,000 documents, three alternating runs).
 */
export const HIGHLIGHT_SCAN_CHARS = 100_000;
export const HIGHLIGHT_WINDOW_CHARS = 300;

const OPTIONS = `StartSel="${START}", StopSel="${STOP}", MaxWords=30, MinWords=8, ShortWord=3, MaxFragments=2, FragmentDelimiter=" … "`;

/**
 * The query's stems. windowOf looks for each one whole, and only when it is nowhere for it less
 * its last letter (at least 4 kept): a stem is often the word itself ("part1187", "filler40"), and
 * its shortened form the start of other words ("part1180", "filler4") met earlier in a list or a
 * table, where the window then showed no match.
 */
const stemsOf = (q: string) => sql`tsvector_to_array(to_tsvector('english', ${q}))`;

/** HIGHLIGHT_WINDOW_CHARS of `text` from a little before the first stem found in it. */
const windowOf = (
  text: SQL,
  stems: SQL,
) => sql`case when octet_length(${text}) <= ${HIGHLIGHT_WINDOW_CHARS} then ${text}
  else substr(${text}, greatest(1, coalesce((
    select min(coalesce(nullif(strpos(lowered.text, s), 0), nullif(strpos(lowered.text, left(s, greatest(4, length(s) - 1))), 0)))
    from (select lower(case when octet_length(${text}) <= ${HIGHLIGHT_SCAN_CHARS} then ${text}
      else left(${text}, ${HIGHLIGHT_SCAN_CHARS}) end collate "C") as text offset 0) lowered, unnest(${stems}) s), 1) - 120),
  ${HIGHLIGHT_WINDOW_CHARS}) end`;

/**
 * The raw excerpt of list row `page` (its title, and windows of its description and of the content
 * `pc.text` of its current version) for `tsquery` (from the user's `q`): text with sentinel-marked
 * matches, for renderHighlight.
 */
export const highlightColumn = (tsquery: SQL, q: string) => {
  const stems = stemsOf(q);
  const source = sql`page.title || E'\n' || coalesce(${windowOf(sql`page.description`, stems)}, '')
    || E'\n' || coalesce(${windowOf(sql`pc.text`, stems)}, '')`;
  return sql`ts_headline('english', translate(${source}, ${`${START}${STOP}${LT}${GT}<>`}, ${`    ${LT}${GT}`}),
    ${tsquery}, ${OPTIONS})`;
};

// The contract's escaping: `<`, `>` and `&`, no more. Quotes need no escaping in an element's
// content, and a client that unescapes the three would show `&quot;` as text.
const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
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
