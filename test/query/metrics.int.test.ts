import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricSample, MetricType, SpanEvent } from '../../src/codec/index.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { seededRandom } from '../setup/random.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { firstBucketsAndTypesSql, firstBucketsSql, metricTypesSql, planMetricQuery } from '../../query/metrics/metric-query.js';

/**
 * GET /v1/metrics/query, /v1/metrics and /v1/metrics/tags against an exact
 * reference computed here from the samples sent. The data goes through the
 * real all-in-one pipeline (SSF over HTTP into the gateway, ClickHouse's
 * views into the rollups), for two tenants with their own tokens. Every
 * answer is compared point by point for each source: raw samples (10 s),
 * metrics_1m (1 m, 5 m) and metrics_1h (1 h, 2 h).
 */

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
// DDSketch (quantileDD with relative accuracy 0.01): within 1 % of the sample at
// rank floor(q * (n - 1)) for values >= 1 (every histogram value here is >= 1).
const DD_ERROR = 0.01;
// uniqHLL12: exact up to 16 distinct members, then ~1.6 % standard error, larger at a few dozen (measured on
// ClickHouse 26.7 over 50 sets each: worst 6 % at 17-50 members, 3 % at 100-3000). The large set below has at
// least ~100 members in every bucket, where 5 % is a safe bound; the data is seeded, so every run is the same.
const HLL_EXACT_UP_TO = 16;
const HLL_BOUND = 0.05;

type Tags = Record<string, string>;
type Agg = 'sum' | 'count' | 'rate' | 'avg' | 'min' | 'max' | 'p50' | 'p90' | 'p99' | 'uniq' | 'last';

const rand = seededRandom(7_301_2026);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
function logNormal(median: number, sigma: number): number {
  const u = 1 - rand();
  return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()));
}

// Two whole hours in the past, well inside every TTL.
const H0 = (Math.floor(Date.now() / H) - 3) * H;
const WINDOW = 2 * H;
/** query.metricMetadataTtlMs of this file's all-in-one: short, so a test can outwait it. */
const METADATA_TTL_MS = 2_000;
const NS = (ms: number): bigint => BigInt(ms) * 1_000_000n;
const usedNs = new Set<bigint>();
/** A time in the first `withinMs` of the window (ns), never used before: `last` (argMax) never sees a tie. */
function randomNs(withinMs = WINDOW): bigint {
  for (;;) {
    const ns = NS(H0) + BigInt(Math.floor(rand() * withinMs)) * 1_000_000n + BigInt(Math.floor(rand() * 1_000_000));
    if (!usedNs.has(ns)) {
      usedNs.add(ns);
      return ns;
    }
  }
}

// --- what is sent, and the reference --------------------------------------------

/** One value as the rollups see it: a sample, or a span's duration (ssf.span.duration). */
interface Observation {
  tenant: string;
  name: string;
  type: MetricType;
  tags: Tags;
  ns: bigint;
  value: number;
  /** 1 / sample_rate, the rate as the decimal sent (the rates here are 1, 0.5 and 0.1). */
  weight: number;
  member: string;
  status: number;
}

const observations: Observation[] = [];
const carried: Record<string, MetricSample[]> = { acme: [], globex: [] };
const STATUSES = ['ok', 'warning', 'critical', 'unknown'] as const;

function send(tenant: string, type: MetricType, name: string, value: number, ns: bigint, rate: number, tags: Tags, member = '', status = 0): void {
  carried[tenant]?.push({
    type,
    name,
    value,
    timestamp: ns,
    message: member,
    status: STATUSES[status] as MetricSample['status'],
    sampleRate: rate,
    tags,
    unit: '',
    scope: 'default',
  });
  observations.push({ tenant, name, type, tags, ns, value, weight: 1 / rate, member, status });
}

// Counters at rates 1, 0.5 and 0.1 (values float32-exact: they travel as float on the wire).
for (let i = 0; i < 800; i++) {
  send('acme', 'counter', 'shop.requests', pick([1, 2, 5, 0.5]), randomNs(), pick([1, 0.5, 0.1]), {
    route: pick(['/cart', '/pay']),
    code: pick(['200', '200', '500']),
  });
}
// Gauges: distinct timestamps, sent in shuffled batches.
for (let i = 0; i < 400; i++)
  send('acme', 'gauge', 'queue.depth', Math.fround(Math.floor(logNormal(100, 1)) + pick([0, 0.25, 0.5])), randomNs(), 1, { queue: pick(['emails', 'jobs']) });
// Histograms (ms), all values >= 1 where quantileDD's error is within 1 %.
for (let i = 0; i < 3000; i++) {
  const endpoint = pick(['home', 'search']);
  send('acme', 'histogram', 'http.latency', Math.fround(Math.max(1, logNormal(endpoint === 'home' ? 30 : 120, 0.9))), randomNs(), 1, { endpoint });
}
// Sets: 12 members (exact everywhere), and 3,000 members in the first 5 minutes (HyperLogLog beyond 16:
// about 100 per 10 s bucket, 600 per minute, 3,000 per 5 minutes and more).
for (let i = 0; i < 400; i++) send('acme', 'set', 'users.online', 0, randomNs(), 1, { app: 'web' }, `user-${Math.floor(rand() * 12)}`);
for (let i = 0; i < 3000; i++) send('acme', 'set', 'visitors', 0, randomNs(5 * M), 1, { site: 'blog' }, `v-${i}`);
// Status checks: the last status (0 ok ... 3 unknown).
for (let i = 0; i < 120; i++) send('acme', 'status', 'disk.check', 0, randomNs(), 1, { host: pick(['db1', 'db2']) }, 'disk', Math.floor(rand() * 4));
// Samples in buckets we place: one per 10 s bucket of the first minute, 3 s into it, values 1..6.
const TICKS = [1, 2, 3, 4, 5, 6];
for (const [k, v] of TICKS.entries()) send('acme', 'counter', 'tick.count', v, NS(H0 + k * 10 * S + 3 * S), 1, { lane: 'a' });

// The other tenant: the same counter name with other values, and a gauge of its own.
for (let i = 0; i < 100; i++) send('globex', 'counter', 'shop.requests', 1000, randomNs(), pick([1, 0.5]), { route: '/cart', code: '200' });
for (let i = 0; i < 50; i++) send('globex', 'gauge', 'globex.only', i + 1, randomNs(), 1, { region: 'us' });

// Trace spans (acme): ssf.span.duration, a histogram in ms tagged service, name and error.
const traceSpans: SpanEvent[] = [];
for (let i = 0; i < 400; i++) {
  const id = BigInt(1 + Math.floor(rand() * 2 ** 31)) * 4096n + BigInt(i);
  const start = randomNs();
  const durationNs = BigInt(Math.round(Math.max(1, logNormal(30, 0.7)) * 1e6));
  const service = pick(['web', 'api']);
  const name = pick(['GET /a', 'GET /b']);
  const error = rand() < 0.1;
  traceSpans.push(spanEvent({ traceId: id, id, startTimestamp: start, endTimestamp: start + durationNs, error, service, name, isTrace: true }));
  observations.push({
    tenant: 'acme',
    name: 'ssf.span.duration',
    type: 'histogram',
    tags: { service, name, error: String(error) },
    ns: start,
    value: Number(durationNs) / 1e6,
    weight: 1,
    member: '',
    status: 0,
  });
  // The same value summarized by service and error (migration 0005).
  observations.push({
    tenant: 'acme',
    name: 'ssf.service.duration',
    type: 'histogram',
    tags: { service, error: String(error) },
    ns: start,
    value: Number(durationNs) / 1e6,
    weight: 1,
    member: '',
    status: 0,
  });
}

/** A carrier span: no trace, just samples (as the emitter sends standalone metrics). */
const carrier = (metrics: MetricSample[]): SpanEvent => spanEvent({ service: 'loadgen', metrics, isTrace: false });

interface Query {
  name: string;
  agg: Agg;
  stepMs: number;
  tags?: string[];
  groupBy?: string[];
  tenant?: string;
}

/** The sorted element a DDSketch quantile stands for: rank floor(q * (n - 1)). */
const exactQuantile = (sorted: readonly number[], q: number): number => sorted[Math.floor(q * (sorted.length - 1))] as number;

/** Expected series: group (JSON of its tag values) -> bucket start ms -> value, computed from what was sent. */
function reference(q: Query): Map<string, Map<number, number>> {
  const filters = (q.tags ?? []).map((t) => {
    const differs = t.indexOf('!=');
    return differs !== -1
      ? { key: t.slice(0, differs), eq: false, value: t.slice(differs + 2) }
      : { key: t.slice(0, t.indexOf(':')), eq: true, value: t.slice(t.indexOf(':') + 1) };
  });
  const groups = new Map<string, Map<number, Observation[]>>();
  for (const o of observations) {
    if (o.tenant !== (q.tenant ?? 'acme') || o.name !== q.name) continue;
    if (!filters.every((f) => ((o.tags[f.key] ?? '') === f.value) === f.eq)) continue;
    const group = JSON.stringify((q.groupBy ?? []).map((k) => o.tags[k] ?? ''));
    const bucket = Number(o.ns / NS(q.stepMs)) * q.stepMs;
    const buckets = groups.get(group) ?? new Map<number, Observation[]>();
    groups.set(group, buckets);
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), o]);
  }
  const out = new Map<string, Map<number, number>>();
  for (const [group, buckets] of groups) {
    const points = new Map<number, number>();
    for (const [bucket, os] of buckets) {
      const sum = os.reduce((a, o) => a + o.value * o.weight, 0);
      const count = os.reduce((a, o) => a + o.weight, 0);
      const sorted = os
        .filter((o) => o.type === 'histogram')
        .map((o) => o.value)
        .sort((a, b) => a - b);
      const latest = os.reduce((a, o) => (o.ns > a.ns ? o : a));
      const value = {
        sum,
        count,
        rate: sum / (q.stepMs / S),
        avg: sum / count,
        min: Math.min(...os.map((o) => o.value)),
        max: Math.max(...os.map((o) => o.value)),
        p50: exactQuantile(sorted, 0.5),
        p90: exactQuantile(sorted, 0.9),
        p99: exactQuantile(sorted, 0.99),
        uniq: new Set(os.filter((o) => o.type === 'set').map((o) => o.member)).size,
        last: latest.type === 'status' ? latest.status : latest.value,
      }[q.agg];
      points.set(bucket, value);
    }
    out.set(group, points);
  }
  return out;
}

/** Whether an answered value is the reference's, within the error its aggregation allows. */
function agrees(agg: Agg, got: number, want: number): boolean {
  switch (agg) {
    case 'min':
    case 'max':
    case 'last':
      return got === want;
    case 'p50':
    case 'p90':
    case 'p99':
      return Math.abs(got / want - 1) <= DD_ERROR + 1e-9;
    case 'uniq':
      return want <= HLL_EXACT_UP_TO ? got === want : Math.abs(got / want - 1) <= HLL_BOUND;
    default:
      return Math.abs(got - want) <= Math.max(Math.abs(want) * 1e-9, 1e-9);
  }
}

interface Answer {
  name: string;
  agg: string;
  step_ms: number;
  from: number;
  to: number;
  source: string;
  series: Array<{ tags: Tags; points: Array<[number, number]> }>;
}

/** Every difference between an answer and the reference (empty when they agree). */
function differences(q: Query, answer: Answer): string[] {
  const want = reference(q);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const s of answer.series) {
    const group = JSON.stringify((q.groupBy ?? []).map((k) => s.tags[k] ?? ''));
    seen.add(group);
    const points = want.get(group);
    if (!points) {
      out.push(`unexpected series ${group}`);
      continue;
    }
    expect(Object.keys(s.tags).sort()).toEqual([...(q.groupBy ?? [])].sort());
    const times = s.points.map(([t]) => t);
    if (JSON.stringify(times) !== JSON.stringify([...points.keys()].sort((a, b) => a - b)))
      out.push(`${group}: buckets ${times.length} answered, ${points.size} expected`);
    for (const [t, v] of s.points) {
      const w = points.get(t);
      if (w === undefined || !agrees(q.agg, v, w)) out.push(`${group} @${new Date(t).toISOString()}: ${v} answered, ${w} expected`);
    }
  }
  for (const group of want.keys()) if (!seen.has(group)) out.push(`missing series ${group}`);
  return out;
}

// --- the test -------------------------------------------------------------------

let aio: AllInOne;
const TOKENS: Record<string, string> = { acme: 'tokA', globex: 'tokB' };

async function get(
  path: string,
  params: Record<string, string | number | string[]>,
  token: string | null = 'tokA',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) qs.append(k, String(one));
  const res = await fetch(`${aio.http}${path}?${qs}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function metricQuery(q: Query, extra: Record<string, string | number> = {}): Promise<Answer> {
  const res = await get(
    '/v1/metrics/query',
    {
      name: q.name,
      agg: q.agg,
      step: `${q.stepMs / S}s`,
      from: H0,
      to: H0 + WINDOW,
      tag: q.tags ?? [],
      group_by: q.groupBy ?? [],
      ...extra,
    },
    TOKENS[q.tenant ?? 'acme'] ?? null,
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as unknown as Answer;
}

beforeAll(async () => {
  aio = await startAllInOne('ssf_q_metrics', {
    SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokB=globex',
    SSF_QUERY_METRIC_METADATA_TTL_MS: String(METADATA_TTL_MS),
  });
  for (const [tenant, samples] of Object.entries(carried)) {
    const shuffled = samples
      .map((s) => [rand(), s] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, s]) => s);
    const events: SpanEvent[] = [];
    for (let i = 0; i < shuffled.length; i += 100) events.push(carrier(shuffled.slice(i, i + 100)));
    if (tenant === 'acme') events.push(...traceSpans);
    for (let i = 0; i < events.length; i += 40) {
      const res = await aio.post(events.slice(i, i + 40), TOKENS[tenant]);
      expect(res.status, await res.text()).toBe(200);
    }
  }
});

afterAll(async () => aio?.close());

const STEPS = [
  ['10s', 10 * S, 'samples'],
  ['1m', M, 'metrics_1m'],
  ['5m', 5 * M, 'metrics_1m'],
  ['1h', H, 'metrics_1h'],
  ['2h', 2 * H, 'metrics_1h'],
] as const;

const CASES: Array<Omit<Query, 'stepMs'>> = [
  ...(['sum', 'count', 'rate', 'avg', 'min', 'max'] as const).map((agg) => ({ name: 'shop.requests', agg })),
  { name: 'shop.requests', agg: 'sum', groupBy: ['route'] },
  { name: 'shop.requests', agg: 'count', groupBy: ['route', 'code'] },
  { name: 'shop.requests', agg: 'rate', tags: ['code:500'] },
  { name: 'shop.requests', agg: 'sum', tags: ['code!=500'], groupBy: ['route'] },
  { name: 'shop.requests', agg: 'avg', tags: ['code:200', 'route:/pay'] },
  { name: 'queue.depth', agg: 'last', groupBy: ['queue'] },
  { name: 'queue.depth', agg: 'last' },
  { name: 'queue.depth', agg: 'min', groupBy: ['queue'] },
  { name: 'queue.depth', agg: 'max' },
  { name: 'queue.depth', agg: 'avg', tags: ['queue:jobs'] },
  { name: 'http.latency', agg: 'p50', groupBy: ['endpoint'] },
  { name: 'http.latency', agg: 'p90', groupBy: ['endpoint'] },
  { name: 'http.latency', agg: 'p99', groupBy: ['endpoint'] },
  { name: 'http.latency', agg: 'p99' },
  { name: 'http.latency', agg: 'count', tags: ['endpoint:search'] },
  { name: 'users.online', agg: 'uniq' },
  { name: 'visitors', agg: 'uniq' },
  { name: 'disk.check', agg: 'last', groupBy: ['host'] },
  { name: 'shop.requests', agg: 'sum', tenant: 'globex' },
];

describe.each(STEPS)('GET /v1/metrics/query at step %s', (_label, stepMs, source) => {
  it.each(
    CASES.map(
      (c) =>
        [
          `${c.tenant ?? 'acme'} ${c.name} ${c.agg}${c.groupBy ? ` by ${c.groupBy.join(',')}` : ''}${c.tags ? ` where ${c.tags.join(' and ')}` : ''}`,
          c,
        ] as const,
    ),
  )('%s: every point equals the reference', async (_name, c) => {
    const q: Query = { ...c, stepMs };
    const answer = await metricQuery(q);
    expect(answer).toMatchObject({ name: q.name, agg: q.agg, step_ms: stepMs, source });
    expect(answer.from).toBe(Math.floor(H0 / stepMs) * stepMs);
    expect(answer.to).toBe(Math.ceil((H0 + WINDOW) / stepMs) * stepMs);
    expect(answer.series.length).toBeGreaterThan(0);
    expect(differences(q, answer)).toEqual([]);
  });
});

describe('GET /v1/metrics/query', () => {
  it('samples placed in six 10 s buckets: six points from the raw samples, one minute from metrics_1m', async () => {
    const raw = await metricQuery({ name: 'tick.count', agg: 'sum', stepMs: 10 * S });
    expect(raw.source).toBe('samples');
    expect(raw.series).toEqual([{ tags: {}, points: TICKS.map((v, k) => [H0 + k * 10 * S, v]) }]);
    const minute = await metricQuery({ name: 'tick.count', agg: 'sum', stepMs: M });
    expect(minute.source).toBe('metrics_1m');
    expect(minute.series).toEqual([{ tags: {}, points: [[H0, TICKS.reduce((a, b) => a + b, 0)]] }]);
    const rate = await metricQuery({ name: 'tick.count', agg: 'rate', stepMs: 10 * S });
    expect(rate.series[0]?.points).toEqual(TICKS.map((v, k) => [H0 + k * 10 * S, v / 10]));
  });

  it('the counter totals are the rate-weighted sums (Σ value / rate), whatever the source', async () => {
    const total = observations.filter((o) => o.tenant === 'acme' && o.name === 'shop.requests').reduce((a, o) => a + o.value * o.weight, 0);
    const unweighted = observations.filter((o) => o.tenant === 'acme' && o.name === 'shop.requests').reduce((a, o) => a + o.value, 0);
    expect(total).toBeGreaterThan(unweighted * 2); // the rates matter
    for (const [, stepMs] of STEPS) {
      const answer = await metricQuery({ name: 'shop.requests', agg: 'sum', stepMs });
      const got = answer.series[0]?.points.reduce((a, [, v]) => a + v, 0) ?? NaN;
      expect(Math.abs(got / total - 1)).toBeLessThan(1e-9);
    }
  });

  it.each([
    ['1m', M, 'metrics_1m'],
    ['1h', H, 'metrics_1h'],
  ] as const)('ssf.span.duration (derived from spans) at %s: quantiles, count, min and max by service, errors only', async (_label, stepMs, source) => {
    const cases: Array<Pick<Query, 'agg' | 'groupBy' | 'tags'>> = [
      { agg: 'p50', groupBy: ['service'] },
      { agg: 'p90', groupBy: ['service'] },
      { agg: 'p99', groupBy: ['service', 'name'] },
      { agg: 'count', groupBy: ['service'] },
      { agg: 'max', groupBy: ['name'] },
      { agg: 'min' },
      { agg: 'count', tags: ['error:true'] },
    ];
    for (const c of cases) {
      const q: Query = { name: 'ssf.span.duration', stepMs, ...c };
      const answer = await metricQuery(q);
      expect(answer.source).toBe(source);
      expect(answer.series.length).toBeGreaterThan(0);
      expect(differences(q, answer), `${c.agg}`).toEqual([]);
      // Without the name tag the question is answered from the per-service series, with the same numbers.
      const byService = !(c.groupBy ?? []).includes('name') && !(c.tags ?? []).some((t) => t.startsWith('name'));
      expect((answer as unknown as { read_as: string }).read_as, JSON.stringify(c)).toBe(byService ? 'ssf.service.duration' : 'ssf.span.duration');
    }
  });

  it('defaults: agg by type (counter sum, gauge last, histogram p50, set uniq, status last), ~300 points over the range', async () => {
    for (const [name, agg] of [
      ['shop.requests', 'sum'],
      ['queue.depth', 'last'],
      ['http.latency', 'p50'],
      ['users.online', 'uniq'],
      ['disk.check', 'last'],
    ] as const) {
      const res = await get('/v1/metrics/query', { name, from: H0, to: H0 + WINDOW });
      expect(res.status).toBe(200);
      const answer = res.body as unknown as Answer;
      // Two hours / 300 = 24 s: the next round step is 30 s, read from the raw samples.
      expect(answer).toMatchObject({ agg, step_ms: 30 * S, source: 'samples' });
      expect(differences({ name, agg, stepMs: 30 * S }, answer)).toEqual([]);
    }
    for (const name of ['ssf.span.duration', 'ssf.service.duration']) {
      const spans = await get('/v1/metrics/query', { name, from: H0, to: H0 + WINDOW });
      expect(spans.body, name).toMatchObject({ agg: 'p50', step_ms: M, source: 'metrics_1m' });
      expect(differences({ name, agg: 'p50', stepMs: M }, spans.body as unknown as Answer), name).toEqual([]);
      expect((spans.body as unknown as Answer).series.length, name).toBeGreaterThan(0);
    }
  });

  it('a range not on step boundaries is widened to whole steps', async () => {
    const res = await get('/v1/metrics/query', { name: 'tick.count', agg: 'sum', step: '1m', from: H0 + 25 * S, to: H0 + 90 * S });
    expect(res.body).toMatchObject({ from: H0, to: H0 + 2 * M, source: 'metrics_1m', series: [{ tags: {}, points: [[H0, 21]] }] });
  });

  it('a metric with no data: an explicit agg answers no series, the default agg is 404', async () => {
    const some = await get('/v1/metrics/query', { name: 'no.such.metric', agg: 'sum', step: '1m', from: H0, to: H0 + WINDOW });
    expect(some.status).toBe(200);
    expect(some.body['series']).toEqual([]);
    const none = await get('/v1/metrics/query', { name: 'no.such.metric', from: H0, to: H0 + WINDOW });
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ error: { code: 'QUERY_ERR_NOT_FOUND' } });
    expect((none.body as { error: { reason: string } }).error.reason).not.toContain('did you mean');
  });

  it('a typo of a metric name: the 404 names the metrics of the range it could have meant', async () => {
    const typo = await get('/v1/metrics/query', { name: 'shop.reqeusts', from: H0, to: H0 + WINDOW });
    expect(typo.status).toBe(404);
    expect(typo.body).toEqual({
      error: {
        code: 'QUERY_ERR_NOT_FOUND',
        reason: 'no samples of metric "shop.reqeusts" in the time range (did you mean "shop.requests"?), so no default agg; give agg to query it anyway',
      },
    });
  });

  it.each([
    ['an unknown agg', { name: 'shop.requests', agg: 'median' }, /agg/],
    ['no name', { agg: 'sum' }, /name/],
    ['a step that is not a duration', { name: 'shop.requests', agg: 'sum', step: 'often' }, /step.*not a duration/],
    ['a step of 1.5 s', { name: 'shop.requests', agg: 'sum', step: '1500ms' }, /step.*whole number of seconds/],
    ['a step of 0', { name: 'shop.requests', agg: 'sum', step: '0s' }, /step.*whole number of seconds/],
    [
      '10 s steps over two days (17280 points)',
      { name: 'shop.requests', agg: 'sum', step: '10s', from: H0 - 46 * H, to: H0 + 2 * H },
      /step: 17280 points.*more than 11000/,
    ],
    ['a sub-minute step of a span-derived metric', { name: 'ssf.span.duration', agg: 'p50', step: '10s' }, /step.*derived from spans/],
    ['to before from', { name: 'shop.requests', agg: 'sum', from: H0 + H, to: H0 }, /to: must be after from/],
    ['a time that is not one', { name: 'shop.requests', agg: 'sum', from: 'yesterday' }, /from.*not a time/],
    ['a tag filter without a separator', { name: 'shop.requests', agg: 'sum', tag: 'route' }, /tag.*not key:value/],
    ['a misspelt parameter', { name: 'shop.requests', agg: 'sum', groupby: 'route' }, /groupby/],
    ['a quantile of a counter', { name: 'shop.requests', agg: 'p99', from: H0, to: H0 + WINDOW }, /p99 needs a histogram/],
    ['uniq of a gauge', { name: 'queue.depth', agg: 'uniq', from: H0, to: H0 + WINDOW }, /uniq needs a set/],
  ] as const)('%s: 400 QUERY_ERR_BAD_REQUEST', async (_label, params, reason) => {
    const res = await get('/v1/metrics/query', params);
    expect(res.status).toBe(400);
    const error = res.body['error'] as { code: string; reason: string };
    expect(error.code).toBe('QUERY_ERR_BAD_REQUEST');
    expect(error.reason).toMatch(reason);
  });

  it('tenants are isolated: each token sees its own samples only, and a token is needed', async () => {
    const acme = await metricQuery({ name: 'shop.requests', agg: 'max', stepMs: H });
    expect(Math.max(...acme.series.flatMap((s) => s.points.map(([, v]) => v)))).toBe(5);
    const globex = await metricQuery({ name: 'shop.requests', agg: 'max', stepMs: H, tenant: 'globex' });
    expect(globex.series.flatMap((s) => s.points.map(([, v]) => v))).toEqual([1000, 1000]);
    // acme's histogram is nowhere for globex, and globex's gauge nowhere for acme.
    const hidden = await get('/v1/metrics/query', { name: 'http.latency', agg: 'p50', step: '1m', from: H0, to: H0 + WINDOW }, 'tokB');
    expect(hidden.body['series']).toEqual([]);
    expect((await get('/v1/metrics/query', { name: 'globex.only', from: H0, to: H0 + WINDOW })).status).toBe(404);
    expect((await get('/v1/metrics/query', { name: 'globex.only', from: H0, to: H0 + WINDOW }, 'tokB')).body).toMatchObject({ agg: 'last' });
    const anonymous = await get('/v1/metrics/query', { name: 'shop.requests', agg: 'sum' }, null);
    expect(anonymous.status).toBe(401);
    const wrong = await get('/v1/metrics', {}, 'tokC');
    expect(wrong.status).toBe(401);
  });
});

// --- listing ----------------------------------------------------------------------

/** What /v1/metrics should list for a tenant: types, series (type + tag set) and the last bucket with data. */
function expectedList(tenant: string, bucketMs: number, prefix = ''): Array<{ name: string; types: string[]; series: number; last_seen: number }> {
  const byName = new Map<string, Observation[]>();
  for (const o of observations) if (o.tenant === tenant && o.name.startsWith(prefix)) byName.set(o.name, [...(byName.get(o.name) ?? []), o]);
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, os]) => ({
      name,
      types: [...new Set(os.map((o) => o.type))].sort(),
      series: new Set(os.map((o) => `${o.type} ${JSON.stringify(Object.entries(o.tags).sort())}`)).size,
      last_seen: Number(os.reduce((a, o) => (o.ns > a ? o.ns : a), 0n) / NS(bucketMs)) * bucketMs,
    }));
}

describe('first buckets and types in one query (whole-hour steps)', () => {
  it.each([
    ['ssf.span.duration', 'ssf.service.duration'],
    ['http.latency', 'shop.requests'],
    ['no.such.metric', 'ssf.service.duration'],
  ] as const)('%s, %s: the same as firstBucketsSql and metricTypesSql apart', async (fine, coarse) => {
    const runner = aio.query.context.runner;
    const table = runner.table('metrics_1h');
    for (const [from, to] of [
      [H0, H0 + WINDOW],
      [H0 + H, H0 + WINDOW],
      [H0 - 10 * H, H0 - 5 * H],
    ] as const) {
      const plan = planMetricQuery(fine, from, to, H);
      const both = firstBucketsAndTypesSql([fine, coarse], 'acme', plan, table);
      const combined = await runner.rows<{ name: string; first_s: number; types: string[] }>(both.sql, 'acme', both.params);
      const first = firstBucketsSql([fine, coarse], 'acme', table);
      const firsts = await runner.rows<{ name: string; first_s: number }>(first.sql, 'acme', first.params);
      const types = metricTypesSql(fine, 'acme', plan, table);
      const typeRows = await runner.rows<{ type: string }>(types.sql, 'acme', types.params);
      const byName = (rows: Array<{ name: string; first_s: number }>): Array<[string, number]> =>
        rows.map((r): [string, number] => [r.name, Number(r.first_s)]).sort((a, b) => a[0].localeCompare(b[0]));
      expect(byName(combined)).toEqual(byName(firsts));
      expect(combined.find((r) => r.name === fine)?.types ?? []).toEqual(typeRows.map((r) => r.type));
    }
  });
});

describe('GET /v1/metrics and /v1/metrics/tags', () => {
  it('lists every metric of the tenant with types, series and the minute last seen (metrics_1m up to a day)', async () => {
    const res = await get('/v1/metrics', { from: H0, to: H0 + WINDOW });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ from: H0, to: H0 + WINDOW, source: 'metrics_1m', truncated: false, metrics: expectedList('acme', M) });
    const globex = await get('/v1/metrics', { from: H0, to: H0 + WINDOW }, 'tokB');
    expect(globex.body['metrics']).toEqual(expectedList('globex', M));
  });

  it('over more than a day: from metrics_1h, last seen to the hour; prefix and limit', async () => {
    const long = await get('/v1/metrics', { from: H0 - 48 * H, to: H0 + WINDOW });
    expect(long.body).toMatchObject({ source: 'metrics_1h', truncated: false, metrics: expectedList('acme', H) });
    const shop = await get('/v1/metrics', { from: H0, to: H0 + WINDOW, prefix: 'shop.' });
    expect(shop.body['metrics']).toEqual(expectedList('acme', M, 'shop.'));
    const cut = await get('/v1/metrics', { from: H0, to: H0 + WINDOW, limit: 2 });
    expect(cut.body).toMatchObject({ truncated: true, metrics: expectedList('acme', M).slice(0, 2) });
    const bad = await get('/v1/metrics', { limit: 0 });
    expect(bad.status).toBe(400);
  });

  it('tag keys of a metric with their values, most series first', async () => {
    const os = observations.filter((o) => o.tenant === 'acme' && o.name === 'shop.requests');
    const series = [...new Map(os.map((o) => [JSON.stringify(Object.entries(o.tags).sort()), o.tags])).values()];
    const count = (key: string, value?: string): number => series.filter((t) => key in t && (value === undefined || t[key] === value)).length;
    const keyOf = (key: string, values: string[]): object => ({
      key,
      series: count(key),
      values_count: values.length,
      values: values.map((value) => ({ value, series: count(key, value) })).sort((a, b) => b.series - a.series || (a.value < b.value ? -1 : 1)),
    });
    const res = await get('/v1/metrics/tags', { name: 'shop.requests', from: H0, to: H0 + WINDOW });
    expect(res.body).toEqual({
      name: 'shop.requests',
      from: H0,
      to: H0 + WINDOW,
      source: 'metrics_1m',
      series: series.length,
      keys: [keyOf('code', ['200', '500']), keyOf('route', ['/cart', '/pay'])],
    });
    const one = await get('/v1/metrics/tags', { name: 'ssf.span.duration', from: H0, to: H0 + WINDOW, limit: 1 });
    const keys = one.body['keys'] as Array<{ key: string; values: unknown[]; values_count: number }>;
    expect(keys.map((k) => [k.key, k.values.length, k.values_count])).toEqual([
      ['error', 1, 2],
      ['name', 1, 2],
      ['service', 1, 2],
    ]);
    const globex = await get('/v1/metrics/tags', { name: 'shop.requests', from: H0, to: H0 + WINDOW }, 'tokB');
    expect(globex.body).toMatchObject({
      series: 1,
      keys: [
        { key: 'code', series: 1, values: [{ value: '200', series: 1 }] },
        { key: 'route', series: 1 },
      ],
    });
  });

  it('the routes are in /openapi.json', async () => {
    const doc = (await (await fetch(`${aio.http}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/metrics/query', '/v1/metrics', '/v1/metrics/tags']));
  });
});

describe('the per-service series only answers for ranges it covers', () => {
  it('falls back to ssf.span.duration when ssf.service.duration starts later (data from before migration 0005)', async () => {
    const q: Query = { name: 'ssf.span.duration', stepMs: M, agg: 'count', groupBy: ['service'] };
    // No answer kept from the tests before: this one's is kept from here.
    await sleep(METADATA_TTL_MS);
    const before = await metricQuery(q);
    expect((before as unknown as { read_as: string }).read_as).toBe('ssf.service.duration');
    // As if the view had come later: the per-service series loses its first minutes.
    const db = aio.ch.database;
    const first = Math.min(...observations.filter((o) => o.name === 'ssf.service.duration').map((o) => Number(o.ns / NS(M)) * M));
    await aio.ch.client.command({
      query: `ALTER TABLE ${db}.metrics_1m DELETE WHERE name = 'ssf.service.duration' AND bucket <= toDateTime(${first / 1000}, 'UTC') SETTINGS mutations_sync = 2`,
    });
    // The API keeps its answer about the series' first buckets for
    // query.metricMetadataTtlMs (METADATA_TTL_MS here), then asks again.
    const again = await metricQuery(q);
    expect((again as unknown as { read_as: string }).read_as).toBe('ssf.service.duration');
    await sleep(METADATA_TTL_MS);
    const after = await metricQuery(q);
    expect((after as unknown as { read_as: string }).read_as).toBe('ssf.span.duration');
    expect(differences(q, after)).toEqual([]);
  });
});
