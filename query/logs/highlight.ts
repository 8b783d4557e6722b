import { bodyTokens, foldCase } from './body-tokens.js';
import type { SearchedText } from './log-query.js';

/** `[start, end)` in UTF-16 units of the body (JavaScript string indexes). */
export type Highlight = [number, number];

/**
 * Where the searched words and phrases are in a body, by the rules the SQL
 * matched with (log-sql.ts): a word's tokens (folded by the parser) wherever
 * a token of the body, folded, is one of them; a phrase where its tokens
 * follow each other. Offsets are the body's own (folding may change a
 * token's length: `İ` is one UTF-16 unit, `i̇` two). Sorted; overlapping
 * ranges are merged into one.
 */
export function highlighter(searched: { terms: readonly SearchedText[]; phrases: readonly SearchedText[] }): (body: string) => Highlight[] {
  const words = new Set(searched.terms.flatMap((t) => t.tokens));
  const phrases = searched.phrases.map((p) => p.tokens);
  return (body) => {
    if (words.size === 0 && phrases.length === 0) return [];
    const tokens = bodyTokens(body).map((t) => ({ ...t, text: foldCase(t.text) }));
    const found: Highlight[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as (typeof tokens)[number];
      if (words.has(token.text)) found.push([token.start, token.end]);
      for (const phrase of phrases) {
        if (i + phrase.length > tokens.length) continue;
        if (phrase.every((word, k) => (tokens[i + k] as (typeof tokens)[number]).text === word)) {
          found.push([token.start, (tokens[i + phrase.length - 1] as (typeof tokens)[number]).end]);
        }
      }
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
