/**
 * Words as the log body's full-text index sees them. The index tokenizer is
 * ClickHouse's `splitByNonAlpha`: a token is a run of ASCII letters and
 * digits and of any non-ASCII characters; every other ASCII character
 * (space, punctuation, `_`) separates tokens. The parser, the SQL and the
 * highlighter all split text with this one function, so what is searched,
 * what matches and what is highlighted agree.
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

/** The tokens of `text`, in order, with their offsets. */
export function bodyTokens(text: string): BodyToken[] {
  const out: BodyToken[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const inside = i < text.length && isTokenChar(text.charCodeAt(i));
    if (inside && start === -1) start = i;
    if (!inside && start !== -1) {
      out.push({ text: text.slice(start, i), start, end: i });
      start = -1;
    }
  }
  return out;
}

/**
 * The spellings a searched word matches: as typed, lowercase, UPPERCASE and
 * Capitalized. The index is case-sensitive (ClickHouse's
 * `hasTokenCaseInsensitive` and `lower(body)` cannot use it), so a search
 * looks for these forms with the index instead of scanning every body:
 * `timeout` finds `timeout`, `Timeout` and `TIMEOUT`, not `TimeOut`
 * (docs/query/logs.md).
 */
export function caseForms(word: string): string[] {
  const lower = word.toLowerCase();
  const capitalized = lower.charAt(0).toUpperCase() + lower.slice(1);
  return [...new Set([word, lower, word.toUpperCase(), capitalized])];
}
