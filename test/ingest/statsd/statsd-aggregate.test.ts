import { describe, expect, it } from 'vitest';
import { CardinalityGuard } from '../../../ingest/gateway/cardinality-guard.js';
import { GatewayMetrics } from '../../../ingest/gateway/gateway-metrics.js';
import { SpanIntake } from '../../../ingest/gateway/span-intake.js';
import type { IntakeResult, StatsdAggregate } from '../../../ingest/gateway/span-intake.js';
import { StatsdAggregateEncoder } from '../../../ingest/statsd/statsd-aggregate-bytes.js';
import { counterPieces, HISTOGRAM_ROWS, StatsdAggregator } from '../../../ingest/statsd/statsd-aggregator.js';
import { StatsdSampleEncoder } from '../../../ingest/statsd/statsd-sample-bytes.js';
import { statsdToSpans } from '../../../ingest/statsd/statsd-spans.js';
import { decodeSpan } from '../../../src/codec/index.js';
import type { LogRecord, MetricSample } from '../../../src/codec/index.js';
import { seededRandom } from '../../setup/random.js';
import { statsdDatagrams } from './statsd-datagrams.js';

const RECEIVED = 1_763_000_000_123_456_789n;
const MS = 1_000_000n;
const TENANT = 'acme';
/** The accepted times: the first 300 groups below (one a millisecond from RECEIVED) are too old for samples. */
const WINDOW = { spansFrom: 0, logsFrom: 0, samplesFrom: Number(RECEIVED + 300n * MS), to: Number(RECEIVED + 1_000_000n * MS) };
const START_MS = Number(RECEIVED / MS);

function aggregating(
  maxSamples = 1_000_000,
  guardLimit = 1_000,
): {
  intake: SpanIntake;
  encoder: StatsdAggregateEncoder;
  aggregator: StatsdAggregator;
  metrics: GatewayMetrics;
} {
  const metrics = new GatewayMetrics();
  const aggregator = new StatsdAggregator(10_000, maxSamples, () => START_MS);
  return {
    intake: new SpanIntake(metrics, new CardinalityGuard(guardLimit), () => WINDOW),
    encoder: new StatsdAggregateEncoder(aggregator),
    aggregator,
    metrics,
  };
}

/** The samples and logs that reach the sink from intake results (bytes as the sink forwards them, decoded). */
function decoded(results: IntakeResult[]): { samples: MetricSample[]; logs: LogRecord[] } {
  const samples: MetricSample[] = [];
  const logs: LogRecord[] = [];
  for (const r of results) {
    for (const a of r.accepted) {
      const v = decodeSpan(Buffer.concat([a.bytes, a.stamp]));
      if (!v.ok) throw new Error(`undecodable span: ${JSON.stringify(v.rejections)}`);
      expect(v.span.tenant).toBe(TENANT);
      samples.push(...v.span.metrics);
      logs.push(...v.span.logs);
    }
  }
  return { samples, logs };
}

/** The flushed interval as the sink gets it. */
function flushed(intake: SpanIntake, aggregator: StatsdAggregator, nowMs = START_MS + 10_000): MetricSample[] {
  const f = aggregator.flush(nowMs);
  return decoded([intake.fromAggregated(f.spans, TENANT, 'statsd')]).samples;
}

function key(m: MetricSample): string {
  const tags = Object.entries(m.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([m.type, m.name, m.unit, m.scope, tags]);
}

interface Totals {
  /** Counter: sum of value / rate. Histogram: count (sum of 1 / rate). */
  count: Map<string, number>;
  /** Histogram: sum of value / rate; its scale (sum of |value| / rate) for the tolerance. */
  sum: Map<string, number>;
  scale: Map<string, number>;
  last: Map<string, number>;
  members: Map<string, Set<string>>;
}

/** What the rollups would make of these samples, per series (the rate read back as float32, as ClickHouse stores it). */
function totals(samples: MetricSample[]): Totals {
  const t: Totals = { count: new Map(), sum: new Map(), scale: new Map(), last: new Map(), members: new Map() };
  const add = (m: Map<string, number>, k: string, v: number): void => {
    m.set(k, (m.get(k) ?? 0) + v);
  };
  for (const m of samples) {
    const k = key(m);
    const w = 1 / m.sampleRate;
    if (m.type === 'counter') add(t.count, k, m.value * w);
    else if (m.type === 'gauge') t.last.set(k, m.value);
    else if (m.type === 'set') t.members.set(k, (t.members.get(k) ?? new Set()).add(m.message));
    else if (m.type === 'histogram') {
      add(t.count, k, w);
      add(t.sum, k, m.value * w);
      add(t.scale, k, Math.abs(m.value) * w);
    }
  }
  return t;
}

function expectClose(a: Map<string, number>, b: Map<string, number>, scale?: Map<string, number>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, v] of a) {
    const w = b.get(k) as number;
    const tolerance = 1e-6 * Math.max(1, scale?.get(k) ?? Math.abs(v));
    if (Math.abs(v - w) > tolerance) throw new Error(`${k}: ${v} vs ${w}`);
  }
}

/** The counters a refusal or a drop shows on /metrics, as text lines. */
async function counters(metrics: GatewayMetrics): Promise<string[]> {
  return (await metrics.registry.render())
    .split('\n')
    .filter((l) => /^ssf_gateway_(received_total|accepted_events_total|refused_total|cardinality_overflow_total|metric_names_refused_total)/.test(l));
}

describe('statsd aggregation', () => {
  it('sums counters (value / rate), keeps the last gauge, each set member once, and every histogram line', () => {
    const { intake, encoder, aggregator } = aggregating();
    const lines = [
      'hits:1|c|#route:/a,code:200',
      'hits:2|c|@0.5|#code:200,route:/a', // the same series, tags in another order: 1 + 4
      'hits:3|c|#route:/b',
      'temp:20|g',
      'temp:21.5|g',
      'users:ann|s',
      'users:bob|s',
      'users:ann|s',
      'lat:10|ms',
      'lat:10|ms',
      'lat:30|ms|@0.25',
      'size:5|h',
      'dist:7|d',
    ];
    const r = intake.fromStatsd([Buffer.from(lines.join('\n'))], TENANT, 'statsd', RECEIVED + 400n * MS, statsdToSpans, undefined, encoder);
    expect(r.events).toBe(lines.length);
    expect(r.accepted).toHaveLength(0); // everything waits for the flush
    const out = flushed(intake, aggregator);
    const by = (name: string): MetricSample[] => out.filter((m) => m.name === name);
    expect(
      by('hits')
        .map((m) => [m.value, m.sampleRate, m.tags])
        .sort(),
    ).toEqual([
      [3, 1, { route: '/b' }],
      [5, 1, { code: '200', route: '/a' }],
    ]);
    expect(by('temp')).toMatchObject([{ type: 'gauge', value: 21.5, sampleRate: 1 }]);
    expect(
      by('users')
        .map((m) => m.message)
        .sort(),
    ).toEqual(['ann', 'bob']);
    const lat = by('lat');
    expect(lat.every((m) => m.unit === 'ms' && m.type === 'histogram')).toBe(true);
    expect(lat.map((m) => m.value).sort()).toEqual([10, 10, 30]);
    expect(lat.reduce((a, m) => a + 1 / m.sampleRate, 0)).toBeCloseTo(6, 5);
    expect(by('size')).toMatchObject([{ type: 'histogram', value: 5, scope: 'default', unit: '' }]);
    expect(by('dist')).toMatchObject([{ type: 'histogram', value: 7, scope: 'global' }]);
    // Every sample has the interval's start as its time.
    for (const m of out) expect(m.timestamp).toBe(BigInt(START_MS - (START_MS % 10_000)) * MS);
    // A new interval starts empty.
    expect(aggregator.flush(START_MS + 20_000).samples).toBe(0);
  });

  it('stamps an interval’s samples with its start, read when its first line is aggregated', () => {
    let clock = 1_763_000_004_321;
    const aggregator = new StatsdAggregator(10_000, 100, () => clock);
    const intake = new SpanIntake(new GatewayMetrics(), new CardinalityGuard(10), () => WINDOW);
    const encoder = new StatsdAggregateEncoder(aggregator);
    const at = RECEIVED + 400n * MS;
    intake.fromStatsd([Buffer.from('a:1|c')], TENANT, 'statsd', at, statsdToSpans, undefined, encoder);
    expect(flushed(intake, aggregator).map((m) => m.timestamp)).toEqual([1_763_000_000_000n * MS]);
    // An interval with no line for a while: its start is its first line's interval, not the last flush's.
    clock = 1_763_000_047_000;
    intake.fromStatsd([Buffer.from('a:2|c\na:3|c')], TENANT, 'statsd', at, statsdToSpans, undefined, encoder);
    clock = 1_763_000_052_000;
    intake.fromStatsd([Buffer.from('a:4|c')], TENANT, 'statsd', at, statsdToSpans, undefined, encoder);
    expect(flushed(intake, aggregator).map((m) => [m.timestamp, m.value])).toEqual([[1_763_000_040_000n * MS, 9]]);
  });

  it('passes events, service checks and lines with their own timestamp as they are', () => {
    const { intake, encoder, aggregator } = aggregating();
    const at = RECEIVED + 400n * MS;
    const r = intake.fromStatsd(
      [Buffer.from('a:1|c\n_e{5,4}:title|text\n_sc|check|2\nb:4|g|T1763000001\nc:1|c|@0.5|T1763000002')],
      TENANT,
      'statsd',
      at,
      statsdToSpans,
      undefined,
      encoder,
    );
    expect(r.events).toBe(5);
    const passed = decoded([r]);
    expect(passed.logs).toHaveLength(1);
    expect(passed.samples.map((m) => [m.type, m.name, m.timestamp])).toEqual([
      ['status', 'check', at],
      ['gauge', 'b', 1_763_000_001n * 1_000_000_000n],
      ['counter', 'c', 1_763_000_002n * 1_000_000_000n],
    ]);
    expect(flushed(intake, aggregator).map((m) => [m.name, m.value])).toEqual([['a', 1]]);
  });

  it('keeps counter sums float32 cannot hold exact in float32 pieces', () => {
    expect(counterPieces(5)).toEqual([5]);
    for (const big of [2 ** 24 * 3 + 12_345, -(2 ** 40) - 7, 1e15 + 1, 0.1 + 0.2]) {
      const pieces = counterPieces(big);
      expect(pieces.every((p) => Math.fround(p) === p)).toBe(true);
      expect(pieces.reduce((a, b) => a + b, 0)).toBe(big);
    }
    const { intake, encoder, aggregator } = aggregating();
    const line = Buffer.from(Array.from({ length: 100 }, () => 'n:1000000|c').join('\n'));
    for (let i = 0; i < 200; i++) intake.fromStatsd([line], TENANT, 'statsd', RECEIVED + 400n * MS, statsdToSpans, undefined, encoder);
    const out = flushed(intake, aggregator);
    expect(out.reduce((a, m) => a + m.value, 0)).toBe(20_000_000_000);
  });

  /** 200,000 lines of a lognormal latency (median 20 ms) in one series; its exact values, sorted, and the flushed samples. */
  function lognormal(histogramSamples: number): { values: number[]; out: MetricSample[] } {
    const rand = seededRandom(7);
    const metrics = new GatewayMetrics();
    const aggregator = new StatsdAggregator(10_000, 1_000_000, () => START_MS, histogramSamples);
    const intake = new SpanIntake(metrics, new CardinalityGuard(1000), () => WINDOW);
    const encoder = new StatsdAggregateEncoder(aggregator);
    const values: number[] = [];
    for (let d = 0; d < 5_000; d++) {
      const lines: string[] = [];
      for (let i = 0; i < 40; i++) {
        const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
        const v = Number((20 * Math.exp(g)).toFixed(3));
        values.push(Math.fround(v));
        lines.push(`req.latency:${v}|ms|#route:/x`);
      }
      intake.fromStatsd([Buffer.from(lines.join('\n'))], TENANT, 'statsd', RECEIVED + 400n * MS, statsdToSpans, undefined, encoder);
    }
    values.sort((x, y) => x - y);
    return { values, out: flushed(intake, aggregator) };
  }

  it.each([
    [HISTOGRAM_ROWS, 0.04],
    [8192, 0.01],
  ])(
    'thins a histogram of 200,000 lines to %i samples: exact count and sum, percentiles within 1 percent of a value at rank q ± 2.5 / samples, min and max kept',
    (samples, p99) => {
      const { values, out } = lognormal(samples);
      expect(out).toHaveLength(samples);
      const count = out.reduce((a, m) => a + 1 / m.sampleRate, 0);
      expect(Math.abs(count - values.length) / values.length).toBeLessThan(1e-6);
      const exactSum = values.reduce((a, b) => a + b, 0);
      const sum = out.reduce((a, m) => a + m.value / m.sampleRate, 0);
      // The sum too: the weight bins without a sample gave away is put right.
      expect(Math.abs(sum - exactSum) / exactSum).toBeLessThan(1e-6);
      const rows = out.map((m) => m.value).sort((a, b) => a - b);
      // The rollups' min and max: within 1 % (the extreme lines' bins keep a sample each).
      expect(rows[0] as number).toBeGreaterThanOrEqual(values[0] as number);
      expect(rows[0] as number).toBeLessThanOrEqual((values[0] as number) * 1.01);
      expect(rows[rows.length - 1] as number).toBeLessThanOrEqual(values[values.length - 1] as number);
      expect(rows[rows.length - 1] as number).toBeGreaterThanOrEqual((values[values.length - 1] as number) * 0.99);
      // The rollups' DDSketch counts samples, unweighted: the sample at rank q is within 1 % (its bin)
      // of an exact value at a rank within q ± 2.5 / samples (0.5 of cumulative rounding, 1 of a sample's own share,
      // 1 given to the lowest and highest bins).
      for (const q of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]) {
        const got = rows[Math.floor(q * (rows.length - 1))] as number;
        const lo = values[Math.max(0, Math.floor((q - 2.5 / samples) * (values.length - 1)))] as number;
        const hi = values[Math.min(values.length - 1, Math.ceil((q + 2.5 / samples) * (values.length - 1)))] as number;
        expect(got).toBeGreaterThanOrEqual(lo * 0.99);
        expect(got).toBeLessThanOrEqual(hi * 1.01);
        const exact = values[Math.floor(q * (values.length - 1))] as number;
        // Against the exact value at rank q itself, up to p99 (the figures docs/ssf.md gives).
        if (q <= 0.99) expect(Math.abs(got - exact) / exact).toBeLessThan(p99);
      }
    },
  );

  it('keeps a histogram of few distinct values exact: one sample per line at the values sent', () => {
    const { intake, encoder, aggregator } = aggregating();
    const lines = Array.from({ length: 600 }, (_, i) => `t:${[5, 10, 250][i % 3]}|ms`).join('\n');
    intake.fromStatsd([Buffer.from(lines)], TENANT, 'statsd', RECEIVED + 400n * MS, statsdToSpans, undefined, encoder);
    const out = flushed(intake, aggregator);
    expect(out).toHaveLength(600);
    expect(out.filter((m) => m.value === 250)).toHaveLength(200);
    expect(out.every((m) => m.sampleRate === 1)).toBe(true);
  });

  it('flushes carrier spans below gateway.maxSpanBytes, whatever the lines’ size', () => {
    const { intake, encoder, aggregator } = aggregating();
    // 100 series of 60 KB lines (30 tags of 2 KB): a carrier of 256 of them would be 15 MB.
    const tags = Array.from({ length: 30 }, (_, i) => `k${i}:${'v'.repeat(2000)}`).join(',');
    const packets = Array.from({ length: 100 }, (_, i) => Buffer.from(`big.${i}:1|c|#${tags}`));
    const r = intake.fromStatsd(packets, TENANT, 'statsd', RECEIVED + 400n * MS, statsdToSpans, undefined, encoder);
    expect(r.events).toBe(100);
    const f = aggregator.flush(START_MS + 10_000);
    const out = intake.fromAggregated(f.spans, TENANT, 'statsd');
    expect(out.rejected).toEqual([]);
    expect(out.events).toBe(100);
    expect(out.accepted.length).toBeGreaterThan(1);
    for (const a of out.accepted) expect(a.bytes.length).toBeLessThan(1_000_000);
  });

  it('drops and counts lines that need a sample past statsdMaxSamples; known series keep aggregating', async () => {
    const { intake, encoder, aggregator, metrics } = aggregating(3);
    const r = intake.fromStatsd(
      [Buffer.from('a:1|c\nb:1|c\nc:1|s\nc:2|s\nd:1|c\na:5|c\nc:1|s')],
      TENANT,
      'statsd',
      RECEIVED + 400n * MS,
      statsdToSpans,
      undefined,
      encoder,
    );
    // Validated and accepted as per-sample mode would; two lines then dropped over the bound (c:2, d:1).
    expect(r.events).toBe(7);
    expect(aggregator.open).toBe(3);
    expect(aggregator.takeCounts()).toEqual({ aggregated: 5, dropped: 2 });
    const out = flushed(intake, aggregator);
    expect(out.map((m) => [m.name, m.value, m.message]).sort()).toEqual([
      ['a', 6, ''],
      ['b', 1, ''],
      ['c', 0, '1'],
    ]);
    expect(metrics.count('accepted', { protocol: 'statsd' })).toBe(7);
  });

  it('holds no more than statsdMaxSamples series whatever a tenant sends (fast and general paths)', () => {
    const { intake, encoder, aggregator } = aggregating(10, 100_000);
    const at = RECEIVED + 400n * MS;
    for (let d = 0; d < 100; d++) {
      // Even datagrams take the byte-level path; odd ones, with a set, the general path.
      const lines = Array.from({ length: 20 }, (_, i) => `hostile.${d}.${i}:1|${['c', 'g', 'ms', d % 2 === 0 ? 'h' : 's'][i % 4]}`);
      intake.fromStatsd([Buffer.from(lines.join('\n'))], TENANT, 'statsd', at, statsdToSpans, undefined, encoder);
    }
    expect(aggregator.seriesCount).toBeLessThanOrEqual(10);
    expect(aggregator.open).toBe(10);
    expect(aggregator.takeCounts()).toEqual({ aggregated: 10, dropped: 1990 });
    expect(aggregator.flush(START_MS + 10_000).samples).toBe(10);
  });

  it('gives per-sample mode totals and refusal counts on random and mutated datagrams (fast and general paths)', async () => {
    const { int, datagram } = statsdDatagrams(57);
    const perSampleMetrics = new GatewayMetrics();
    const perSample = new SpanIntake(perSampleMetrics, new CardinalityGuard(300), () => WINDOW);
    const sampleEncoder = new StatsdSampleEncoder();
    const agg = aggregating(1_000_000, 300);
    // The same aggregation through the general path only: the byte-level path must give what it gives.
    const general = aggregating(1_000_000, 300);
    const generalOnly: StatsdAggregate = {
      lines: 0,
      aggregate: () => false,
      take: (m, receivedNs) => general.aggregator.take(m, receivedNs),
    };
    const a: IntakeResult[] = [];
    const b: IntakeResult[] = [];
    const c: IntakeResult[] = [];
    const received: bigint[] = [];
    for (let i = 0; i < 6_000; i++) {
      const group = Array.from({ length: 1 + int(3) }, datagram);
      const now = RECEIVED + BigInt(i) * MS;
      received.push(now);
      a.push(perSample.fromStatsd(group, TENANT, 'statsd', now, statsdToSpans, sampleEncoder));
      b.push(agg.intake.fromStatsd(group, TENANT, 'statsd', now, statsdToSpans, undefined, agg.encoder));
      c.push(general.intake.fromStatsd(group, TENANT, 'statsd', now, statsdToSpans, undefined, generalOnly));
      expect(b[i]?.events).toBe(a[i]?.events);
      expect(c[i]?.events).toBe(a[i]?.events);
    }
    // The same validation: the same counters of lines received, accepted, refused (by code) and folded.
    const perSampleCounters = await counters(perSampleMetrics);
    expect(perSampleCounters.some((l) => /refused_total\{protocol="statsd",code="STATSD_ERR_VALUE"\} [1-9]/.test(l))).toBe(true);
    expect(perSampleCounters.some((l) => /cardinality_overflow_total.* [1-9]/.test(l))).toBe(true);
    expect(await counters(agg.metrics)).toEqual(perSampleCounters);
    expect(await counters(general.metrics)).toEqual(perSampleCounters);

    // What per-sample mode stores: lines with the datagram's received time are aggregated; the rest passes.
    const stored = decoded(a);
    const receivedSet = new Set(received);
    const aggregatable = (m: MetricSample): boolean => m.type !== 'status' && receivedSet.has(m.timestamp);
    const passed = decoded(b);
    const out = flushed(agg.intake, agg.aggregator);
    expect(out.length).toBeLessThan(stored.samples.filter(aggregatable).length);
    // The passed samples and logs are per-sample mode's.
    expect(passed.samples.map((m) => JSON.stringify(m, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))).toEqual(
      stored.samples.filter((m) => !aggregatable(m)).map((m) => JSON.stringify(m, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))),
    );
    expect(passed.logs).toHaveLength(stored.logs.length);
    expect(passed.samples.filter(aggregatable)).toHaveLength(0);
    // The totals the rollups keep: counter sums, histogram counts and sums, gauge lasts, set members.
    const want = totals(stored.samples.filter(aggregatable));
    const got = totals(out);
    expectClose(got.count, want.count);
    expectClose(got.sum, want.sum, want.scale);
    expect(got.last).toEqual(want.last);
    expect(got.members).toEqual(want.members);
    expect(want.members.size).toBeGreaterThan(0);
    expect(want.last.size).toBeGreaterThan(0);

    // The byte-level path aggregates exactly what the general path does.
    const viaGeneral = flushed(general.intake, general.aggregator);
    const sorted = (xs: MetricSample[]): string[] => xs.map((m) => `${key(m)} ${m.value} ${m.sampleRate} ${m.message} ${m.timestamp}`).sort();
    expect(sorted(out)).toEqual(sorted(viaGeneral));
    expect(decoded(c).samples).toEqual(passed.samples);
  }, 120_000);
});
