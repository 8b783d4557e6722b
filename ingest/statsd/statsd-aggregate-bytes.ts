import type { MetricSample, MetricScope, MetricType } from '../../src/codec/types.js';
import { KIND_DISTRIBUTION, KIND_TIMER, MEMO_SLOTS, StatsdSampleEncoder, TYPE_COUNTER, TYPE_GAUGE, TYPE_HISTOGRAM } from './statsd-sample-bytes.js';
import type { TagSetGuard } from './statsd-sample-bytes.js';
import { seriesKey } from './statsd-aggregator.js';
import type { Series, StatsdAggregator } from './statsd-aggregator.js';

const NL = 10;
const CR = 13;
/** Lines of one datagram (a 64 KiB datagram of `a:1|c` lines has 10,923). */
const MAX_LINES = 16_384;
/** Kinds of line per memo slot: c, g, h, ms, d. */
const KINDS = 5;

/**
 * statsd aggregation's fast path: a datagram of common lines is read at byte
 * level by the per-sample encoder's own readLine() (so both accept exactly
 * the same lines, and ask the cardinality guard the same), and each line
 * only updates the numbers of its series (statsd-aggregator.ts). A line of a
 * series seen before in this interval allocates nothing: its series is kept
 * beside readLine()'s memo entry of the line. A datagram with anything else is
 * declined whole, before any of its lines is aggregated, and the caller
 * takes the general path (parse, validate, guard, then take()).
 */
export class StatsdAggregateEncoder extends StatsdSampleEncoder {
  /** Lines in the datagram last aggregated (those dropped over the bound included). */
  lines = 0;
  private readonly lineSeries: Array<Series | undefined> = new Array<Series | undefined>(MAX_LINES).fill(undefined);
  private readonly lineKinds = new Uint8Array(MAX_LINES);
  private readonly lineValues = new Float64Array(MAX_LINES);
  private readonly lineRates = new Float64Array(MAX_LINES);
  /** Per readLine() memo slot and kind: the series, the interval and the slot's writes it is valid for. */
  private readonly cacheGeneration = new Float64Array(MEMO_SLOTS * KINDS).fill(-1);
  private readonly cacheWrites = new Float64Array(MEMO_SLOTS * KINDS);
  private readonly cacheSeries: Array<Series | undefined> = new Array<Series | undefined>(MEMO_SLOTS * KINDS).fill(undefined);

  protected override readonly readOnly = true;

  constructor(readonly aggregator: StatsdAggregator) {
    super();
  }

  /** Aggregates the datagram's lines; false when it must take the general path (then none was aggregated). */
  aggregate(packet: Buffer, guard: TagSetGuard, tenant: string, now: number): boolean {
    this.epoch = guard.epoch(now);
    const n = packet.length;
    let count = 0;
    let s = 0;
    while (s < n) {
      let nl = packet.indexOf(NL, s);
      if (nl === -1) nl = n;
      let e = nl;
      if (e > s && packet[e - 1] === CR) e--;
      if (e > s) {
        if (count === MAX_LINES || !this.readLine(packet, s, e, guard, tenant, now)) return false;
        this.lineSeries[count] = this.seriesOf(packet, s);
        this.lineKinds[count] = this.lineKind === KIND_TIMER || this.lineKind === KIND_DISTRIBUTION ? TYPE_HISTOGRAM : this.lineKind;
        this.lineValues[count] = this.lineValue;
        this.lineRates[count] = this.lineRate;
        count++;
      }
      s = nl + 1;
    }
    // Every line was read: only now is any of them aggregated.
    const a = this.aggregator;
    for (let i = 0; i < count; i++) {
      const series = this.lineSeries[i] as Series;
      const kind = this.lineKinds[i] as number;
      if (kind === TYPE_COUNTER) a.count(series, this.lineValues[i] as number, this.lineRates[i] as number);
      else if (kind === TYPE_GAUGE) a.gauge(series, this.lineValues[i] as number);
      else a.observe(series, this.lineValues[i] as number, this.lineRates[i] as number);
      this.lineSeries[i] = undefined;
    }
    this.lines = count;
    return true;
  }

  /** A sample of the general path: aggregated (true), or to pass as it is (StatsdAggregator.take). */
  take(m: MetricSample, receivedNs: bigint): boolean {
    return this.aggregator.take(m, receivedNs);
  }

  /**
   * The series of the line readLine() just read, which starts at `s`: kept
   * beside readLine()'s memo entry of the line's (tenant, name, tag section)
   * for each kind, so a line seen before in this interval costs no hash nor
   * comparison of its own. Valid while the memo slot was not written again
   * (memoWrites) and in the same interval (generation); the guard's window is
   * readLine()'s own check.
   */
  private seriesOf(b: Buffer, s: number): Series {
    const kind = this.lineKind;
    const at = this.lineSlot * KINDS + (kind >= KIND_TIMER ? kind - KIND_TIMER + 3 : kind);
    const generation = this.aggregator.generation;
    const writes = this.memoWrites[this.lineSlot] as number;
    if (this.cacheGeneration[at] === generation && this.cacheWrites[at] === writes) return this.cacheSeries[at] as Series;
    // New in this interval (or its memo entry was replaced): its tags as an object, its key, its series.
    const colon = this.lineColon;
    const count = this.parseTags(b, this.lineTagStart, this.lineTagEnd);
    const tags: Record<string, string> = {};
    for (let j = 0; j < count * 4; j += 4) {
      tags[b.toString('latin1', this.tags[j] as number, this.tags[j + 1] as number)] = b.toString(
        'latin1',
        this.tags[j + 2] as number,
        this.tags[j + 3] as number,
      );
    }
    const name = b.toString('latin1', s, colon);
    const type: MetricType = kind === TYPE_COUNTER ? 'counter' : kind === TYPE_GAUGE ? 'gauge' : 'histogram';
    const scope: MetricScope = kind === KIND_DISTRIBUTION ? 'global' : 'default';
    const unit = kind === KIND_TIMER ? 'ms' : '';
    const series = this.aggregator.seriesFor(seriesKey(type, scope, unit, name, this.tagSetKey(b, count)), type, name, tags, unit, scope);
    this.cacheGeneration[at] = generation;
    this.cacheWrites[at] = writes;
    this.cacheSeries[at] = series;
    return series;
  }
}
