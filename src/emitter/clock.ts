// Wall-clock nanoseconds: the monotonic hrtime, anchored once to Date.now().
// Durations are exact to the nanosecond; the absolute time is as good as the
// system clock at start-up.
const offset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Unix time in nanoseconds. */
export function nowNs(): bigint {
  return process.hrtime.bigint() + offset;
}

/** A Date or epoch milliseconds as Unix nanoseconds. */
export function toNs(time: Date | number): bigint {
  const ms = typeof time === 'number' ? time : time.getTime();
  return BigInt(Math.round(ms * 1_000_000));
}

/** A time, as a Date, epoch milliseconds, or Unix nanoseconds (bigint). */
export type TimeInput = Date | number | bigint;

/** A TimeInput as Unix nanoseconds; none is now. */
export function timeToNs(t: TimeInput | undefined): bigint {
  if (t === undefined) return nowNs();
  return typeof t === 'bigint' ? t : toNs(t);
}
