import { bodyTokens, foldCase } from './body-tokens.js';
import type { SearchedText } from './log-query.js';

/** `[start, end)` in UTF-16 units of the body (JavaScript string indexes). */
export type Highlight = [number, number];

/**
 * The most UTF-16 units of one body that are looked at for highlights, and
 * of all the bodies of one answer (in their order). The highlighter runs on
 * the API's event loop, which in all-in-one mode is also the gateway's: a
 * page of 250 log bodies of 1 MB each (`a a a ...`, searched for four
 * phrases of 32 words) held it 161 s, every other tenant's requests and
 * ingest waiting, before these bounds. Within them a page costs at most a
 * few tens of ms; words past them are not highlighted (docs/query/logs.md).
 */
export const HIGHLIGHT_BODY_CHARS = 65_536;
export const HIGHLIGHT_ANSWER_CHARS = 262_144;

/**
 * Where the searched words and phrases are in a body, by the rules the SQL
 * matched with (log-sql.ts): a word's tokens (folded by the parser) wherever
 * a token of the body, folded, is one of them; a phrase where its tokens
 * follow each other. Offsets are the body's own (folding may change a
 * token's length: `İ` is one UTF-16 unit, `i̇` two). Sorted; overlapping
 * ranges are merged into one. One highlighter serves one answer: the
 * bodies it is given share `answerChars` (HIGHLIGHT_ANSWER_CHARS), each
 * looked at in its first HIGHLIGHT_BODY_CHARS at most.
 */
export function highlighter(
  searched: { terms: readonly SearchedText[]; phrases: readonly SearchedText[] },
  answerChars = HIGHLIGHT_ANSWER_CHARS,
): (body: string) => Highlight[] {
  const words = new Set(searched.terms.flatMap((t) => t.tokens));
  // A phrase asked twice is looked for once.
  const phrases = [...new Map(searched.phrases.map((p) => [p.tokens.join(' '), p.tokens])).values()];
  let left = answerChars;
  return (body) => {
    if (words.size === 0 && phrases.length === 0) return [];
    const limit = Math.min(body.length, HIGHLIGHT_BODY_CHARS, left);
    left -= limit;
    const tokens = bodyTokens(body, limit).map((t) => ({ ...t, text: foldCase(t.text) }));
    // At most one range per token (the longest match starting there): merged below as before.
    const found: Highlight[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as (typeof tokens)[number];
      let end = words.has(token.text) ? token.end : -1;
      for (const phrase of phrases) {
        if (i + phrase.length > tokens.length) continue;
        if (phrase.every((word, k) => (tokens[i + k] as (typeof tokens)[number]).text === word)) {
          end = Math.max(end, (tokens[i + phrase.length - 1] as (typeof tokens)[number]).end);
        }
      }
      if (end !== -1) found.push([token.start, end]);
    }
    return merge(found);
  };
}

function merge(ranges: Highlight[]): Highlight[] {
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: Highlight[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r[0] < last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}
