import { setTimeout as sleep } from 'node:timers/promises';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../src/codec/index.js';
import type { MetricSample, MetricType, SpanEvent } from '../../src/codec/index.js';
import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { quoteIdent } from '../../src/clickhouse/quote-ident.js';
import type { Gateway } from '../../ingest/gateway/gateway.js';
import { seededRandom } from '../setup/random.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import { spanEvent } from '../../src/codec/span-event.js';

/**
 * The derived signals (rollups, span metrics, trace index) against an exact
 * reference computed here from the same generated data. The data goes
 * through the real all-in-one pipeline: SSF protobuf batches over HTTP and
 * statsd lines over UDP into the gateway, which inserts into ClickHouse.
 * Every check groups by series and bucket: AggregatingMergeTree rows merge
 * in the background, so merged rows are never relied on.
 */

// DDSketch as ClickHouse implements it (src/AggregateFunctions/DDSketch*): relative
// accuracy α = 0.01, γ = (1 + α) / (1 - α); a value v goes to bin
// trunc(log_γ v), reported as γ^bin · (1 + α); the quantile q is the bin holding
// the element of 0-based rank floor(q · (n - 1)) (no interpolation between ranks).
const ALPHA = 0.01;
const GAMMA = (1 + ALPHA) / (1 - ALPHA);
// trunc() rounds toward zero, so below 1 (negative log) a value lands one bin up:
// the answer is over by α up to γ(1 + α) - 1 (3.04 %) instead of within ±α.
const BELOW_ONE_MAX_ERROR = GAMMA * (1 + ALPHA) - 1;
// uniqHLL12: exact up to 16 distinct values (small-set mode), then HyperLogLog with
// 2^12 cells, ~1.6 % standard error (17 distinct can already read 15); 5 % is a
// little over 3 sigma. The data is seeded, so the answers are the same every run.
const HLL_EXACT_UP_TO = 16;
const HLL_BOUND = 0.05;
const QUANTILES = [0.5, 0.9, 0.99] as const;

type Tags = Record<string, string>;

// --- deterministic data ------------------------------------------------------

const rand = seededRandom(20240611);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
function logNormal(median: number, sigma: number): number {
  const u = 1 - rand();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  return median * Math.exp(sigma * z);
}
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}
/** A random positive 63-bit id (as the emitter makes them). */
function randomId(): bigint {
  const hi = BigInt(Math.floor(rand() * 2 ** 31));
  const lo = BigInt(Math.floor(rand() * 2 ** 32));
  return (hi << 32n) | lo || 1n;
}

// Two whole hours, both in the past and well inside every TTL.
const WINDOW_MS = 2 * 3_600_000;
const H0_MS = (Math.floor(Date.now() / 3_600_000) - 2) * 3_600_000;
const H0_NS = BigInt(H0_MS) * 1_000_000n;
/** A random time in the window, ns. */
const randomNs = (): bigint => H0_NS + BigInt(Math.floor(rand() * WINDOW_MS)) * 1_000_000n + BigInt(Math.floor(rand() * 1_000_000));
/** A random whole second in the window (statsd `|T` and `d:` have second resolution). */
const randomSecond = (): number => Math.floor(H0_MS / 1000) + Math.floor(rand() * (WINDOW_MS / 1000));
/** `count` distinct whole seconds in the window (so argMax never sees a tie). */
function distinctSeconds(count: number): number[] {
  const seen = new Set<number>();
  while (seen.size < count) seen.add(randomSecond());
  return [...seen];
}

// --- the reference -----------------------------------------------------------

/** One observation as the rollup sees it: a sample, or a duration derived from a span. */
interface Observation {
  name: string;
  type: MetricType;
  tags: Tags;
  timestampNs: bigint;
  value: number;
  /** 1 / sample_rate, the rate read back as the decimal that was sent. */
  weight: number;
  member: string;
  status: number;
}

interface Aggregate {
  name: string;
  type: MetricType;
  tags: Tags;
  bucket: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  lastNs: bigint;
  lastStatus: number;
  lastStatusNs: bigint;
  values: number[];
  members: Set<string>;
}

const tagKey = (tags: Tags): string => JSON.stringify(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const seriesKey = (name: string, type: string, tags: Tags, bucket: number): string => `${name}|${type}|${tagKey(tags)}|${bucket}`;
/**
 * The weight of a sample. sample_rate is stored as Float32; the rollup view
 * reads it back as its shortest decimal (toString), which is the rate that
 * was sent (0.1, not 0.100000001490116), and divides in Float64.
 */
function weightOf(rate: number): number {
  const stored = Math.fround(rate);
  for (let digits = 1; digits <= 9; digits++) {
    const shortest = Number(stored.toPrecision(digits));
    if (Math.fround(shortest) === stored) return 1 / shortest;
  }
  return 1 / stored;
}

/** Aggregates observations per series and bucket: `bucketSeconds` 60 or 3600, or 0 for one bucket over all time. */
function reference(observations: readonly Observation[], bucketSeconds: number): Map<string, Aggregate> {
  const out = new Map<string, Aggregate>();
  for (const o of observations) {
    const bucket = bucketSeconds === 0 ? 0 : Number(o.timestampNs / BigInt(bucketSeconds * 1e9)) * bucketSeconds;
    const key = seriesKey(o.name, o.type, o.tags, bucket);
    let a = out.get(key);
    if (!a) {
      a = {
        name: o.name,
        type: o.type,
        tags: o.tags,
        bucket,
        count: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        last: 0,
        lastNs: -1n,
        lastStatus: 0,
        lastStatusNs: -1n,
        values: [],
        members: new Set(),
      };
      out.set(key, a);
    }
    a.count += o.weight;
    a.sum += o.value * o.weight;
    a.min = Math.min(a.min, o.value);
    a.max = Math.max(a.max, o.value);
    if (o.timestampNs > a.lastNs) {
      a.last = o.value;
      a.lastNs = o.timestampNs;
    }
    if (o.type === 'histogram') a.values.push(o.value);
    if (o.type === 'set') a.members.add(o.member);
    if (o.type === 'status' && o.timestampNs > a.lastStatusNs) {
      a.lastStatus = o.status;
      a.lastStatusNs = o.timestampNs;
    }
  }
  for (const a of out.values()) a.values.sort((x, y) => x - y);
  return out;
}

/** The element a DDSketch quantile stands for: 0-based rank floor(q · (n - 1)). */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/** Relative error of a quantileDD answer, and the bound it must be within for that value. */
function sketchError(got: number, exact: number): { error: number; ok: boolean } {
  const error = got / exact - 1;
  const slack = 1e-9; // log/exp rounding at a bin edge
  const ok = exact >= 1 ? Math.abs(error) <= ALPHA + slack : error >= -slack && error <= BELOW_ONE_MAX_ERROR + slack;
  return { error, ok };
}

const close = (got: number, want: number, relative = 1e-12): boolean => Math.abs(got - want) <= Math.max(Math.abs(want) * relative, 1e-9);

// --- reading the rollups -----------------------------------------------------

interface RollupRow {
  name: string;
  kind: string;
  series_tags: Tags;
  b: number;
  n: number;
  total: number;
  lo: number;
  hi: number;
  last_value: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  distinct_count: string;
  status_value: number;
}

async function readRollup(ch: ClickHouse, table: 'metrics_1m' | 'metrics_1h', names: string[], perBucket: boolean): Promise<RollupRow[]> {
  const bucket = perBucket ? 'toUnixTimestamp(bucket)' : '0';
  const result = await ch.client.query({
    query: `SELECT name, toString(type) AS kind, any(tags) AS series_tags, ${bucket} AS b,
              sum(count) AS n, sum(sum) AS total, min(min) AS lo, max(max) AS hi,
              argMaxMerge(last) AS last_value,
              quantileDDMerge(0.01, 0.5)(quantiles) AS p50, quantileDDMerge(0.01, 0.9)(quantiles) AS p90, quantileDDMerge(0.01, 0.99)(quantiles) AS p99,
              uniqHLL12Merge(uniq) AS distinct_count, argMaxMerge(last_status) AS status_value
            FROM ${quoteIdent(ch.database)}.${table}
            WHERE tenant = {tenant:String} AND name IN {names:Array(String)}
            GROUP BY name, type, tags_hash, b`,
    query_params: { tenant: 'default', names },
    format: 'JSONEachRow',
  });
  return result.json<RollupRow>();
}

interface Mismatch {
  series: string;
  what: string;
  got: number | string | null;
  want: number | string;
}

/** Every difference between ClickHouse's rollup rows and the reference (empty when they agree). */
function compare(rows: readonly RollupRow[], want: Map<string, Aggregate>): Mismatch[] {
  const out: Mismatch[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const key = seriesKey(r.name, r.kind, r.series_tags, r.b);
    seen.add(key);
    const a = want.get(key);
    if (!a) {
      out.push({ series: key, what: 'unexpected series', got: r.n, want: '-' });
      continue;
    }
    const check = (what: string, ok: boolean, got: number | string | null, expected: number | string): void => {
      if (!ok) out.push({ series: key, what, got, want: expected });
    };
    check('count', close(r.n, a.count), r.n, a.count);
    check('sum', close(r.total, a.sum), r.total, a.sum);
    check('min', r.lo === a.min, r.lo, a.min);
    check('max', r.hi === a.max, r.hi, a.max);
    if (a.type === 'gauge') check('last', r.last_value === a.last, r.last_value, a.last);
    if (a.type === 'status') check('last_status', r.status_value === a.lastStatus, r.status_value, a.lastStatus);
    if (a.type === 'set') {
      const distinct = a.members.size;
      const got = Number(r.distinct_count);
      const ok = distinct <= HLL_EXACT_UP_TO ? got === distinct : Math.abs(got / distinct - 1) <= HLL_BOUND;
      check('uniq', ok, got, distinct);
    }
    if (a.type === 'histogram') {
      for (const [i, q] of QUANTILES.entries()) {
        const got = [r.p50, r.p90, r.p99][i] ?? null;
        const exact = exactQuantile(a.values, q);
        const ok = got !== null && sketchError(got, exact).ok;
        check(`p${q * 100}`, ok, got, exact);
      }
    }
  }
  for (const key of want.keys()) if (!seen.has(key)) out.push({ series: key, what: 'missing series', got: null, want: '-' });
  return out;
}

/** Rollup rows agree with the reference (the first 20 differences are shown). */
function expectAgree(rows: readonly RollupRow[], want: Map<string, Aggregate>): void {
  const mismatches = compare(rows, want);
  expect(mismatches.slice(0, 20), `${mismatches.length} of ${want.size} series differ`).toEqual([]);
}

// --- what is sent ------------------------------------------------------------

const sample = (type: MetricType, name: string, value: number, timestampNs: bigint, rate: number, tags: Tags, message = '', unit = ''): MetricSample => ({
  type,
  name,
  value,
  timestamp: timestampNs,
  message,
  status: 'ok',
  sampleRate: rate,
  tags,
  unit,
  scope: 'default',
});

/** A carrier span: no trace, just samples (as the emitter sends standalone metrics). */
const carrier = (metrics: MetricSample[]): SpanEvent => spanEvent({ service: 'loadgen', metrics, isTrace: false });

// Written here, not taken from query/traces (SpanRecord in assemble-trace.ts has the
// same fields): this file is an independent reference of what the tables must hold,
// so it must not share the product's trace types or its read of a trace (fetch-trace.ts).
interface TraceSpan {
  traceId: bigint;
  id: bigint;
  parentId: bigint;
  service: string;
  name: string;
  startNs: bigint;
  durationNs: bigint;
  error: boolean;
  indicator: boolean;
  tags: Tags;
}

const toEvent = (s: TraceSpan): SpanEvent =>
  spanEvent({
    traceId: s.traceId,
    id: s.id,
    parentId: s.parentId,
    startTimestamp: s.startNs,
    endTimestamp: s.startNs + s.durationNs,
    error: s.error,
    service: s.service,
    name: s.name,
    indicator: s.indicator,
    tags: s.tags,
    isTrace: true,
  });

const msToNs = (ms: number): bigint => BigInt(Math.max(1, Math.round(ms * 1e6)));

/** A trace of `count` spans over `services`: a random tree under one root, children inside their parent. */
function buildTrace(services: readonly string[], count: number, errorRate: number): TraceSpan[] {
  const traceId = randomId();
  const rootDuration = msToNs(logNormal(400, 0.3));
  const spans: TraceSpan[] = [
    {
      traceId,
      id: traceId,
      parentId: 0n,
      service: services[0] as string,
      name: 'GET /checkout',
      startNs: randomNs() - 10_000_000_000n,
      durationNs: rootDuration,
      error: rand() < errorRate,
      indicator: true,
      tags: { 'http.method': 'GET', 'http.status_code': '200' },
    },
  ];
  while (spans.length < count) {
    const parent = pick(spans);
    const offset = BigInt(Math.floor(rand() * Number(parent.durationNs) * 0.5));
    const durationNs = BigInt(Math.max(1, Math.floor(rand() * Number(parent.durationNs - offset))));
    const service = pick(services);
    spans.push({
      traceId,
      id: randomId(),
      parentId: parent.id,
      service,
      name: `${service}.${pick(['call', 'query', 'render', 'publish'])}`,
      startNs: parent.startNs + offset,
      durationNs,
      error: rand() < errorRate,
      indicator: false,
      tags: { peer: pick(services), attempt: String(1 + Math.floor(rand() * 3)) },
    });
  }
  return spans;
}

// Data through SSF over HTTP (values and rates travel as float32 on the wire: the
// generators keep values float32-exact, so the reference sees what ClickHouse sees).
const observations: Observation[] = [];
const ssfSamples: MetricSample[] = [];
function addSsf(s: MetricSample, status = 0): void {
  ssfSamples.push(s);
  observations.push({
    name: s.name,
    type: s.type,
    tags: s.tags,
    timestampNs: s.timestamp,
    value: s.value,
    weight: weightOf(s.sampleRate),
    member: s.message,
    status,
  });
}

// Counters with sample rates: per series a mix of rates, integer and half values.
const RATES = [0.1, 0.25, 0.5, 1] as const;
for (const route of ['/cart', '/pay', '/search']) {
  for (const code of ['200', '500']) {
    for (let i = 0; i < 500; i++) {
      addSsf(sample('counter', 'checkout.requests', pick([1, 1, 1, 2, 5, 0.5]), randomNs(), pick(RATES), { route, code }));
    }
  }
}
// A series with one fixed rate, the one whose reciprocal is not a float32.
for (let i = 0; i < 1000; i++) addSsf(sample('counter', 'rate.precision', 1, randomNs(), 0.1, { rate: '0.1' }));

// Gauges: distinct timestamps, sent in shuffled order.
for (const queue of ['emails', 'invoices', 'webhooks']) {
  const seen = new Set<bigint>();
  while (seen.size < 400) seen.add(randomNs());
  for (const ts of seen) addSsf(sample('gauge', 'queue.depth', Math.fround(Math.floor(logNormal(200, 1)) + pick([0, 0.25, 0.5])), ts, 1, { queue }));
}

// Histograms (ms): log-normal, skewed; a few thousand values per series.
for (const [endpoint, median] of [
  ['home', 30],
  ['search', 120],
] as const) {
  for (let i = 0; i < 4000; i++) addSsf(sample('histogram', 'http.latency', Math.fround(logNormal(median, 1.1)), randomNs(), 1, { endpoint }, '', 'ms'));
}
// A histogram in seconds: most values are below 1, where ClickHouse's DDSketch is off by up to 3 %.
for (let i = 0; i < 3000; i++) addSsf(sample('histogram', 'db.query.seconds', Math.fround(logNormal(0.04, 1.2)), randomNs(), 1, { db: 'orders' }, '', 's'));

// Sets: 20,000 distinct members, each sent 1-3 times at random times.
const SET_MEMBERS = 20_000;
for (let m = 0; m < SET_MEMBERS; m++) {
  const member = `user-${randomId().toString(36)}`;
  const times = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < times; k++) addSsf(sample('set', 'users.active', 0, randomNs(), 1, { app: 'shop' }, member));
}

// Status checks over SSF: distinct timestamps, shuffled.
const STATUS_NAMES = ['ok', 'warning', 'critical', 'unknown'] as const;
for (const host of ['db1', 'db2']) {
  const seen = new Set<bigint>();
  while (seen.size < 200) seen.add(randomNs());
  for (const ts of seen) {
    const status = Math.floor(rand() * 4);
    const s = sample('status', 'disk.check', 0, ts, 1, { host }, `disk ${status}`);
    s.status = STATUS_NAMES[status] as MetricSample['status'];
    addSsf(s, status);
  }
}

// Data through statsd over UDP (rates from `@r`). The values are stored as SSF carries them,
// a float (float32), whichever way the gateway took the line and whatever the sink.
const statsdLines: string[] = [];
function addStatsd(line: string, o: Omit<Observation, 'weight'> & { rate: number }): void {
  statsdLines.push(line);
  observations.push({
    name: o.name,
    type: o.type,
    tags: o.tags,
    timestampNs: o.timestampNs,
    value: Math.fround(o.value),
    weight: weightOf(o.rate),
    member: o.member,
    status: o.status,
  });
}
const statsdTagText = (tags: Tags): string =>
  Object.entries(tags)
    .map(([k, v]) => `${k}:${v}`)
    .join(',');
const secNs = (s: number): bigint => BigInt(s) * 1_000_000_000n;
for (const shard of ['1', '2', '3']) {
  const tags = { env: 'prod', shard };
  for (let i = 0; i < 300; i++) {
    const rate = pick(RATES);
    const value = pick([1, 2, 3, 10]);
    const t = randomSecond();
    addStatsd(`statsd.hits:${value}|c|@${rate}|#${statsdTagText(tags)}|T${t}`, {
      name: 'statsd.hits',
      type: 'counter',
      tags,
      timestampNs: secNs(t),
      value,
      rate,
      member: '',
      status: 0,
    });
  }
}
for (const pool of ['main', 'replica']) {
  const tags = { pool };
  for (const t of distinctSeconds(150)) {
    const value = Math.round(logNormal(40, 0.5) * 100) / 100;
    addStatsd(`statsd.connections:${value}|g|#${statsdTagText(tags)}|T${t}`, {
      name: 'statsd.connections',
      type: 'gauge',
      tags,
      timestampNs: secNs(t),
      value,
      rate: 1,
      member: '',
      status: 0,
    });
  }
}
// Timers sent at @0.5: count and sum are weighted by 2, the sketch is not (it has no weights).
for (let i = 0; i < 1500; i++) {
  const tags = { page: 'home' };
  const value = Math.round(logNormal(15, 0.9) * 1000) / 1000;
  const t = randomSecond();
  addStatsd(`statsd.render:${value}|ms|@0.5|#${statsdTagText(tags)}|T${t}`, {
    name: 'statsd.render',
    type: 'histogram',
    tags,
    timestampNs: secNs(t),
    value,
    rate: 0.5,
    member: '',
    status: 0,
  });
}
// Small sets: 12 members (exact: below HLL's 16) sent many times.
for (let i = 0; i < 400; i++) {
  const tags = { site: 'blog' };
  const member = `visitor-${Math.floor(rand() * 12)}`;
  const t = randomSecond();
  addStatsd(`statsd.visitors:${member}|s|#${statsdTagText(tags)}|T${t}`, {
    name: 'statsd.visitors',
    type: 'set',
    tags,
    timestampNs: secNs(t),
    value: 0,
    rate: 1,
    member,
    status: 0,
  });
}
// DogStatsD service checks.
for (const check of ['redis', 'kafka']) {
  const tags = { host: `${check}-1` };
  for (const t of distinctSeconds(100)) {
    const status = Math.floor(rand() * 4);
    addStatsd(`_sc|statsd.check|${status}|d:${t}|#host:${check}-1|m:status ${status}`, {
      name: 'statsd.check',
      type: 'status',
      tags,
      timestampNs: secNs(t),
      value: 0,
      rate: 1,
      member: '',
      status,
    });
  }
}

// Trace spans: many small single-service traces, plus one 40-span trace over 5 services.
const SERVICES = ['checkout', 'cart', 'payments'] as const;
const spans: TraceSpan[] = [];
for (let t = 0; t < 400; t++) {
  const service = pick(SERVICES);
  const trace = buildTrace([service], 6, 0.05);
  for (const s of trace) {
    s.name = s.parentId === 0n ? pick([`GET /${service}`, `POST /${service}`]) : pick(['db.query', 'cache.get', 'http.call']);
    s.indicator = s.parentId === 0n && rand() < 0.7;
    s.durationNs = msToNs(logNormal(25, 0.8));
  }
  spans.push(...trace);
}
const BIG_TRACE_SERVICES = ['web', 'api', 'auth', 'inventory', 'billing'] as const;
const bigTrace = buildTrace(BIG_TRACE_SERVICES, 40, 0.1);
// At least a few errors, whatever the draw.
for (const s of bigTrace.slice(1, 4)) s.error = true;
const otherTrace = buildTrace(BIG_TRACE_SERVICES, 25, 0.1);
spans.push(...bigTrace, ...otherTrace);

for (const s of spans) {
  const ms = Number(s.durationNs) / 1e6;
  const error = String(s.error);
  const span = { type: 'histogram' as const, timestampNs: s.startNs, value: ms, weight: 1, member: '', status: 0 };
  observations.push({ ...span, name: 'ssf.span.duration', tags: { service: s.service, name: s.name, error } });
  if (s.indicator) {
    observations.push({ ...span, name: 'ssf.indicator.duration', tags: { service: s.service, error } });
    observations.push({ ...span, name: 'ssf.objective.duration', tags: { service: s.service, objective: s.name, error } });
  }
}

const SAMPLE_NAMES = [
  'checkout.requests',
  'rate.precision',
  'queue.depth',
  'http.latency',
  'db.query.seconds',
  'users.active',
  'disk.check',
  'statsd.hits',
  'statsd.connections',
  'statsd.render',
  'statsd.visitors',
  'statsd.check',
];
const SPAN_METRIC_NAMES = ['ssf.span.duration', 'ssf.indicator.duration', 'ssf.objective.duration'];
const only = (names: readonly string[]): Observation[] => observations.filter((o) => names.includes(o.name));

// --- the test ----------------------------------------------------------------

describe('derived signals: rollups, span metrics and the trace index against an exact reference', () => {
  let ch: ClickHouse;
  let gateway: Gateway;

  async function count(sql: string, params: Record<string, unknown> = {}): Promise<number> {
    const rows = await (await ch.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<{ n: string }>();
    return Number(rows[0]?.n ?? 0);
  }

  beforeAll(async () => {
    // No self-tracing (startAllInOne's default): the gateway's own spans would add ssf.span.duration series.
    const aio = await startAllInOne('ssf_derived', { SSF_GATEWAY_UDP_LISTEN: '' }, 5_000);
    ({ ch, gateway } = aio);
    const where = aio.where;

    // SSF over HTTP: carriers of 50 samples and trace spans, shuffled together so
    // series, minutes and traces are spread over many inserts.
    const events: SpanEvent[] = [];
    const pending = shuffle([...ssfSamples]);
    for (let i = 0; i < pending.length; i += 50) events.push(carrier(pending.slice(i, i + 50)));
    for (const s of spans) events.push(toEvent(s));
    shuffle(events);
    const batches: SpanEvent[][] = [];
    for (let i = 0; i < events.length; i += 150) batches.push(events.slice(i, i + 150));
    const post = async (batch: SpanEvent[]): Promise<void> => {
      const res = await fetch(`${where['http']}/v1/ssf`, {
        method: 'POST',
        body: Buffer.from(encodeBatch(batch)),
        headers: { 'content-type': 'application/x-protobuf' },
      });
      const answer = (await res.json()) as { rejected: unknown[]; partial: unknown[] };
      if (res.status !== 200 || answer.rejected.length > 0 || answer.partial.length > 0)
        throw new Error(`HTTP ${res.status}: ${JSON.stringify(answer).slice(0, 500)}`);
    };
    for (let i = 0; i < batches.length; i += 4) await Promise.all(batches.slice(i, i + 4).map(post));

    // statsd over UDP: datagrams of a few lines, paced so that none is dropped.
    shuffle(statsdLines);
    const datagrams: string[] = [];
    let current = '';
    for (const line of statsdLines) {
      if (current.length + line.length + 1 > 1200) {
        datagrams.push(current);
        current = '';
      }
      current = current ? `${current}\n${line}` : line;
    }
    if (current) datagrams.push(current);
    const statsd = where['statsd'] as string;
    const at = statsd.lastIndexOf(':');
    const socket = createSocket('udp4');
    for (const [i, d] of datagrams.entries()) {
      await new Promise<void>((resolve, reject) =>
        socket.send(Buffer.from(d), Number(statsd.slice(at + 1)), statsd.slice(0, at), (err) => (err ? reject(err) : resolve())),
      );
      if (i % 20 === 19) await sleep(5);
    }
    socket.close();
    const db = quoteIdent(ch.database);
    const deadline = Date.now() + 30_000;
    const statsdSamples = (): Promise<number> => count(`SELECT count() AS n FROM ${db}.samples WHERE service = ''`);
    while ((await statsdSamples()) < statsdLines.length && Date.now() < deadline) await sleep(100);
  });

  afterAll(async () => {
    await gateway?.close();
    await ch?.close();
  });

  it('stores every event sent (the rollups below are read from complete data)', async () => {
    const db = quoteIdent(ch.database);
    expect(await count(`SELECT count() AS n FROM ${db}.samples WHERE service = 'loadgen'`)).toBe(ssfSamples.length);
    expect(await count(`SELECT count() AS n FROM ${db}.samples WHERE service = ''`)).toBe(statsdLines.length);
    expect(await count(`SELECT count() AS n FROM ${db}.spans`)).toBe(spans.length);
  });

  it.each([
    ['metrics_1m', 'every minute', 60, true],
    ['metrics_1h', 'every hour', 3600, true],
    ['metrics_1h', 'all time', 0, false],
  ] as const)('%s, %s: counters, gauges, histograms, sets and status checks match the reference', async (table, _label, bucketSeconds, perBucket) => {
    const want = reference(only(SAMPLE_NAMES), bucketSeconds);
    const rows = await readRollup(ch, table, SAMPLE_NAMES, perBucket);
    expect(rows.length).toBeGreaterThan(0);
    expectAgree(rows, want);
  });

  it('metrics_1m over all time (1m sketches, HLLs and argMax states merged at read) matches the reference', async () => {
    const rows = await readRollup(ch, 'metrics_1m', SAMPLE_NAMES, false);
    expectAgree(rows, reference(only(SAMPLE_NAMES), 0));
  });

  it('counter totals are Σ value / rate with the rate as sent, although it is stored as Float32', async () => {
    const rows = await readRollup(ch, 'metrics_1h', ['rate.precision'], false);
    const total = rows[0]?.total ?? NaN;
    // 1,000 increments of 1 at @0.1: exactly 10,000 (float32(0.1) = 0.100000001490116
    // would give 9999.99985; the view reads the rate back as the decimal sent).
    expect(total).toBeCloseTo(10_000, 9);
  });

  it('histogram quantiles are within 1 % of the exact quantile at and above 1, and at most 3.04 % over below 1', async () => {
    const rows = await readRollup(ch, 'metrics_1m', ['http.latency', 'db.query.seconds'], false);
    const want = reference(only(['http.latency', 'db.query.seconds']), 0);
    const errors: Record<string, number[]> = {};
    for (const r of rows) {
      const a = want.get(seriesKey(r.name, r.kind, r.series_tags, 0));
      if (!a) throw new Error(`unexpected series ${r.name}`);
      errors[r.name] = [r.p50, r.p90, r.p99].map((got, i) => sketchError(got ?? NaN, exactQuantile(a.values, QUANTILES[i] as number)).error);
    }
    for (const e of errors['http.latency'] ?? [NaN]) expect(Math.abs(e)).toBeLessThanOrEqual(ALPHA + 1e-9);
    // Seconds: every quantile is below 1, and every answer is over, by more than α is possible.
    for (const e of errors['db.query.seconds'] ?? [NaN]) {
      expect(e).toBeGreaterThanOrEqual(0);
      expect(e).toBeLessThanOrEqual(BELOW_ONE_MAX_ERROR + 1e-9);
    }
  });

  it('uniqHLL12: 20,000 members within 5 %, 12 members exactly', async () => {
    const rows = await readRollup(ch, 'metrics_1h', ['users.active', 'statsd.visitors'], false);
    const uniq = Object.fromEntries(rows.map((r) => [r.name, Number(r.distinct_count)]));
    expect(Math.abs((uniq['users.active'] ?? 0) / SET_MEMBERS - 1)).toBeLessThanOrEqual(HLL_BOUND);
    expect(uniq['statsd.visitors']).toBe(12);
  });

  it.each([
    ['metrics_1m', 'every minute', 60, true],
    ['metrics_1h', 'every hour', 3600, true],
    ['metrics_1m', 'all time', 0, false],
  ] as const)(
    'span metrics in %s, %s: ssf.span/indicator/objective.duration count, sum, min, max, p50/p90/p99',
    async (table, _label, bucketSeconds, perBucket) => {
      const rows = await readRollup(ch, table, SPAN_METRIC_NAMES, perBucket);
      expect(new Set(rows.map((r) => r.name))).toEqual(new Set(SPAN_METRIC_NAMES));
      expectAgree(rows, reference(only(SPAN_METRIC_NAMES), bucketSeconds));
    },
  );

  it('trace_index: spans, errors, services and time range of every trace are exact', async () => {
    const byTrace = new Map<bigint, TraceSpan[]>();
    for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
    const rows = await (
      await ch.client.query({
        query: `SELECT trace_id, toString(toUnixTimestamp64Nano(min(start))) AS first, toString(toUnixTimestamp64Nano(max(end))) AS last,
                sum(spans) AS spans, sum(errors) AS errors, arraySort(groupUniqArrayArray(services)) AS services
              FROM ${quoteIdent(ch.database)}.trace_index WHERE tenant = 'default' GROUP BY trace_id`,
        format: 'JSONEachRow',
      })
    ).json<{ trace_id: string; first: string; last: string; spans: string; errors: string; services: string[] }>();
    const got = new Map(rows.map((r) => [BigInt(r.trace_id), r]));
    expect(got.size).toBe(byTrace.size);
    for (const [traceId, list] of byTrace) {
      expect(got.get(traceId)).toEqual({
        trace_id: traceId.toString(),
        first: list.reduce((m, s) => (s.startNs < m ? s.startNs : m), list[0]?.startNs ?? 0n).toString(),
        last: list.reduce((m, s) => (s.startNs + s.durationNs > m ? s.startNs + s.durationNs : m), 0n).toString(),
        spans: String(list.length),
        errors: String(list.filter((s) => s.error).length),
        services: [...new Set(list.map((s) => s.service))].sort(),
      });
    }
  });

  it('a 40-span trace over 5 services comes back whole from ssf.spans, bounded by trace_index, parent links intact', async () => {
    // Its own trace_index + spans read, not fetchTrace(): a reference for the tables, independent of the product's query.
    const db = quoteIdent(ch.database);
    const traceId = bigTrace[0]?.traceId ?? 0n;
    const [range] = await (
      await ch.client.query({
        query: `SELECT toString(toUnixTimestamp64Nano(min(start))) AS first, toString(toUnixTimestamp64Nano(max(end))) AS last
              FROM ${db}.trace_index WHERE tenant = {tenant:String} AND trace_id = {trace:Int64} GROUP BY trace_id`,
        query_params: { tenant: 'default', trace: traceId.toString() },
        format: 'JSONEachRow',
      })
    ).json<{ first: string; last: string }>();
    expect(range).toBeDefined();
    const got = await (
      await ch.client.query({
        query: `SELECT span_id, parent_id, service, name, toString(toUnixTimestamp64Nano(start)) AS start_ns, duration_ns, error, indicator, tags
              FROM ${db}.spans
              WHERE tenant = {tenant:String} AND trace_id = {trace:Int64}
                AND start BETWEEN fromUnixTimestamp64Nano({first:Int64}, 'UTC') AND fromUnixTimestamp64Nano({last:Int64}, 'UTC')
              ORDER BY start, span_id`,
        query_params: { tenant: 'default', trace: traceId.toString(), first: range?.first ?? '0', last: range?.last ?? '0' },
        format: 'JSONEachRow',
      })
    ).json<{
      span_id: string;
      parent_id: string;
      service: string;
      name: string;
      start_ns: string;
      duration_ns: string;
      error: boolean;
      indicator: boolean;
      tags: Tags;
    }>();
    const byId = (xs: Array<{ span_id: string }>): string[] => xs.map((x) => x.span_id).sort();
    const sent = bigTrace.map((s) => ({
      span_id: s.id.toString(),
      parent_id: s.parentId.toString(),
      service: s.service,
      name: s.name,
      start_ns: s.startNs.toString(),
      duration_ns: s.durationNs.toString(),
      error: s.error,
      indicator: s.indicator,
      tags: s.tags,
    }));
    expect(got).toHaveLength(40);
    expect(byId(got)).toEqual(byId(sent));
    const sentById = new Map(sent.map((s) => [s.span_id, s]));
    for (const row of got) expect(row).toEqual(sentById.get(row.span_id));
    // One root (the trace id), and every other span's parent is in the trace.
    const ids = new Set(got.map((r) => r.span_id));
    expect(got.filter((r) => r.parent_id === '0').map((r) => r.span_id)).toEqual([traceId.toString()]);
    for (const r of got) if (r.parent_id !== '0') expect(ids.has(r.parent_id)).toBe(true);
    expect(new Set(got.map((r) => r.service))).toEqual(new Set(BIG_TRACE_SERVICES));
  });
});
