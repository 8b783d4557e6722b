import { queryError } from '../query-errors.js';
import { parseDuration } from '../time-range.js';

/** A window an SLO is measured over, ending at the report's end. */
export interface SloWindow {
  /** As written: `1h`, `30d`. */
  name: string;
  ms: number;
}

const MINUTE_MS = 60_000;

/** The default windows of `GET /v1/slo`. */
export const DEFAULT_SLO_WINDOWS = '1h,6h,24h,30d';

/**
 * A comma list of durations (`5m,1h,30d`) as windows. Each must be a whole
 * number of minutes (the rollups count by minute) and at most `maxMs`.
 * Throws a coded 400 naming the bad item.
 */
export function parseWindows(text: string, maxMs = Number.POSITIVE_INFINITY): SloWindow[] {
  const out: SloWindow[] = [];
  for (const item of text.split(',').map((s) => s.trim())) {
    const ms = parseDuration(item);
    if (ms === undefined || item === '' || /^\d+(\.\d+)?$/.test(item)) {
      throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter windows: "${item.slice(0, 32)}" is not a duration: give a comma list like 1h,6h,24h,30d`);
    }
    if (ms < MINUTE_MS || ms % MINUTE_MS !== 0) {
      throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter windows: "${item}" is not a whole number of minutes (SLOs are counted by minute)`);
    }
    if (ms > maxMs) {
      throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter windows: "${item}" is longer than the data kept (${maxMs / 86_400_000} days)`);
    }
    if (!out.some((w) => w.name === item)) out.push({ name: item, ms });
  }
  return out;
}

/** End of every window: `to` rounded up to a whole minute, so the minute holding `to` counts. */
export function windowEnd(toMs: number): number {
  return Math.ceil(toMs / MINUTE_MS) * MINUTE_MS;
}
