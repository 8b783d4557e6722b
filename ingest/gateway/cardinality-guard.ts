import type { MetricSample } from '../../src/codec/types.js';

/** The tag every sample over the limit carries instead of its own tags. */
export const OVERFLOW_TAG = 'ssf.cardinality_overflow';

/** What the guard does with one sample: keep it as it is, fold its tags into the overflow series, or refuse it. */
export type Verdict = 'kept' | 'folded' | 'refused';

/** The guard's bounds, per hour (gateway.maxTagSetsPerMetric, maxMetricNamesPerTenant, maxMetricNames, maxSeries). */
export interface GuardLimits {
  /** Distinct tag sets per (tenant, metric name). */
  tagSetsPerMetric: number;
  /** Distinct metric names per tenant. */
  namesPerTenant: number;
  /** Distinct (tenant, metric name) pairs overall. */
  names: number;
  /** Distinct (tenant, metric name, tag set) overall. */
  series: number;
}

/**
 * Bounds what the gateway remembers about metrics per hour (the seeds: "no
 * aggregation by IP address"), and so its memory.
 *
 * - A sample whose tag set would pass `tagSetsPerMetric` for its name, or
 *   `series` overall, is not dropped: its tags are replaced by
 *   `{ssf.cardinality_overflow: "true"}`, so the metric's totals stay right
 *   and the overflow is visible in the data (OpenTelemetry's overflow series).
 * - A sample of a name not seen this hour, when its tenant already has
 *   `namesPerTenant` names or the gateway `names`, is refused, counted
 *   (SSF_TOO_MANY_METRIC_NAMES): folding different names into one series
 *   would add a latency to a byte count, so this does what Prometheus-style
 *   stores do at their series limits (Mimir's per-tenant series limit,
 *   VictoriaMetrics' series limiter): refuse the new series, keep the known.
 *
 * Memory is at most `names` name entries and `series` tag-set keys; all of it
 * is forgotten every hour.
 */
export class CardinalityGuard {
  /** tenant -> metric name -> the tag sets seen this window. */
  private seen = new Map<string, Map<string, Set<string>>>();
  private names = 0;
  private series = 0;
  private windowStart = Date.now();
  private readonly limits: GuardLimits;

  constructor(
    limit: number | Partial<GuardLimits>,
    private readonly windowMs = 3_600_000,
  ) {
    const given = typeof limit === 'number' ? { tagSetsPerMetric: limit } : limit;
    this.limits = { tagSetsPerMetric: Infinity, namesPerTenant: Infinity, names: Infinity, series: Infinity, ...given };
  }

  /**
   * Folds the sample's tags into the overflow series ('folded'), or says it
   * must be refused ('refused'). `now` is read once per batch by the caller
   * (a clock read per sample showed in profiles of statsd input).
   */
  admit(tenant: string, sample: MetricSample, now = Date.now()): Verdict {
    const verdict = this.judge(tenant, sample.name, tagSetKey(sample.tags), now);
    if (verdict === 'folded') sample.tags = { [OVERFLOW_TAG]: 'true' };
    return verdict;
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

  /** admit() for a sample of `name` whose tag set gives `key` (tagSetKey's form), without the sample: true when it would not be kept as it is. */
  admitKey(tenant: string, name: string, key: string, now: number): boolean {
    return this.judge(tenant, name, key, now) !== 'kept';
  }

  /** Names and tag sets remembered in this window (for tests and /metrics). */
  get size(): { names: number; series: number } {
    return { names: this.names, series: this.series };
  }

  private roll(now: number): void {
    if (now - this.windowStart >= this.windowMs) {
      this.seen = new Map();
      this.names = 0;
      this.series = 0;
      this.windowStart = now;
    }
  }

  /** The verdict on a sample of (tenant, name, tag set `key`); remembers the name and tag set when it is kept. */
  private judge(tenant: string, name: string, key: string, now: number): Verdict {
    this.roll(now);
    let names = this.seen.get(tenant);
    if (!names) {
      names = new Map();
      this.seen.set(tenant, names);
    }
    let sets = names.get(name);
    if (!sets) {
      if (names.size >= this.limits.namesPerTenant || this.names >= this.limits.names) return 'refused';
      sets = new Set();
      names.set(name, sets);
      this.names++;
    }
    if (sets.has(key)) return 'kept';
    if (sets.size < this.limits.tagSetsPerMetric && this.series < this.limits.series) {
      sets.add(key);
      this.series++;
      return 'kept';
    }
    return 'folded';
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
