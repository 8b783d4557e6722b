import type { Config } from '../../src/config/config-schema.js';

const DAY_NS = 86_400_000_000_000;
const HOUR_NS = 3_600_000_000_000;
const MS_NS = 1_000_000;

/**
 * The times the gateway accepts, per table (docs/ssf.md, "Valid times"): from
 * the table's retention (less an hour, so nothing accepted expires before the
 * materializer writes it: the tables drop rows past their TTL at insert) to
 * `gateway.maxFutureSeconds` ahead of the gateway's clock. Outside it an
 * event would be accepted and never stored, or stored in the wrong place: the
 * TTL and partition expressions go through 32-bit `DateTime`, and the rollups
 * bucket by it. Bounds are in Unix ns as floats: coarse bounds need no
 * bigint, and a float holds an ns time to within 256 ns.
 */
export interface EventWindow {
  spansFrom: number;
  logsFrom: number;
  samplesFrom: number;
  to: number;
}

export function eventWindow(config: Readonly<Config>, nowMs: number): EventWindow {
  const now = nowMs * MS_NS;
  const r = config.retention;
  return {
    spansFrom: now - r.spansDays * DAY_NS + HOUR_NS,
    logsFrom: now - r.logsDays * DAY_NS + HOUR_NS,
    samplesFrom: now - r.samplesDays * DAY_NS + HOUR_NS,
    to: now + config.gateway.maxFutureSeconds * 1_000 * MS_NS,
  };
}

/** A signed 64-bit time given as unsigned 32-bit halves, as a float (what EventWindow compares). */
export function nsOfHalves(lo: number, hi: number): number {
  return (hi | 0) * 0x1_0000_0000 + lo;
}

/** The reason a time is outside [from, to], or undefined when inside. */
export function outsideWindow(ns: number, from: number, to: number, field: string): string | undefined {
  if (ns >= from && ns <= to) return undefined;
  const when = Number.isFinite(ns / MS_NS) && Math.abs(ns / MS_NS) < 8.64e15 ? new Date(Math.trunc(ns / MS_NS)).toISOString() : `${ns} ns`;
  return `${field} ${when} is outside the accepted times ${new Date(from / MS_NS).toISOString()} .. ${new Date(to / MS_NS).toISOString()} (retention and gateway.maxFutureSeconds)`;
}
