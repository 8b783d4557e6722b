import { bodyTokens, caseForms } from './body-tokens.js';
import type { SearchedText } from './log-query.js';

/** `[start, end)` in UTF-16 units of the body (JavaScript string indexes). */
export type Highlight = [number, number];

/**
 * Where the searched words and phrases are in a body, by the rules the SQL
 * matched with (log-sql.ts): a word's tokens wherever one of their case
 * forms is a whole token of the body; a phrase where its tokens follow each
 * other. Sorted; overlapping ranges are merged into one.
 */
export function highlighter(searched: { terms: readonly SearchedText[]; phrases: readonly SearchedText[] }): (body: string) => Highlight[] {
  const words = new Set(searched.terms.flatMap((t) => t.tokens.flatMap(caseForms)));
  const phrases = searched.phrases.map((p) => p.tokens.map((t) => new Set(caseForms(t))));
  return (body) => {
    if (words.size === 0 && phrases.length === 0) return [];
    const tokens = bodyTokens(body);
    const found: Highlight[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] as (typeof tokens)[number];
      if (words.has(token.text)) found.push([token.start, token.end]);
      for (const phrase of phrases) {
        if (i + phrase.length > tokens.length) continue;
        if (phrase.every((forms, k) => forms.has((tokens[i + k] as (typeof tokens)[number]).text))) {
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
