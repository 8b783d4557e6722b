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
  private seen = new Map<string, Set<string>>();
  private windowStart = Date.now();

  constructor(private readonly limit: number, private readonly windowMs = 3_600_000) {}

  /** Returns true when the sample's tags were folded into the overflow series. */
  admit(tenant: string, sample: MetricSample, now = Date.now()): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.seen = new Map();
      this.windowStart = now;
    }
    const metric = `${tenant}\u0000${sample.name}`;
    let sets = this.seen.get(metric);
    if (!sets) {
      sets = new Set();
      this.seen.set(metric, sets);
    }
    const key = tagSetKey(sample.tags);
    if (sets.has(key)) return false;
    if (sets.size < this.limit) {
      sets.add(key);
      return false;
    }
    sample.tags = { [OVERFLOW_TAG]: 'true' };
    return true;
  }
}

function tagSetKey(tags: Record<string, string>): string {
  const keys = Object.keys(tags);
  if (keys.length === 0) return '';
  keys.sort();
  let out = '';
  for (const k of keys) out += `${k}\u0000${tags[k]}\u0001`;
  return out;
}
