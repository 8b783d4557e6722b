import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../src/codec/index.js';
import type { ServiceGraph } from '../../query/services/service-graph.js';
import type { SloNumbers, SloReport } from '../../query/services/slo.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { seededRandom } from '../setup/random.js';
import { spanEvent } from '../../src/codec/span-event.js';

/**
 * GET /v1/services and GET /v1/slo against exact references computed here
 * from the spans sent. The spans go through the real all-in-one pipeline
 * (protobuf over HTTP, gateway, ClickHouse and its rollup views).
 */

const rand = seededRandom(7_130_101);
const MINUTE = 60_000;
const NS = 1_000_000n;

// DDSketch as ClickHouse has it (see test/clickhouse/derived-signals.int.test.ts):
// the value of rank floor(q * (n - 1)) within 1 % relative error (values >= 1).
const SKETCH_ERROR = 0.01 + 1e-9;

let nextId = 1n;
const newId = (): bigint => nextId++ * 7_919n + 1_000_003n;

/** A trace span at `startMs` (plus a sub-ms fraction) lasting `durationMs`. */
function span(fields: {
  traceId: bigint;
  parentId: bigint;
  service: string;
  name: string;
  startMs: number;
  durationMs: number;
  error?: boolean;
  indicator?: boolean;
}): SpanEvent {
  const start = BigInt(Math.floor(fields.startMs)) * NS + BigInt(Math.floor(rand() * 1_000_000));
  const id = newId();
  return spanEvent({
    traceId: fields.traceId === 0n ? id : fields.traceId,
    id,
    parentId: fields.parentId,
    startTimestamp: start,
    endTimestamp: start + BigInt(Math.round(fields.durationMs * 1e6)),
    error: fields.error ?? false,
    service: fields.service,
    name: fields.name,
    indicator: fields.indicator ?? false,
    isTrace: true,
  });
}

/** A latency in ms, log-normal around `median`, never below 1.5 ms (the sketch is ±1 % above 1). */
function latency(median: number): number {
  const u = 1 - rand();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  return Math.max(1.5, median * Math.exp(0.6 * z));
}

const durationMs = (s: SpanEvent): number => Number(s.endTimestamp - s.startTimestamp) / 1e6;
const startMs = (s: SpanEvent): number => Number(s.startTimestamp / NS);
/** quantilesExact: the value of rank floor(q * n). */
const exactQuantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
/** The rank a DDSketch answers for. */
const sketchRank = (sorted: readonly number[], q: number): number => sorted[Math.floor(q * (sorted.length - 1))] as number;
const sortedNumbers = (xs: number[]): number[] => xs.sort((a, b) => a - b);

function expectNear(got: number | null, want: number, what: string): void {
  expect(got, what).not.toBeNull();
  expect(Math.abs((got as number) - want) / want, `${what}: got ${got}, want ${want}`).toBeLessThanOrEqual(SKETCH_ERROR);
}

// --- the data -------------------------------------------------------------------

// The call graph: a half hour inside [FROM, TO), both on whole minutes.
const NOW = Date.now();
const FROM = Math.floor(NOW / MINUTE) * MINUTE - 50 * MINUTE;
const TO = FROM + 45 * MINUTE;

/** web -> api -> db (1-3 queries), api -> cache (most requests), api -> api (not an edge). */
function callGraph(traces: number): SpanEvent[] {
  const out: SpanEvent[] = [];
  for (let t = 0; t < traces; t++) {
    const at = FROM + MINUTE + rand() * 40 * MINUTE;
    const root = span({ traceId: 0n, parentId: 0n, service: 'web', name: rand() < 0.6 ? 'GET /home' : 'GET /cart', startMs: at, durationMs: latency(60) });
    const traceId = root.traceId;
    const api = span({ traceId, parentId: root.id, service: 'api', name: 'handle', startMs: at + 1, durationMs: latency(40), error: rand() < 0.03 });
    out.push(root, api);
    out.push(span({ traceId, parentId: api.id, service: 'api', name: 'serialize', startMs: at + 2, durationMs: latency(3) }));
    const queries = 1 + Math.floor(rand() * 3);
    for (let q = 0; q < queries; q++) {
      out.push(
        span({
          traceId,
          parentId: api.id,
          service: 'db',
          name: rand() < 0.5 ? 'SELECT users' : 'SELECT carts',
          startMs: at + 3 + q,
          durationMs: latency(8),
          error: rand() < 0.1,
        }),
      );
    }
    if (rand() < 0.7)
      out.push(span({ traceId, parentId: api.id, service: 'cache', name: 'GET', startMs: at + 2, durationMs: latency(2), error: rand() < 0.05 }));
  }
  // A parent that started before FROM: its call is outside the range on the parent side.
  const early = span({ traceId: 0n, parentId: 0n, service: 'web', name: 'GET /home', startMs: FROM - 30_000, durationMs: 40_000 });
  out.push(early, span({ traceId: early.traceId, parentId: early.id, service: 'api', name: 'handle', startMs: FROM + 5_000, durationMs: 20 }));
  // A child whose parent never arrived.
  out.push(span({ traceId: 999_999_937n, parentId: 424_242n, service: 'db', name: 'SELECT users', startMs: FROM + 10 * MINUTE, durationMs: 5 }));
  return out;
}

// The SLO data: indicator spans of two services over the last five hours,
// checkout failing a fifth of its requests in the last hour.
const SLO_TO = Math.ceil(NOW / MINUTE) * MINUTE;

function indicatorSpans(): SpanEvent[] {
  const out: SpanEvent[] = [];
  const add = (service: string, name: string, at: number, errorRate: number, median: number): void => {
    out.push(span({ traceId: 0n, parentId: 0n, service, name, startMs: at, durationMs: latency(median), error: rand() < errorRate, indicator: true }));
  };
  for (let i = 0; i < 1_200; i++) {
    const at = SLO_TO - 5 * 60 * MINUTE + rand() * (4 * 60 * MINUTE); // 5h..1h ago
    add('checkout', rand() < 0.5 ? 'POST /pay' : 'GET /basket', at, 0.004, 30);
    add('search', 'GET /search', at, 0.001, 12);
  }
  for (let i = 0; i < 400; i++) {
    const at = SLO_TO - 60 * MINUTE + rand() * (NOW - 1_000 - (SLO_TO - 60 * MINUTE)); // the last hour, up to now
    add('checkout', rand() < 0.5 ? 'POST /pay' : 'GET /basket', at, 0.2, 30);
    add('search', 'GET /search', SLO_TO - 60 * MINUTE + rand() * 45 * MINUTE, 0.001, 12); // quiet in the last quarter hour
  }
  for (let i = 0; i < 60; i++) {
    const at = SLO_TO - 5 * MINUTE + rand() * (NOW - 1_000 - (SLO_TO - 5 * MINUTE)); // the last five minutes
    add('checkout', 'POST /pay', at, 0.3, 30);
  }
  // Not indicators: never counted.
  for (let i = 0; i < 50; i++)
    out.push(
      span({
        traceId: 0n,
        parentId: 0n,
        service: 'checkout',
        name: 'POST /pay',
        startMs: SLO_TO - 30 * MINUTE + rand() * 20 * MINUTE,
        durationMs: 5,
        error: true,
      }),
    );
  return out;
}

// --- the references ---------------------------------------------------------------

interface RefEdge {
  from: string;
  to: string;
  calls: number;
  errors: number;
  durations: number[];
}

/** Edges of [from, to): a child starting in the range whose parent (also starting in it) is of another service. */
function referenceEdges(spans: readonly SpanEvent[], from: number, to: number): RefEdge[] {
  const inRange = spans.filter((s) => startMs(s) >= from && startMs(s) < to);
  const byId = new Map(inRange.map((s) => [`${s.traceId}:${s.id}`, s]));
  const edges = new Map<string, RefEdge>();
  for (const c of inRange) {
    const p = byId.get(`${c.traceId}:${c.parentId}`);
    if (!p || c.parentId === 0n || p.service === c.service) continue;
    const key = `${p.service}>${c.service}`;
    let e = edges.get(key);
    if (!e) edges.set(key, (e = { from: p.service, to: c.service, calls: 0, errors: 0, durations: [] }));
    e.calls++;
    if (c.error) e.errors++;
    e.durations.push(durationMs(c));
  }
  return [...edges.values()].sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1));
}

interface RefService {
  spans: number;
  errors: number;
  durations: number[];
  ops: Map<string, { count: number; errors: number; durations: number[] }>;
}

/** Per-service numbers of the spans in the whole minutes from `from` to `to` (both on minutes here). */
function referenceServices(spans: readonly SpanEvent[], from: number, to: number): Map<string, RefService> {
  const out = new Map<string, RefService>();
  for (const s of spans) {
    if (startMs(s) < from || startMs(s) >= to) continue;
    let r = out.get(s.service);
    if (!r) out.set(s.service, (r = { spans: 0, errors: 0, durations: [], ops: new Map() }));
    r.spans++;
    if (s.error) r.errors++;
    r.durations.push(durationMs(s));
    let op = r.ops.get(s.name);
    if (!op) r.ops.set(s.name, (op = { count: 0, errors: 0, durations: [] }));
    op.count++;
    if (s.error) op.errors++;
    op.durations.push(durationMs(s));
  }
  return out;
}

/** SLI numbers of indicator spans of `service` (and `name`) in [end - windowMs, end). */
function referenceSlo(
  spans: readonly SpanEvent[],
  service: string,
  name: string | undefined,
  end: number,
  windowMs: number,
  objective: number,
  latencyMs?: number,
) {
  const xs = spans.filter(
    (s) => s.indicator && s.service === service && (name === undefined || s.name === name) && startMs(s) >= end - windowMs && startMs(s) < end,
  );
  const total = xs.length;
  const bad = xs.filter((s) => s.error || (latencyMs !== undefined && durationMs(s) > latencyMs)).length;
  const budget = (1 - objective) * total;
  return {
    total,
    good: total - bad,
    bad,
    availability: (total - bad) / total,
    error_budget: budget,
    budget_consumed: bad / budget,
    budget_remaining: 1 - bad / budget,
    burn_rate: bad / total / (1 - objective),
    durations: sortedNumbers(xs.map(durationMs)),
  };
}

function expectSloNumbers(got: SloNumbers | undefined, want: ReturnType<typeof referenceSlo>, what: string): void {
  expect(got, what).toBeDefined();
  const g = got as SloNumbers;
  expect({ total: g.total, good: g.good, bad: g.bad }, what).toEqual({ total: want.total, good: want.good, bad: want.bad });
  expect(g.availability, `${what} availability`).toBeCloseTo(want.availability, 12);
  expect(g.error_budget, `${what} error_budget`).toBeCloseTo(want.error_budget, 9);
  expect(g.budget_consumed, `${what} budget_consumed`).toBeCloseTo(want.budget_consumed, 9);
  expect(g.budget_remaining, `${what} budget_remaining`).toBeCloseTo(want.budget_remaining, 9);
  expect(g.burn_rate, `${what} burn_rate`).toBeCloseTo(want.burn_rate, 9);
  expectNear(g.p50_ms, sketchRank(want.durations, 0.5), `${what} p50`);
  expectNear(g.p99_ms, sketchRank(want.durations, 0.99), `${what} p99`);
}

// --- the tests ----------------------------------------------------------------------

const ACME = [...callGraph(400), ...indicatorSpans()];
const GLOBEX: SpanEvent[] = [];
for (let t = 0; t < 20; t++) {
  const at = FROM + 2 * MINUTE + t * MINUTE;
  const x = span({ traceId: 0n, parentId: 0n, service: 'x', name: 'run', startMs: at, durationMs: 10 });
  GLOBEX.push(x, span({ traceId: x.traceId, parentId: x.id, service: 'y', name: 'step', startMs: at + 1, durationMs: 4, error: t % 4 === 0 }));
}
for (let i = 0; i < 30; i++)
  GLOBEX.push(
    span({
      traceId: 0n,
      parentId: 0n,
      service: 'checkout',
      name: 'POST /pay',
      startMs: SLO_TO - 20 * MINUTE + i * 1_000,
      durationMs: 9,
      error: true,
      indicator: true,
    }),
  );

let aio: AllInOne;
beforeAll(async () => {
  aio = await startAllInOne('ssf_services', { SSF_GATEWAY_AUTH_TOKENS: 'tokA=acme,tokB=globex' });
  for (let i = 0; i < ACME.length; i += 2_000) expect((await aio.post(ACME.slice(i, i + 2_000), 'tokA')).status).toBe(200);
  expect((await aio.post(GLOBEX, 'tokB')).status).toBe(200);
});
afterAll(async () => aio?.close());

async function get<T>(path: string, token = 'tokA'): Promise<{ status: number; body: T }> {
  const res = await fetch(`${aio.http}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

describe('GET /v1/services', () => {
  it('answers the call graph of the range: edges exact, services within the sketch error', async () => {
    const { status, body } = await get<ServiceGraph>(`/v1/services?from=${FROM}&to=${TO}`);
    expect(status).toBe(200);
    expect(body.from).toBe(new Date(FROM).toISOString());
    expect(body.to).toBe(new Date(TO).toISOString());

    const edges = referenceEdges(ACME, FROM, TO);
    expect(edges.map((e) => `${e.from}>${e.to}`)).toEqual(['api>cache', 'api>db', 'web>api']);
    expect(body.edges.map((e) => ({ from: e.from, to: e.to, calls: e.calls, errors: e.errors }))).toEqual(
      edges.map((e) => ({ from: e.from, to: e.to, calls: e.calls, errors: e.errors })),
    );
    for (const e of edges) {
      const got = body.edges.find((g) => g.from === e.from && g.to === e.to);
      const sorted = sortedNumbers(e.durations);
      expect(got?.error_rate).toBeCloseTo(e.errors / e.calls, 12);
      expect(got?.p50_ms, `${e.from}>${e.to} p50`).toBe(exactQuantile(sorted, 0.5));
      expect(got?.p99_ms, `${e.from}>${e.to} p99`).toBe(exactQuantile(sorted, 0.99));
    }
    expect(edges.find((e) => e.to === 'db')?.errors).toBeGreaterThan(0);

    const services = referenceServices(ACME, FROM, TO);
    expect(body.services.map((s) => s.service)).toEqual([...services.keys()].sort());
    for (const s of body.services) {
      const want = services.get(s.service) as RefService;
      const sorted = sortedNumbers(want.durations);
      expect({ spans: s.spans, errors: s.errors }, s.service).toEqual({ spans: want.spans, errors: want.errors });
      expect(s.rate_per_s).toBeCloseTo(want.spans / ((TO - FROM) / 1000), 12);
      expect(s.error_rate).toBeCloseTo(want.errors / want.spans, 12);
      expectNear(s.p50_ms, sketchRank(sorted, 0.5), `${s.service} p50`);
      expectNear(s.p90_ms, sketchRank(sorted, 0.9), `${s.service} p90`);
      expectNear(s.p99_ms, sketchRank(sorted, 0.99), `${s.service} p99`);
      const ops = [...want.ops.entries()].sort(([a, x], [b, y]) => y.count - x.count || (a < b ? -1 : 1));
      expect(s.operations.map((o) => [o.name, o.count, o.errors])).toEqual(ops.map(([name, o]) => [name, o.count, o.errors]));
      for (const o of s.operations) expectNear(o.p99_ms, sketchRank(sortedNumbers(want.ops.get(o.name)?.durations ?? []), 0.99), `${s.service} ${o.name} p99`);
    }
  });

  it('focuses on one service: its edges and its neighbours only', async () => {
    const { status, body } = await get<ServiceGraph>(`/v1/services?from=${FROM}&to=${TO}&service=db&operations=1`);
    expect(status).toBe(200);
    const edges = referenceEdges(ACME, FROM, TO).filter((e) => e.from === 'db' || e.to === 'db');
    expect(body.edges.map((e) => [e.from, e.to, e.calls, e.errors])).toEqual(edges.map((e) => [e.from, e.to, e.calls, e.errors]));
    expect(body.services.map((s) => s.service)).toEqual(['api', 'db']);
    const db = referenceServices(ACME, FROM, TO).get('db') as RefService;
    const busiest = [...db.ops.entries()].sort(([a, x], [b, y]) => y.count - x.count || (a < b ? -1 : 1))[0];
    expect(body.services[1]?.operations.map((o) => [o.name, o.count])).toEqual([[busiest?.[0], busiest?.[1].count]]);
  });

  it('keeps tenants apart', async () => {
    const globex = await get<ServiceGraph>(`/v1/services?from=${FROM}&to=${TO}`, 'tokB');
    expect(globex.status).toBe(200);
    expect(globex.body.edges.map((e) => [e.from, e.to, e.calls, e.errors])).toEqual([['x', 'y', 20, 5]]);
    const services = referenceServices(GLOBEX, FROM, TO);
    expect(globex.body.services.map((s) => [s.service, s.spans])).toEqual(
      [...services.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, r]) => [name, r.spans]),
    );
    expect(globex.body.services.map((s) => s.service)).not.toContain('api');
    const acme = await get<ServiceGraph>(`/v1/services?from=${FROM}&to=${TO}`);
    expect(acme.body.services.map((s) => s.service)).not.toContain('x');
    const none = await fetch(`${aio.http}/v1/services`);
    expect(none.status).toBe(401);
  });

  it('refuses bad parameters with a coded 400', async () => {
    for (const q of ['from=yesterday', `from=${TO}&to=${FROM}`, 'operations=-1', 'operations=many', 'bogus=1', 'service=']) {
      const { status, body } = await get<{ error: { code: string; reason: string } }>(`/v1/services?${q}`);
      expect(status, q).toBe(400);
      expect(body.error.code, q).toBe('QUERY_ERR_BAD_REQUEST');
    }
  });
});

it('lists both endpoints in /openapi.json with their parameters', async () => {
  const doc = (await (await fetch(`${aio.http}/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }> };
  expect(doc.paths['/v1/services']?.get?.parameters?.map((p) => p.name)).toEqual(['from', 'to', 'service', 'operations']);
  expect(doc.paths['/v1/slo']?.get?.parameters?.map((p) => p.name)).toEqual(['service', 'objective', 'latency_ms', 'windows', 'to']);
});

describe('GET /v1/slo', () => {
  const OBJECTIVE = 0.99;

  it('answers availability, budget and burn rate per service, objective and window', async () => {
    const { status, body } = await get<SloReport>(`/v1/slo?to=${SLO_TO}&objective=${OBJECTIVE}&windows=1h,6h`);
    expect(status).toBe(200);
    expect(body.to).toBe(new Date(SLO_TO).toISOString());
    expect(body.counts_from).toBe('rollup');
    expect(body.windows).toEqual([
      { window: '1h', from: new Date(SLO_TO - 60 * MINUTE).toISOString(), to: new Date(SLO_TO).toISOString() },
      { window: '6h', from: new Date(SLO_TO - 360 * MINUTE).toISOString(), to: new Date(SLO_TO).toISOString() },
    ]);
    expect(body.services.map((s) => s.service)).toEqual(['checkout', 'search']);
    for (const s of body.services) {
      for (const [i, w] of [
        [0, 60 * MINUTE],
        [1, 360 * MINUTE],
      ] as const) {
        expectSloNumbers(s.windows[i], referenceSlo(ACME, s.service, undefined, SLO_TO, w, OBJECTIVE), `${s.service} ${w}`);
        for (const o of s.objectives)
          expectSloNumbers(o.windows[i], referenceSlo(ACME, s.service, o.objective, SLO_TO, w, OBJECTIVE), `${s.service} ${o.objective} ${w}`);
      }
    }
    expect(body.services[0]?.objectives.map((o) => o.objective)).toEqual(['GET /basket', 'POST /pay']);
  });

  it('evaluates the multi-window burn alerts', async () => {
    const { body } = await get<SloReport>(`/v1/slo?to=${SLO_TO}&objective=${OBJECTIVE}&windows=1h`);
    const lengths: Record<string, number> = { '5m': 5, '30m': 30, '1h': 60, '2h': 120, '6h': 360, '24h': 1_440, '3d': 4_320 };
    const rules = [
      ['page', '1h', '5m', 14.4],
      ['page', '6h', '30m', 6],
      ['ticket', '24h', '2h', 3],
      ['ticket', '3d', '6h', 1],
    ] as const;
    const want = ['checkout', 'search'].flatMap((service) =>
      rules.map(([severity, long, short, threshold]) => {
        const burn = (w: string): number | null => {
          const r = referenceSlo(ACME, service, undefined, SLO_TO, (lengths[w] as number) * MINUTE, OBJECTIVE);
          return r.total > 0 ? r.burn_rate : null; // no traffic: no burn rate
        };
        const [l, sh] = [burn(long), burn(short)];
        return {
          service,
          severity,
          long_window: long,
          short_window: short,
          threshold,
          firing: l !== null && sh !== null && l > threshold && sh > threshold,
          long: l,
          short: sh,
        };
      }),
    );
    expect(
      body.alerts.map((a) => ({
        service: a.service,
        severity: a.severity,
        long_window: a.long_window,
        short_window: a.short_window,
        threshold: a.threshold,
        firing: a.firing,
      })),
    ).toEqual(want.map(({ long: _l, short: _s, ...rest }) => rest));
    const close = (got: number | null | undefined, expected: number | null, what: string): void => {
      if (expected === null) expect(got, what).toBeNull();
      else expect(got, what).toBeCloseTo(expected, 9);
    };
    want.forEach((w, i) => {
      close(body.alerts[i]?.long_burn_rate, w.long, `${w.service} ${w.long_window}`);
      close(body.alerts[i]?.short_burn_rate, w.short, `${w.service} ${w.short_window}`);
    });
    expect(want.some((w) => w.short === null)).toBe(true); // search is quiet in the last five minutes
    // The data is made so: checkout pages on the fast burn, search never alerts.
    expect(body.alerts.filter((a) => a.firing).map((a) => `${a.service} ${a.long_window}/${a.short_window}`)).toContain('checkout 1h/5m');
    expect(body.alerts.some((a) => a.service === 'search' && a.firing)).toBe(false);
  });

  it('counts slow requests as bad with latency_ms, from the raw spans', async () => {
    const { status, body } = await get<SloReport>(`/v1/slo?to=${SLO_TO}&objective=${OBJECTIVE}&windows=1h,6h&latency_ms=40&service=checkout`);
    expect(status).toBe(200);
    expect(body.counts_from).toBe('spans');
    expect(body.latency_ms).toBe(40);
    expect(body.services.map((s) => s.service)).toEqual(['checkout']);
    const checkout = body.services[0];
    for (const [i, w] of [
      [0, 60 * MINUTE],
      [1, 360 * MINUTE],
    ] as const) {
      const want = referenceSlo(ACME, 'checkout', undefined, SLO_TO, w, OBJECTIVE, 40);
      expect(want.bad).toBeGreaterThan(referenceSlo(ACME, 'checkout', undefined, SLO_TO, w, OBJECTIVE).bad);
      expectSloNumbers(checkout?.windows[i], want, `checkout ${w} latency`);
      for (const o of checkout?.objectives ?? [])
        expectSloNumbers(o.windows[i], referenceSlo(ACME, 'checkout', o.objective, SLO_TO, w, OBJECTIVE, 40), `checkout ${o.objective} ${w} latency`);
    }
  });

  it('uses the default windows and objective, and keeps tenants apart', async () => {
    const { status, body } = await get<SloReport>(`/v1/slo?to=${SLO_TO}`, 'tokB');
    expect(status).toBe(200);
    expect(body.objective).toBe(0.999);
    expect(body.windows.map((w) => w.window)).toEqual(['1h', '6h', '24h', '30d']);
    expect(body.services.map((s) => [s.service, s.windows[0]?.total, s.windows[0]?.bad])).toEqual([['checkout', 30, 30]]);
    expect(body.services[0]?.windows[0]?.burn_rate).toBeCloseTo(1 / 0.001, 6);
  });

  it('refuses bad parameters with a coded 400', async () => {
    for (const q of [
      'objective=1.5',
      'objective=0',
      'objective=abc',
      'windows=abc',
      'windows=1h,,6h',
      'windows=30s',
      'windows=400d',
      'windows=90',
      'latency_ms=-5',
      'to=soon',
      'service=',
      'extra=1',
    ]) {
      const { status, body } = await get<{ error: { code: string; reason: string } }>(`/v1/slo?${q}`);
      expect(status, q).toBe(400);
      expect(body.error.code, q).toBe('QUERY_ERR_BAD_REQUEST');
    }
  });
});
