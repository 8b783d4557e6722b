import { spanEvent } from '../../src/codec/span-event.js';
import type { MetricSample, MetricType, SpanEvent } from '../../src/codec/types.js';
import { addAttributes } from './any-value.js';
import type { Conversion, Steps } from './conversion.js';
import { addSpan, emptyConversion, refuse, runSteps, SLICE_ITEMS } from './conversion.js';
import { ExpansionBudget, mapBytes } from './expansion-budget.js';
import type { IExponentialHistogramDataPoint, IHistogramDataPoint, MetricsRequest } from './otlp-messages.js';
import { signed64, unsigned64 } from './otlp-messages.js';
import { RESOURCE_PREFIX, originOf } from './otlp-origin.js';

/** Sample tags the mapping writes (docs/otlp.md, "Metrics"). */
export const TEMPORALITY_TAG = 'otel.temporality';
export const MONOTONIC_TAG = 'otel.monotonic';
export const QUANTILE_TAG = 'quantile';

/**
 * Most samples one histogram data point becomes: up to this count each
 * observation is one sample at its bucket's representative value; above it
 * the buckets are thinned in proportion (largest remainders, so the samples
 * still add up to this many) and each sample stands for count / this many
 * observations (its sample_rate). docs/otlp.md gives the error bound.
 */
export const MAX_SAMPLES_PER_POINT = 1024;
/** Most samples one carrier span holds. */
const PER_CARRIER = 500;
const DELTA = 1;
const CUMULATIVE = 2;
/** DataPointFlags.NO_RECORDED_VALUE: a staleness marker, no value to store. */
const NO_RECORDED_VALUE = 1;

interface PointSink {
  sample(type: MetricType, name: string, value: number, timestamp: bigint, tags: Record<string, string>, extra?: Partial<MetricSample>): void;
}

/**
 * ExportMetricsServiceRequest -> SSF samples in carrier spans:
 * - Gauge: GAUGE samples.
 * - Sum, delta: COUNTER samples (their sum is the increase, monotonic or not).
 * - Sum, cumulative: GAUGE samples tagged otel.temporality=cumulative and
 *   otel.monotonic, the point's start time in `message`: rates and increases
 *   are taken at query time, resets included (no state in the gateway).
 * - Histogram and ExponentialHistogram, delta: HISTOGRAM samples at each
 *   bucket's representative value (feeding the rollups' percentiles), plus
 *   `<name>.count` and `<name>.sum` COUNTER samples (exact).
 * - Histogram and ExponentialHistogram, cumulative: `<name>.count` and
 *   `<name>.sum` as cumulative series (rates at query time).
 * - Summary: a GAUGE per quantile (tag `quantile`), `<name>.count` and
 *   `<name>.sum` as cumulative series.
 * A data point whose temporality is not delta or cumulative is refused.
 * Each sample is charged to `budget` (with the tags it copies) before it is
 * made: a request of histogram points is refused past the limits, not
 * expanded whole first.
 */
export function metricsToSsf(request: MetricsRequest, budget = ExpansionBudget.unbounded()): Conversion {
  return runSteps(metricsSteps(request, budget));
}

/** metricsToSsf in slices of about SLICE_ITEMS samples. */
export function* metricsSteps(request: MetricsRequest, budget: ExpansionBudget): Steps<Conversion> {
  // Histogram points make up to 1,026 samples each: a request past the limit is refused before any is made.
  budget.expectEvents(samplesOf(request));
  const c = emptyConversion();
  // Samples made by the end of the last slice.
  let sliced = 0;
  let made = 0;
  // The tags of the last sample and their bytes (a histogram point's samples share one tags object).
  let lastTags: Record<string, string> | undefined;
  let lastTagBytes = 0;
  for (const rm of request.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      const origin = originOf(rm.resource, sm.scope);
      // A series is its tags (the rollups' key): the service is part of an OTLP series' identity.
      const seriesTags = origin.service === '' ? origin.tags : { ...origin.tags, [`${RESOURCE_PREFIX}service.name`]: origin.service };
      let carrier: SpanEvent | undefined;
      let items: number[] = [];
      let itemOfSample: number[] = [];
      let item = 0;
      const flush = (): void => {
        if (carrier && carrier.metrics.length > 0) addSpan(c, carrier, [...new Set(items)], [], itemOfSample);
        carrier = undefined;
        items = [];
        itemOfSample = [];
      };
      const sink: PointSink = {
        sample(type, name, value, timestamp, tags, extra = {}) {
          if (tags !== lastTags) {
            lastTags = tags;
            lastTagBytes = mapBytes(tags);
          }
          budget.take(1, lastTagBytes + name.length);
          made++;
          if (!carrier || carrier.metrics.length >= PER_CARRIER) {
            flush();
            carrier = spanEvent({ service: origin.service, isTrace: false });
          }
          carrier.metrics.push({
            type,
            name,
            value,
            timestamp,
            message: '',
            status: 'ok',
            sampleRate: 1,
            tags,
            unit: unit,
            scope: 'default',
            ...extra,
          });
          items.push(item);
          itemOfSample.push(item);
        },
      };
      let unit = '';
      for (const m of sm.metrics ?? []) {
        const name = m.name ?? '';
        unit = m.unit ?? '';
        const tagsOf = (attributes: Parameters<typeof addAttributes>[1], more: Record<string, string> = {}): Record<string, string> => {
          const t: Record<string, string> = { ...seriesTags };
          addAttributes(t, attributes);
          return Object.assign(t, more);
        };
        if (m.gauge) {
          for (const p of m.gauge.dataPoints ?? []) {
            item = c.total++;
            if (made - sliced >= SLICE_ITEMS) {
              sliced = made;
              yield;
            }
            if ((p.flags ?? 0) & NO_RECORDED_VALUE) continue;
            sink.sample('gauge', name, numberValue(p.asDouble, p.asInt), unsigned64(p.timeUnixNano), tagsOf(p.attributes));
          }
        } else if (m.sum) {
          const temporality = m.sum.aggregationTemporality ?? 0;
          const monotonic = m.sum.isMonotonic ? 'true' : 'false';
          for (const p of m.sum.dataPoints ?? []) {
            item = c.total++;
            if (made - sliced >= SLICE_ITEMS) {
              sliced = made;
              yield;
            }
            if (!knownTemporality(c, name, temporality)) continue;
            if ((p.flags ?? 0) & NO_RECORDED_VALUE) continue;
            const value = numberValue(p.asDouble, p.asInt);
            const time = unsigned64(p.timeUnixNano);
            if (temporality === DELTA) sink.sample('counter', name, value, time, tagsOf(p.attributes));
            else
              sink.sample('gauge', name, value, time, tagsOf(p.attributes, { [TEMPORALITY_TAG]: 'cumulative', [MONOTONIC_TAG]: monotonic }), {
                message: unsigned64(p.startTimeUnixNano).toString(),
              });
          }
        } else if (m.histogram || m.exponentialHistogram) {
          const h = m.histogram ?? m.exponentialHistogram;
          const temporality = h?.aggregationTemporality ?? 0;
          const points: Array<IHistogramDataPoint | IExponentialHistogramDataPoint> = (m.histogram?.dataPoints ??
            m.exponentialHistogram?.dataPoints ??
            []) as Array<IHistogramDataPoint | IExponentialHistogramDataPoint>;
          for (const p of points) {
            item = c.total++;
            if (made - sliced >= SLICE_ITEMS) {
              sliced = made;
              yield;
            }
            if (!knownTemporality(c, name, temporality)) continue;
            if ((p.flags ?? 0) & NO_RECORDED_VALUE) continue;
            const fault = m.histogram ? histogramFault(p as IHistogramDataPoint) : exponentialHistogramFault(p as IExponentialHistogramDataPoint);
            if (fault !== undefined) {
              refuse(c, 'OTLP_ERR_HISTOGRAM_INVALID', `metric ${JSON.stringify(name)}: ${fault}`);
              continue;
            }
            const time = unsigned64(p.timeUnixNano);
            const tags = tagsOf(p.attributes);
            const count = Number(unsigned64(p.count));
            const sum = p.sum ?? 0;
            if (temporality === DELTA) {
              const buckets = m.histogram ? explicitBuckets(p as IHistogramDataPoint) : exponentialBuckets(p as IExponentialHistogramDataPoint);
              for (const [value, n, rate] of thin(buckets)) for (let i = 0; i < n; i++) sink.sample('histogram', name, value, time, tags, { sampleRate: rate });
              sink.sample('counter', `${name}.count`, count, time, { ...tags }, { unit: '' });
              sink.sample('counter', `${name}.sum`, sum, time, { ...tags });
            } else {
              const cumulative = { [TEMPORALITY_TAG]: 'cumulative', [MONOTONIC_TAG]: 'true' };
              const start = { message: unsigned64(p.startTimeUnixNano).toString() };
              sink.sample('gauge', `${name}.count`, count, time, { ...tags, ...cumulative }, { ...start, unit: '' });
              sink.sample('gauge', `${name}.sum`, sum, time, { ...tags, ...cumulative }, start);
            }
          }
        } else if (m.summary) {
          for (const p of m.summary.dataPoints ?? []) {
            item = c.total++;
            if (made - sliced >= SLICE_ITEMS) {
              sliced = made;
              yield;
            }
            if ((p.flags ?? 0) & NO_RECORDED_VALUE) continue;
            const time = unsigned64(p.timeUnixNano);
            for (const q of p.quantileValues ?? [])
              sink.sample('gauge', name, q.value ?? 0, time, tagsOf(p.attributes, { [QUANTILE_TAG]: String(q.quantile ?? 0) }));
            const cumulative = { [TEMPORALITY_TAG]: 'cumulative', [MONOTONIC_TAG]: 'true' };
            const start = { message: unsigned64(p.startTimeUnixNano).toString() };
            sink.sample('gauge', `${name}.count`, Number(unsigned64(p.count)), time, tagsOf(p.attributes, cumulative), { ...start, unit: '' });
            sink.sample('gauge', `${name}.sum`, p.sum ?? 0, time, tagsOf(p.attributes, cumulative), start);
          }
        } else {
          item = c.total++;
          refuse(
            c,
            'OTLP_ERR_METRIC_TYPE_UNKNOWN',
            `metric ${JSON.stringify(name)} has no data of a known type (gauge, sum, histogram, exponential_histogram, summary)`,
          );
        }
      }
      flush();
    }
  }
  return c;
}

/** The samples metricsSteps makes of `request`, counted without making them. */
export function samplesOf(request: MetricsRequest): number {
  let n = 0;
  const recorded = (p: { flags?: number | null }): boolean => ((p.flags ?? 0) & NO_RECORDED_VALUE) === 0;
  for (const rm of request.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        if (m.gauge) {
          for (const p of m.gauge.dataPoints ?? []) if (recorded(p)) n++;
        } else if (m.sum) {
          const t = m.sum.aggregationTemporality ?? 0;
          if (t === DELTA || t === CUMULATIVE) for (const p of m.sum.dataPoints ?? []) if (recorded(p)) n++;
        } else if (m.histogram || m.exponentialHistogram) {
          const t = (m.histogram ?? m.exponentialHistogram)?.aggregationTemporality ?? 0;
          if (t !== DELTA && t !== CUMULATIVE) continue;
          for (const p of m.histogram?.dataPoints ?? m.exponentialHistogram?.dataPoints ?? []) {
            if (!recorded(p)) continue;
            if ((m.histogram ? histogramFault(p as IHistogramDataPoint) : exponentialHistogramFault(p as IExponentialHistogramDataPoint)) !== undefined)
              continue;
            n += 2;
            if (t !== DELTA) continue;
            const buckets = m.histogram ? explicitBuckets(p as IHistogramDataPoint) : exponentialBuckets(p as IExponentialHistogramDataPoint);
            for (const [, k] of thin(buckets)) n += k;
          }
        } else if (m.summary) {
          for (const p of m.summary.dataPoints ?? []) if (recorded(p)) n += (p.quantileValues?.length ?? 0) + 2;
        }
      }
    }
  }
  return n;
}

function knownTemporality(c: Conversion, name: string, t: number): boolean {
  if (t === DELTA || t === CUMULATIVE) return true;
  refuse(c, 'OTLP_ERR_TEMPORALITY_UNKNOWN', `metric ${JSON.stringify(name)}: aggregation_temporality ${t} is neither DELTA (1) nor CUMULATIVE (2)`);
  return false;
}

function numberValue(asDouble: number | null | undefined, asInt: Parameters<typeof signed64>[0]): number {
  if (asDouble !== undefined && asDouble !== null) return asDouble;
  return Number(signed64(asInt));
}

/**
 * Why an explicit-bucket point cannot be read as the specification defines
 * it, or undefined: `bucket_counts` has one entry more than
 * `explicit_bounds` (or none at all), the bounds increase strictly, and
 * `count` is the sum of `bucket_counts` (when there are buckets). Read
 * otherwise, the buckets past the bounds or between unordered bounds would
 * give made-up values to the percentiles, and the samples made from the
 * buckets would disagree with the `.count` series made from `count`.
 */
export function histogramFault(p: IHistogramDataPoint): string | undefined {
  const counts = p.bucketCounts?.length ?? 0;
  const bounds = p.explicitBounds ?? [];
  if (counts !== 0 && counts !== bounds.length + 1) {
    return `bucket_counts has ${counts} entries for ${bounds.length} explicit_bounds (it must have ${bounds.length + 1})`;
  }
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i] as number;
    if (Number.isNaN(b) || (i > 0 && !(b > (bounds[i - 1] as number)))) return `explicit_bounds are not strictly increasing numbers (at index ${i})`;
  }
  if (counts !== 0) {
    const inBuckets = sumCounts(p.bucketCounts);
    const count = unsigned64(p.count);
    if (inBuckets !== count) return `count is ${count} but bucket_counts add up to ${inBuckets}`;
  }
  return undefined;
}

/**
 * Why an exponential point cannot be read as the specification defines it,
 * or undefined: `count` is `zero_count` plus the positive and negative
 * `bucket_counts` (the specification's rule; the buckets make the samples,
 * `count` the `.count` series, which must agree).
 */
export function exponentialHistogramFault(p: IExponentialHistogramDataPoint): string | undefined {
  const inBuckets = unsigned64(p.zeroCount) + sumCounts(p.positive?.bucketCounts) + sumCounts(p.negative?.bucketCounts);
  const count = unsigned64(p.count);
  if (inBuckets !== count) return `count is ${count} but zero_count and the positive and negative bucket_counts add up to ${inBuckets}`;
  return undefined;
}

/** The exact sum of unsigned 64-bit counts. */
function sumCounts(counts: ReadonlyArray<Parameters<typeof unsigned64>[0]> | null | undefined): bigint {
  let total = 0n;
  for (const n of counts ?? []) total += unsigned64(n);
  return total;
}

/** A bucket: its representative value and how many observations it holds. */
type Bucket = [value: number, count: number];

/**
 * Explicit buckets: bucket i holds (bounds[i-1], bounds[i]]; its
 * representative value is the midpoint of that range narrowed to the
 * point's [min, max] when sent (the open first and last buckets need them;
 * without them their one finite bound is used). With no bounds at all, the
 * mean (sum / count).
 */
export function explicitBuckets(p: IHistogramDataPoint): Bucket[] {
  const counts = (p.bucketCounts ?? []).map((n) => Number(unsigned64(n)));
  const bounds = p.explicitBounds ?? [];
  const out: Bucket[] = [];
  if (bounds.length === 0) {
    const n = counts[0] ?? Number(unsigned64(p.count));
    if (n > 0) out.push([p.sum !== undefined && p.sum !== null ? p.sum / n : 0, n]);
    return out;
  }
  const min = p.min ?? Number.NEGATIVE_INFINITY;
  const max = p.max ?? Number.POSITIVE_INFINITY;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    if (n <= 0) continue;
    let lo = Math.max(i === 0 ? Number.NEGATIVE_INFINITY : (bounds[i - 1] as number), min);
    let hi = Math.min(i >= bounds.length ? Number.POSITIVE_INFINITY : (bounds[i] as number), max);
    if (!Number.isFinite(lo)) lo = Number.isFinite(hi) ? hi : 0;
    if (!Number.isFinite(hi)) hi = lo;
    out.push([(lo + hi) / 2, n]);
  }
  return out;
}

/**
 * Exponential buckets: index i holds (base^i, base^(i+1)] with base =
 * 2^(2^-scale); its representative value is the geometric midpoint
 * base^(i + 1/2) (negative buckets mirrored); the zero bucket is 0.
 */
export function exponentialBuckets(p: IExponentialHistogramDataPoint): Bucket[] {
  const base = 2 ** (2 ** -(p.scale ?? 0));
  const out: Bucket[] = [];
  const zero = Number(unsigned64(p.zeroCount));
  if (zero > 0) out.push([0, zero]);
  for (const [buckets, sign] of [
    [p.positive, 1],
    [p.negative, -1],
  ] as const) {
    const offset = buckets?.offset ?? 0;
    (buckets?.bucketCounts ?? []).forEach((n, k) => {
      const count = Number(unsigned64(n));
      if (count > 0) out.push([sign * base ** (offset + k + 0.5), count]);
    });
  }
  return out;
}

/** Buckets -> [value, samples, sample_rate]: every observation up to MAX_SAMPLES_PER_POINT, then thinned in proportion. */
export function thin(buckets: Bucket[]): Array<[number, number, number]> {
  const total = buckets.reduce((a, [, n]) => a + n, 0);
  if (total <= MAX_SAMPLES_PER_POINT) return buckets.map(([v, n]) => [v, n, 1]);
  const scale = MAX_SAMPLES_PER_POINT / total;
  const shares = buckets.map(([v, n], i) => ({ v, i, whole: Math.floor(n * scale), rest: n * scale - Math.floor(n * scale) }));
  let left = MAX_SAMPLES_PER_POINT - shares.reduce((a, s) => a + s.whole, 0);
  for (const s of [...shares].sort((a, b) => b.rest - a.rest)) {
    if (left <= 0) break;
    s.whole++;
    left--;
  }
  return shares.filter((s) => s.whole > 0).map((s) => [s.v, s.whole, scale]);
}
