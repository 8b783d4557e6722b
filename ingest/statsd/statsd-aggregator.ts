import type { MetricSample, MetricScope, MetricType, SpanEvent } from '../../src/codec/types.js';
import { LIMITS } from '../../src/codec/validate.js';
import { spanEvent } from '../../src/codec/span-event.js';

/**
 * statsd aggregation (gateway.statsdAggregate): the metric lines of one
 * listener (so of one tenant) summed per series and flush interval, as
 * Veneur's local instance does, and flushed as ordinary SSF samples. What
 * this changes in `samples` and the rollups, and the bounds, are in
 * docs/ssf.md ("statsd aggregation"). In short, per series and interval:
 *
 * - counter: one sample, value = sum of value / sample_rate, rate 1
 *   (in float32 pieces when float32 cannot hold the sum: counterPieces);
 * - gauge: the last value, rate 1;
 * - set: one sample per distinct member, rate 1;
 * - timer, histogram, distribution: values binned at 0.5 % relative accuracy
 *   (a bin's representative is within 1 % of every value in it); up to
 *   `histogramSamples` lines as many samples as lines, more thinned to
 *   `histogramSamples` samples in proportion (cumulative rounding), each sample's
 *   sample_rate carrying its share of the weight, so counts stay exact and
 *   the rollups' unweighted DDSketch sees the same distribution of values.
 *
 * Service checks, events and lines with their own timestamp (`|T`) are not
 * aggregated. Memory is bounded by `maxSamples`: the samples the open
 * interval will flush (one per counter or gauge series, per set member, per
 * histogram bin); a line that needs one more is dropped and counted.
 */

/** Default of gateway.statsdHistogramSamples: the most samples one histogram series flushes per interval (as OTLP's MAX_SAMPLES_PER_POINT). */
export const HISTOGRAM_ROWS = 1024;
/** Relative accuracy of the histogram bins: bin i holds (γ^(i-1), γ^i], γ = (1 + α) / (1 - α). */
export const BIN_ACCURACY = 0.005;
const LOG_GAMMA = Math.log((1 + BIN_ACCURACY) / (1 - BIN_ACCURACY));
/** Bin indexes of positive values start above it (float32's smallest subnormal is e^-103.3, bin -10,3xx). */
const BIN_OFFSET = 20_000;
/** The most weight one sample may carry (the codec's smallest sample_rate). */
const MAX_WEIGHT = 1 / LIMITS.minSampleRate;

/** One bin of a histogram series. */
interface Bin {
  key: number;
  /** Lines. */
  n: number;
  /** Weight: sum of 1 / sample_rate. */
  w: number;
  /** Weighted sum: sum of value / sample_rate. */
  s: number;
  min: number;
  max: number;
}

/** One series of the open interval. Built once per series and interval; lines only update numbers in it. */
export interface Series {
  readonly type: MetricType;
  readonly name: string;
  readonly tags: Record<string, string>;
  readonly unit: string;
  readonly scope: MetricScope;
  /** About the bytes of one of its samples as encoded (name, tags, fixed fields; a set's member not included). */
  readonly bytes: number;
  /** Lines aggregated into it this interval. */
  lines: number;
  /** Counter: the sum of value / sample_rate. Gauge: the last value. */
  value: number;
  members: Set<string> | undefined;
  bins: Map<number, Bin> | undefined;
}

/** What seriesFor() gives past the bound: its lines are dropped and counted, it is never filled nor flushed. */
const FULL: Series = { type: 'counter', name: '', tags: {}, unit: '', scope: 'default', bytes: 0, lines: 0, value: 0, members: undefined, bins: undefined };

/** The aggregated samples of one interval, in carrier spans ready for the sink. */
export interface Flushed {
  spans: SpanEvent[];
  /** Lines the samples stand for. */
  lines: number;
  samples: number;
}

/** Samples per carrier span, at most. */
const SAMPLES_PER_SPAN = 256;
/** Encoded bytes of a carrier span's samples, at most (about): far below gateway.maxSpanBytes (1 MB) even for lines of 64 KiB. */
const BYTES_PER_SPAN = 256 * 1024;

const TYPE_CHAR: Record<MetricType, string> = { counter: 'c', gauge: 'g', histogram: 'h', set: 's', status: 'x' };
const SCOPE_CHAR: Record<MetricScope, string> = { default: '0', local: 'l', global: 'g' };

/**
 * A series' identity as one string: type, scope, unit, name and the tag set
 * in the cardinality guard's form (`key\0value\1`, sorted by key), so the
 * same series arriving by either path, with its tags in any order, is one.
 */
export function seriesKey(type: MetricType, scope: MetricScope, unit: string, name: string, tagKey: string): string {
  return `${TYPE_CHAR[type]}${SCOPE_CHAR[scope]}${unit}\u0002${name}\u0002${tagKey}`;
}

/** The guard's form of a tag set (tagSetKey in cardinality-guard.ts). */
export function tagKeyOf(tags: Record<string, string>): string {
  const keys = Object.keys(tags).sort();
  let out = '';
  for (const k of keys) out += `${k}\u0000${tags[k]}\u0001`;
  return out;
}

export class StatsdAggregator {
  private series = new Map<string, Series>();
  /** Samples the open interval will flush (the bound's measure). */
  private entries = 0;
  /** Increases at every flush: the fast path's cache of series is valid for one interval. */
  generation = 0;
  /** Lines aggregated, and lines dropped over the bound, since takeCounts(). */
  private aggregatedLines = 0;
  private droppedLines = 0;
  /** The open interval's start (ms, a multiple of intervalMs): set by its first sample, the flushed samples' timestamp. */
  private start = 0;

  constructor(
    readonly intervalMs: number,
    readonly maxSamples: number,
    /** The clock (ms) the interval's start is read from, at its first sample. */
    private readonly clock: () => number = Date.now,
    /** The most samples a histogram series flushes per interval (gateway.statsdHistogramSamples). */
    readonly histogramSamples = HISTOGRAM_ROWS,
  ) {}

  /** Samples the open interval holds (for /metrics). */
  get open(): number {
    return this.entries;
  }

  /** Series the open interval holds (at most maxSamples). */
  get seriesCount(): number {
    return this.series.size;
  }

  /** The series of `key`, made with the fields given when it is new in this interval. */
  seriesFor(key: string, type: MetricType, name: string, tags: Record<string, string>, unit: string, scope: MetricScope): Series {
    let s = this.series.get(key);
    if (s === undefined) {
      // Past the bound no series is made (its lines are dropped): the map stays within it too.
      if (this.series.size >= this.maxSamples) return FULL;
      let bytes = 48 + Buffer.byteLength(name) + unit.length;
      for (const k in tags) bytes += 8 + Buffer.byteLength(k) + Buffer.byteLength(tags[k] as string);
      s = { type, name, tags, unit, scope, bytes, lines: 0, value: 0, members: undefined, bins: undefined };
      this.series.set(key, s);
    }
    return s;
  }

  /** A counter line: value / rate added. False when dropped over the bound. */
  count(s: Series, value: number, rate: number): boolean {
    if (s === FULL) return this.full();
    if (s.lines === 0 && !this.grow()) return false;
    s.value += Math.fround(value) / rate;
    s.lines++;
    this.aggregatedLines++;
    return true;
  }

  /** A gauge line: its value is the series' last. */
  gauge(s: Series, value: number): boolean {
    if (s === FULL) return this.full();
    if (s.lines === 0 && !this.grow()) return false;
    s.value = Math.fround(value);
    s.lines++;
    this.aggregatedLines++;
    return true;
  }

  /** A timer, histogram or distribution line: into its bin. */
  observe(s: Series, value: number, rate: number): boolean {
    if (s === FULL) return this.full();
    // Within float32: validated as SSF validates a sample (SSF_METRIC_VALUE_NOT_FINITE otherwise).
    const v = Math.fround(value);
    const key = v > 0 ? Math.ceil(Math.log(v) / LOG_GAMMA) + BIN_OFFSET : v < 0 ? -(Math.ceil(Math.log(-v) / LOG_GAMMA) + BIN_OFFSET) : 0;
    s.bins ??= new Map();
    let bin = s.bins.get(key);
    if (bin === undefined) {
      if (!this.grow()) return false;
      bin = { key, n: 0, w: 0, s: 0, min: v, max: v };
      s.bins.set(key, bin);
    }
    const w = 1 / rate;
    bin.n++;
    bin.w += w;
    bin.s += v * w;
    if (v < bin.min) bin.min = v;
    if (v > bin.max) bin.max = v;
    s.lines++;
    this.aggregatedLines++;
    return true;
  }

  /** A set line: its member. */
  member(s: Series, member: string): boolean {
    if (s === FULL) return this.full();
    s.members ??= new Set();
    if (!s.members.has(member)) {
      if (!this.grow()) return false;
      s.members.add(member);
    }
    s.lines++;
    this.aggregatedLines++;
    return true;
  }

  private full(): false {
    this.droppedLines++;
    return false;
  }

  private grow(): boolean {
    if (this.entries >= this.maxSamples) {
      this.droppedLines++;
      return false;
    }
    if (this.entries === 0) {
      const now = this.clock();
      this.start = now - (now % this.intervalMs);
    }
    this.entries++;
    return true;
  }

  /**
   * A sample of the general path (validated, through the guard): aggregated
   * (true) or left to pass as it is (false: service checks, and samples with
   * their own timestamp, i.e. one other than the datagram's received time).
   */
  take(m: MetricSample, receivedNs: bigint): boolean {
    if (m.type === 'status' || m.timestamp !== receivedNs) return false;
    const s = this.seriesFor(seriesKey(m.type, m.scope, m.unit, m.name, tagKeyOf(m.tags)), m.type, m.name, m.tags, m.unit, m.scope);
    if (m.type === 'counter') this.count(s, m.value, m.sampleRate);
    else if (m.type === 'gauge') this.gauge(s, m.value);
    else if (m.type === 'histogram') this.observe(s, m.value, m.sampleRate);
    else this.member(s, m.message);
    return true;
  }

  /** Lines aggregated and dropped over the bound since the last call. */
  takeCounts(): { aggregated: number; dropped: number } {
    const out = { aggregated: this.aggregatedLines, dropped: this.droppedLines };
    this.aggregatedLines = 0;
    this.droppedLines = 0;
    return out;
  }

  /**
   * Closes the open interval: its samples (timestamp: the interval's start;
   * the carrier spans' received time: `nowMs`), and a new interval opens.
   */
  flush(nowMs = Date.now()): Flushed {
    const ts = BigInt(this.start) * 1_000_000n;
    const received = BigInt(nowMs) * 1_000_000n;
    const spans: SpanEvent[] = [];
    let samples: MetricSample[] = [];
    let bytes = 0;
    let count = 0;
    let lines = 0;
    for (const s of this.series.values()) {
      if (s.lines === 0) continue;
      lines += s.lines;
      const one = (value: number, rate: number, message = ''): void => {
        const size = s.bytes + message.length * 3;
        if (samples.length === SAMPLES_PER_SPAN || (samples.length > 0 && bytes + size > BYTES_PER_SPAN)) {
          spans.push(carrier(samples, received));
          samples = [];
          bytes = 0;
        }
        samples.push({ type: s.type, name: s.name, value, timestamp: ts, message, status: 'ok', sampleRate: rate, tags: s.tags, unit: s.unit, scope: s.scope });
        bytes += size;
        count++;
      };
      if (s.type === 'counter') {
        for (const piece of counterPieces(s.value)) one(piece, 1);
      } else if (s.type === 'gauge') one(s.value, 1);
      else if (s.type === 'set') for (const m of s.members ?? []) one(0, 1, m);
      else
        for (const [value, rows, rate] of histogramRows([...(s.bins?.values() ?? [])], this.histogramSamples)) for (let i = 0; i < rows; i++) one(value, rate);
    }
    this.series = new Map();
    this.entries = 0;
    this.generation++;
    if (samples.length > 0) spans.push(carrier(samples, received));
    return { spans, lines, samples: count };
  }
}

function carrier(metrics: MetricSample[], receivedNs: bigint): SpanEvent {
  const span = spanEvent({ metrics, isTrace: false });
  span.receivedTimestamp = receivedNs;
  return span;
}

/**
 * A counter's sum as float32 values (the wire's) whose sum is the sum itself:
 * float32 rounds it to 24 bits, the difference is exact in a double, and so
 * on. One piece for a whole number up to 2^24; at most 3 (53 bits).
 */
export function counterPieces(total: number): number[] {
  const out: number[] = [];
  let left = total;
  do {
    const piece = Math.fround(left);
    out.push(piece);
    left -= piece;
  } while (left !== 0 && Number.isFinite(left) && out.length < 3);
  return out;
}

/**
 * A histogram series' bins -> [value, samples, sample_rate], in value order.
 * Each bin's value is the weighted mean of its values (within [min, max], so
 * within the bin). Up to `most` lines, a bin gives one sample per line, and
 * the weights make counts and sums exact. Past it the series gives `most`
 * samples, a bin's share by cumulative rounding (the share of the samples
 * up to any bin is within 0.5 / most of the lines'), and the lowest and the
 * highest bin one at least (taken from the largest: 1 / most more);
 * a bin left with no sample adds its weight to the next bin that has one
 * (the last to the one before), so counts stay exact, and the sum this
 * moved is put right by moving weight between the lowest and the highest
 * bin with samples (samples, so percentiles, unchanged).
 */
export function histogramRows(bins: Bin[], most = HISTOGRAM_ROWS): Array<[number, number, number]> {
  bins.sort((a, b) => a.key - b.key);
  let lines = 0;
  for (const b of bins) lines += b.n;
  const rows = bins.map((b) => b.n);
  if (lines > most) {
    let before = 0;
    for (let i = 0; i < bins.length; i++) {
      const after = before + (bins[i] as Bin).n;
      rows[i] = Math.round((most * after) / lines) - Math.round((most * before) / lines);
      before = after;
    }
    // The lowest and the highest bin keep a sample (one taken from the bin with most), so the
    // rollups' min and max stay within their bins.
    for (const edge of [0, bins.length - 1]) {
      if (rows[edge] !== 0) continue;
      let largest = 0;
      for (let i = 1; i < rows.length; i++) if ((rows[i] as number) > (rows[largest] as number)) largest = i;
      rows[largest] = (rows[largest] as number) - 1;
      rows[edge] = 1;
    }
  }
  const weight = bins.map((b) => b.w);
  let carried = 0;
  for (let i = 0; i < bins.length; i++) {
    if ((rows[i] as number) > 0) {
      weight[i] = (weight[i] as number) + carried;
      carried = 0;
    } else {
      carried += weight[i] as number;
      weight[i] = 0;
    }
  }
  if (carried > 0) {
    for (let i = bins.length - 1; i >= 0; i--) {
      if ((rows[i] as number) > 0) {
        weight[i] = (weight[i] as number) + carried;
        break;
      }
    }
  }
  const value = bins.map((b) => Math.min(b.max, Math.max(b.min, b.s / b.w)));
  // Bins that gave their weight away leave the sum short (or long) by what they weighed times the
  // distance to the bin that took it: some weight moves between the lowest and the highest bin
  // with samples, which keeps the count, the samples (so the percentiles) and makes the sum right.
  let first = -1;
  let last = -1;
  let error = 0;
  for (let i = 0; i < bins.length; i++) {
    error += (bins[i] as Bin).s - (weight[i] as number) * (value[i] as number);
    if ((rows[i] as number) > 0) {
      if (first === -1) first = i;
      last = i;
    }
  }
  const spread = (value[last] as number) - (value[first] as number);
  if (lines > most && error !== 0 && spread > 0) {
    const move = error / spread; // weight from `first` to `last` (negative: the other way)
    const room = move > 0 ? (weight[first] as number) - (rows[first] as number) : (weight[last] as number) - (rows[last] as number);
    const moved = Math.sign(move) * Math.min(Math.abs(move), Math.max(0, room));
    weight[first] = (weight[first] as number) - moved;
    weight[last] = (weight[last] as number) + moved;
  }
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < bins.length; i++) {
    let r = rows[i] as number;
    if (r === 0) continue;
    const w = weight[i] as number;
    // A sample carries at most 1e6 of weight (the codec's smallest rate)...
    if (w / r > MAX_WEIGHT) r = Math.ceil(w / MAX_WEIGHT);
    // ...and at least 1 (rounding can give a bin of one line two samples).
    else if (r > w) r = Math.max(1, Math.floor(w));
    out.push([value[i] as number, r, Math.min(1, r / w)]);
  }
  return out;
}
