import { z } from 'zod';
import { queryError } from './query-errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A point in time as the API accepts it: RFC 3339 (`2026-11-21T10:00:00Z`),
 * epoch milliseconds, `now`, or relative to now (`now-15m`, `-2h`, `30d` ago
 * as `now-30d`). Returns epoch milliseconds, or undefined when unreadable.
 */
export function parseTime(text: string, nowMs = Date.now()): number | undefined {
  const t = text.trim();
  if (t === 'now') return nowMs;
  const rel = /^(?:now)?-(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(t);
  if (rel) return nowMs - Number(rel[1]) * (UNITS[rel[2] as string] as number);
  if (/^\d{10,16}$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A duration: `250ms`, `1.5s`, `5m`, `1h`, `7d`; a bare number is milliseconds. Returns milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * (UNITS[m[2] ?? 'ms'] as number);
}

/** The times the tables can hold (DateTime64(9) in nanoseconds ends in April 2262); a range outside them has no rows. */
export const EARLIEST_MS = 0;
export const LATEST_MS = Date.UTC(2262, 3, 11);

function timeOrIssue(v: string, ctx: z.RefinementCtx): number {
  const ms = parseTime(v);
  if (ms === undefined || !Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a time: give RFC 3339, epoch milliseconds, now or now-<n><ms|s|m|h|d|w>` });
    return z.NEVER;
  }
  if (ms < EARLIEST_MS || ms > LATEST_MS) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is outside the times the tables hold (1970-01-01 to 2262-04-11)` });
    return z.NEVER;
  }
  return ms;
}

/** A time query parameter with a default; epoch ms after parsing. */
export const timeParam = (def: string, what: string) => z.string().default(def).transform(timeOrIssue).describe(what);

/** An optional time query parameter (no default): epoch ms after parsing, or undefined. */
export const optionalTimeParam = (what: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => (v === undefined ? undefined : timeOrIssue(v, ctx)))
    .describe(what);

/**
 * The longest duration the API takes: the times the tables hold, end to end
 * (about 292 years). In nanoseconds it still fits the Int64 of
 * `duration_ns`; anything longer (or `9` written 400 times, which is
 * Infinity) could only overflow a column or a parameter.
 */
export const MAX_DURATION_MS = LATEST_MS - EARLIEST_MS;

export const durationParam = (what: string) =>
  z
    .string()
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${v.slice(0, 64)}" is not a duration: give <n>ms, <n>s, <n>m, <n>h or <n>d` });
        return z.NEVER;
      }
      if (!(ms <= MAX_DURATION_MS)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${v.slice(0, 64)}" is longer than the times the tables hold (at most ${MAX_DURATION_MS} ms, about 292 years)`,
        });
        return z.NEVER;
      }
      return ms;
    })
    .describe(what);

/** `from` and `to` query parameters (default: the last hour). Both in epoch milliseconds after parsing. */
export const timeRangeShape = {
  from: timeParam('now-1h', 'Start of the time range: RFC 3339, epoch ms, or now-<n><unit> (default now-1h).'),
  to: timeParam('now', 'End of the time range (default now).'),
};

/**
 * Refuses a range that ends before it starts (`from` equal to `to` is one
 * instant, and taken): swapped parameters would otherwise read nothing and
 * answer 200 with no data, which a client cannot tell from no data.
 */
export function checkRange(fromMs: number, toMs: number): void {
  if (fromMs > toMs) throw queryError('QUERY_ERR_BAD_REQUEST', 'query parameter from: after to');
}

/** Epoch milliseconds as a DateTime64(9) SQL parameter value (`{from:DateTime64(9)}` takes `2026-11-21 10:00:00.123`). */
export function msToDateTime64(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}
