import { createHash } from 'node:crypto';
import { z } from 'zod';
import { queryError } from '../query-errors.js';
import { EARLIEST_MS, LATEST_MS } from '../time-range.js';

/**
 * The `cursor` of `GET /v1/logs`: where the previous page stopped, as
 * base64url JSON. Keyset pagination on (timestamp, row hash) (log-sql.ts),
 * so rows written meanwhile neither shift nor repeat a page. It also pins
 * the time range resolved for the first page (`now-1h` stays the same hour)
 * and carries a fingerprint of the search, so a cursor cannot continue a
 * different search.
 */
export interface LogCursor {
  /** The last row's timestamp, ns since the epoch (decimal). */
  ns: string;
  /** The last row's `row_hash` (the logs column, decimal UInt32). */
  hash: string;
  /** How many rows at exactly (ns, hash) were already given. */
  skip: number;
  fromMs: number;
  toMs: number;
  search: string;
}

/**
 * The most rows at one position (timestamp to the ns and row hash) a cursor
 * says were given. Only identical rows share a position (same ns, service,
 * trace, span, severity, body and attributes, or a 1-in-4-billion hash
 * tie), and a page reads them again to skip them (OFFSET): 100 pages of the
 * largest size (1,000) is far past any real log, and a cursor asking more
 * was not made here.
 */
export const MAX_CURSOR_SKIP = 100_000;

const CursorShape = z.strictObject({
  ns: z.string().regex(/^\d{1,20}$/),
  // A cursor made before migration 0012 has a 64-bit hash: refused like every cursor not made here.
  hash: z
    .string()
    .regex(/^\d{1,10}$/)
    .refine((h) => Number(h) <= 0xffff_ffff),
  skip: z.number().int().min(1).max(MAX_CURSOR_SKIP),
  // The range the first page resolved: within the times the API accepts (1970 to 2262), from <= to.
  fromMs: z.number().int().min(EARLIEST_MS).max(LATEST_MS),
  toMs: z.number().int().min(EARLIEST_MS).max(LATEST_MS),
  search: z.string().regex(/^[0-9a-f]{16}$/),
});

/** The last row given is inside the range it was read from: [fromMs, toMs + 1 ms) in ns, as searchLogs reads it. */
function inRange(c: z.infer<typeof CursorShape>): boolean {
  const ns = BigInt(c.ns);
  return c.fromMs <= c.toMs && ns >= BigInt(c.fromMs) * 1_000_000n && ns < (BigInt(c.toMs) + 1n) * 1_000_000n;
}

/** A short fingerprint of what the search asks (not of the time range, which the cursor carries itself). */
export function searchFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

export function encodeCursor(cursor: LogCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** Reads a cursor given back by a client; anything else is a QUERY_ERR_BAD_REQUEST. */
export function decodeCursor(text: string, search: string): LogCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const r = CursorShape.safeParse(parsed);
  if (!r.success || !inRange(r.data))
    throw queryError('QUERY_ERR_BAD_REQUEST', 'cursor: not a cursor of GET /v1/logs (give next_cursor of the previous page unchanged)');
  if (r.data.search !== search) {
    throw queryError(
      'QUERY_ERR_BAD_REQUEST',
      'cursor: it continues a different search (q, service, severity, trace_id and order must stay those of the first page)',
    );
  }
  return r.data;
}
