/**
 * Words as the log body's full-text index sees them. The index tokenizer is
 * ClickHouse's `splitByNonAlpha`: a token is a run of ASCII letters and
 * digits and of any non-ASCII characters; every other ASCII character
 * (space, punctuation, `_`) separates tokens. The index is on the body
 * case-folded ({@link FOLDED_BODY}), so a search is case-insensitive. The
 * parser, the SQL and the highlighter all split and fold text with these
 * functions, so what is searched, what matches and what is highlighted agree.
 */

/** One token of a text, with its UTF-16 offsets (JavaScript string indexes). */
export interface BodyToken {
  text: string;
  start: number;
  end: number;
}

function isTokenChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code >= 128;
}

/**
 * The tokens of `text`, in order, with their offsets; only those that end
 * within its first `limit` UTF-16 units (a token the limit cuts is left out
 * whole: its head is not a token of the text).
 */
export function bodyTokens(text: string, limit = text.length): BodyToken[] {
  const out: BodyToken[] = [];
  const end = Math.min(limit, text.length);
  let start = -1;
  for (let i = 0; i <= end; i++) {
    const inside = i < text.length && isTokenChar(text.charCodeAt(i));
    if (inside && i === end) break;
    if (inside && start === -1) start = i;
    if (!inside && start !== -1) {
      out.push({ text: text.slice(start, i), start, end: i });
      start = -1;
    }
  }
  return out;
}

/**
 * The case-folded body that the full-text index `idx_body_folded` is built
 * on (migration 0016), exactly as the index's expression: a search finds
 * rows through that index only when it names this expression. ClickHouse's
 * `lowerUTF8` (Unicode lowercase; `lower` lowers ASCII only), then the final
 * sigma `ς` as `σ`: lowercase mapping depends on context for one letter
 * only, a capital `Σ`, which becomes `ς` at the end of a word and `σ`
 * elsewhere, and a word searched alone does not have its body's context.
 * With the two sigmas made one, folding is a function of each character
 * alone: {@link foldCase} below gives the same text.
 */
export const FOLDED_BODY = "replaceAll(lowerUTF8(body), 'ς', 'σ')";

/**
 * {@link FOLDED_BODY} in JavaScript: `toLowerCase` (Unicode's default
 * lowercase mapping, as ClickHouse's `lowerUTF8`: the same result for every
 * code point on ClickHouse 26.7 and Node 20, test/query/logs.int.test.ts),
 * then `ς` as `σ`. Folding a character keeps it a token character or a
 * separator (only `İ` and the Kelvin sign `K` become ASCII, letters), so the
 * tokens of a folded body are the folded tokens of the body: a word is
 * folded after it is split, and a body's tokens are compared folded.
 */
export function foldCase(text: string): string {
  return text.toLowerCase().replaceAll('ς', 'σ');
}
