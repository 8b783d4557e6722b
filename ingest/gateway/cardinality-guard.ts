import type { MetricSample } from '../../src/codec/types.js';

/** The tag every sample over the limit carries instead of its own tags. */
export const OVERFLOW_TAG = 'ssf.cardinality_overflow';

/**
 * Bounds the distinct tag sets per (tenant, metric name) per hour (the
 * seeds: "no aggregation by IP address"). A sample whose tag set would
 * exceed the limit is not dropped: its tags are replaced by
 * `{ssf.cardinality_overflow: "true"}`, so totals stay right and the
 * overflow is visible in the data; the gateway counts it on /metrics.
 * Memory is bounded by the limit times the number of metric names, and the
 * sets are forgotten every hour.
 */
export class CardinalityGuard {
  /** tenant -> metric name -> the tag sets seen this window. */
  private seen = new Map<string, Map<string, Set<string>>>();
  private windowStart = Date.now();

  constructor(
    private readonly limit: number,
    private readonly windowMs = 3_600_000,
  ) {}

  /**
   * Returns true when the sample's tags were folded into the overflow series.
   * `now` is read once per batch by the caller (a clock read per sample
   * showed in profiles of statsd input).
   */
  admit(tenant: string, sample: MetricSample, now = Date.now()): boolean {
    if (!this.fold(tenant, sample.name, tagSetKey(sample.tags), now)) return false;
    sample.tags = { [OVERFLOW_TAG]: 'true' };
    return true;
  }

  /**
   * The current window's number (it changes when the window rolls over):
   * a tag set admitted in a window stays admitted until it ends, so the
   * statsd fast path may remember (tenant, name, tag set) for that long.
   */
  epoch(now: number): number {
    this.roll(now);
    return this.windowStart;
  }

  /** admit() for a sample of `name` whose tag set gives `key` (tagSetKey's form), without the sample: true when it would be folded. */
  admitKey(tenant: string, name: string, key: string, now: number): boolean {
    return this.fold(tenant, name, key, now);
  }

  private roll(now: number): void {
    if (now - this.windowStart >= this.windowMs) {
      this.seen = new Map();
      this.windowStart = now;
    }
  }

  /** Whether a sample of (tenant, name, tag set `key`) goes to the overflow series; counts the tag set when it does not. */
  private fold(tenant: string, name: string, key: string, now: number): boolean {
    this.roll(now);
    let names = this.seen.get(tenant);
    if (!names) {
      names = new Map();
      this.seen.set(tenant, names);
    }
    let sets = names.get(name);
    if (!sets) {
      sets = new Set();
      names.set(name, sets);
    }
    if (sets.has(key)) return false;
    if (sets.size < this.limit) {
      sets.add(key);
      return false;
    }
    return true;
  }
}

/** The tag set as one string, independent of the order the tags came in (sorted only when they are not already). */
function tagSetKey(tags: Record<string, string>): string {
  const keys = Object.keys(tags);
  if (keys.length === 0) return '';
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      keys.sort();
      break;
    }
  }
  let out = '';
  for (const k of keys) out += `${k}\u0000${tags[k]}\u0001`;
  return out;
}
