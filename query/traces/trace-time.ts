/**
 * Nanosecond times as the trace endpoints write them. ClickHouse hands them
 * over as `toUnixTimestamp64Nano(...)` (a decimal string, exact), and they
 * stay bigint until they are printed, so no digit is lost to a double.
 */

/** Unix ns -> RFC 3339 in UTC with all nine fraction digits: `2026-11-21T10:00:00.123456789Z`. */
export function nsToRfc3339(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const seconds = new Date(Number(ms)).toISOString().slice(0, 19);
  const fraction = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0');
  return `${seconds}.${fraction}Z`;
}

/** Unix ns -> the text of a `{name:DateTime64(9, 'UTC')}` parameter: `2026-11-21 10:00:00.123456789`. */
export function nsToDateTime64Param(ns: bigint): string {
  return nsToRfc3339(ns).replace('T', ' ').replace('Z', '');
}

/** A span of nanoseconds as (fractional) milliseconds, the unit every answer uses. */
export function nsToMs(ns: bigint): number {
  return Number(ns) / 1e6;
}

/** Unix ns rounded down to its ten-minute bucket: the `toStartOfTenMinutes(start)` of the spans' sorting key. */
export function tenMinutesFloor(ns: bigint): bigint {
  const bucket = 600n * 1_000_000_000n;
  return ns - (((ns % bucket) + bucket) % bucket);
}
