/** A half-open time range [fromMs, toMs) in epoch milliseconds. */
export interface TimeChunk {
  fromMs: number;
  toMs: number;
}

export const HOUR_MS = 3_600_000;

/**
 * [fromMs, toMs) cut at multiples of `sizeMs` since the epoch (UTC), so the
 * same range always gives the same chunks and a chunk's name never depends
 * on where the job started. The first and last chunks are clipped to the range.
 */
export function timeChunks(fromMs: number, toMs: number, sizeMs: number): TimeChunk[] {
  const chunks: TimeChunk[] = [];
  for (let start = fromMs; start < toMs; ) {
    const end = Math.min((Math.floor(start / sizeMs) + 1) * sizeMs, toMs);
    chunks.push({ fromMs: start, toMs: end });
    start = end;
  }
  return chunks;
}

/** The whole hours that cover [fromMs, toMs): from the start of the first hour to the end of the last. */
export function wholeHours(fromMs: number, toMs: number): TimeChunk {
  return { fromMs: Math.floor(fromMs / HOUR_MS) * HOUR_MS, toMs: Math.ceil(toMs / HOUR_MS) * HOUR_MS };
}

/** `20261121T1000Z`: a chunk start for file names and messages (sorts in time order). */
export function compactUtc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace(/(T\d{4})\d{2}Z$/, '$1Z');
}

/** `2026-11-21T10:00:00Z`. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
