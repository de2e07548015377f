// Refuses secrets a person typed rather than generated: the placeholders of .dev.vars.example,
// words such as "secret" or "password", repeated characters and sequences. A strength library
// (zxcvbn) would add ~400 KiB of dictionaries to the bundle to judge passwords people choose;
// keys come from `openssl rand`, so the question is only whether one plainly did not.
// Reasons never quote the value: they end up in logs.

/** What a secret must be worth by the estimate below; 32 random bytes in base64 or hex give 200+. */
export const MIN_SECRET_BITS = 128;
const MIN_SECRET_BYTES = 32;
const MIN_DISTINCT_CHARACTERS = 10;
// Longer values are judged by their start: 256 characters are plenty to reach MIN_SECRET_BITS,
// and the repeat search below is quadratic.
const ANALYSED_CHARACTERS = 256;

// Six or more letters each, so that a random base64 value contains one by chance with a
// probability of about 1e-7 or less.
const PLACEHOLDER_WORDS = [
  "change",
  "replace",
  "placeholder",
  "example",
  "secret",
  "password",
  "passwd",
  "pepper",
  "sample",
  "dummy",
  "insecure",
  "default",
];

function poolSize(chars: string[]): number {
  let pool = 0;
  if (chars.some((c) => c >= "a" && c <= "z")) pool += 26;
  if (chars.some((c) => c >= "A" && c <= "Z")) pool += 26;
  if (chars.some((c) => c >= "0" && c <= "9")) pool += 10;
  if (chars.some((c) => c.length === 1 && c < "\x7f" && !/[A-Za-z0-9]/.test(c))) pool += 33;
  if (chars.some((c) => (c.codePointAt(0) ?? 0) > 0x7f)) pool += 100;
  return Math.max(pool, 2);
}

/** Length of the longest stretch starting at `i` that also starts at an earlier position. */
function repeatLength(chars: string[], i: number): number {
  let best = 0;
  for (let j = 0; j < i; j++) {
    let k = 0;
    while (i + k < chars.length && chars[j + k] === chars[i + k]) k++;
    if (k > best) best = k;
  }
  return best;
}

/**
 * A conservative estimate of the bits in `value`: the smaller of (a) its characters' own
 * Shannon entropy (bias-corrected) times its length and (b) a symbol count where a repeat of an earlier stretch
 * (3+ characters) costs one symbol and a character one step from the previous one ("aaaa",
 * "1234", "abcd") costs one bit.
 */
export function estimatedBits(value: string): number {
  const chars = Array.from(value).slice(0, ANALYSED_CHARACTERS);
  const n = chars.length;
  if (n === 0) return 0;

  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let shannon = 0;
  for (const count of counts.values()) shannon -= (count / n) * Math.log2(count / n);
  // Miller-Madow: a short sample shows fewer distinct characters than its source has, so the
  // plain estimate would refuse some genuinely random 32-character values.
  shannon += (counts.size - 1) / (2 * n * Math.LN2);

  const symbolBits = Math.log2(poolSize(chars));
  let structured = 0;
  for (let i = 0; i < n; ) {
    const repeat = repeatLength(chars, i);
    if (repeat >= 3) {
      structured += symbolBits;
      i += repeat;
      continue;
    }
    const step = i > 0 ? (chars[i]?.codePointAt(0) ?? 0) - (chars[i - 1]?.codePointAt(0) ?? 0) : 99;
    structured += Math.abs(step) <= 1 ? 1 : symbolBits;
    i++;
  }
  return Math.min(shannon * n, structured);
}

/** Why `value` is unfit as a key (never quoting it), or null when it will do. */
export function secretWeakness(value: string): string | null {
  if (new TextEncoder().encode(value).byteLength < MIN_SECRET_BYTES)
    return `must be at least ${MIN_SECRET_BYTES} bytes`;
  const lower = value.toLowerCase();
  if (PLACEHOLDER_WORDS.some((word) => lower.includes(word))) {
    return "looks like a placeholder; generate one with `openssl rand -base64 32`";
  }
  if (new Set(Array.from(value)).size < MIN_DISTINCT_CHARACTERS || estimatedBits(value) < MIN_SECRET_BITS) {
    return "is too predictable (repeats, sequences or few distinct characters); generate one with `openssl rand -base64 32`";
  }
  return null;
}
