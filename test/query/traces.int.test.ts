import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceNode } from '../../query/traces/assemble-trace.js';
import { TRACE_PLANNING } from '../../query/traces/fetch-trace.js';
import type { TraceAnswer } from '../../query/traces/fetch-trace.js';
import type { TraceSummary } from '../../query/traces/search-traces.js';
import type { LogRecord, MetricSample, SpanEvent } from '../../src/codec/index.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { seededRandom } from '../setup/random.js';
import { projectNodes, referenceTrace } from './trace-reference.js';
import type { RefSpan } from './trace-reference.js';
import { spanEvent } from '../../src/codec/span-event.js';

// The trace endpoints end to end: spans, logs and samples go through the
// real gateway into ClickHouse, and every expectation is computed here from
// what was sent (test/query/trace-reference.ts for trees).

const ACME = 'tokA';
const GLOBEX = 'tokB';
/** A tenant of its own for the trace whose logs come from services without spans (no other test sees it). */
const INITECH = 'tokC';
/** A tenant of its own whose samples have no trace id until the test sends one (query.traceSamplesTtlMs). */
const UMBRELLA = 'tokD';
/** query.traceSamplesTtlMs of this file: short, so the test sees a tenant's first traced sample show up. */
const TRACED_TTL_MS = 4_000;
const MS = 1_000_000n;
const US = 1_000n;
const NOW_MS = Date.now();

/** The big trace: 4 services, 11 spans, an error, an orphan, a fire-and-forget span, logs, samples. Its id is negative. */
const TRACE = BigInt.asIntN(64, 0xfedcba9876543210n);
const TRACE_HEX = 'fedcba9876543210';
/** Start of the big trace: 31 minutes ago, with nanosecond digits. */
const T0 = BigInt(NOW_MS - 31 * 60_000) * MS + 123_456n;
const at = (ms: number): bigint => T0 + BigInt(Math.round(ms * 1000)) * US;
const OTHER_TRACE = 777n;
const GLOBEX_ONLY = 4242n;

function span(p: Partial<SpanEvent> & Pick<SpanEvent, 'traceId' | 'id' | 'service' | 'name' | 'startTimestamp' | 'endTimestamp'>): SpanEvent {
  return spanEvent({ isTrace: true, ...p });
}

/** A carrier: logs and samples of a span, without the span (not a trace span). */
function carrier(traceId: bigint, id: bigint, service: string, logs: LogRecord[], metrics: MetricSample[] = []): SpanEvent {
  return span({ traceId, id, service, name: '', startTimestamp: 0n, endTimestamp: 0n, isTrace: false, logs, metrics });
}

function log(ms: number, severity: LogRecord['severity'], severityNumber: number, body: string, attributes: Record<string, string> = {}): LogRecord {
  return { timestamp: at(ms), severity, severityNumber, body, attributes };
}

function sample(ms: number, type: MetricSample['type'], name: string, value: number, extra: Partial<MetricSample> = {}): MetricSample {
  return { type, name, value, timestamp: at(ms), message: '', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'default', ...extra };
}

const R = TRACE;
const B = 102n;
const E = 105n;
const F = 106n;
const G = 107n;
const bigTrace: SpanEvent[] = [
  span({
    traceId: TRACE,
    id: R,
    service: 'web',
    name: 'GET /checkout',
    startTimestamp: at(0),
    endTimestamp: at(100),
    tags: { 'http.method': 'GET' },
    logs: [log(1, 'info', 9, 'checkout started', { user: 'u1' })],
  }),
  span({ traceId: TRACE, id: 101n, parentId: R, service: 'web', name: 'auth', startTimestamp: at(2), endTimestamp: at(12) }),
  span({
    traceId: TRACE,
    id: B,
    parentId: R,
    service: 'api',
    name: 'POST /orders',
    startTimestamp: at(10),
    endTimestamp: at(90),
    metrics: [sample(30, 'counter', 'orders.created', 1)],
  }),
  span({ traceId: TRACE, id: 103n, parentId: B, service: 'db', name: 'SELECT orders', startTimestamp: at(15), endTimestamp: at(35) }),
  span({ traceId: TRACE, id: 110n, parentId: B, service: 'db', name: 'SELECT user', startTimestamp: at(15), endTimestamp: at(18) }),
  span({ traceId: TRACE, id: -77n, parentId: B, service: 'cache', name: 'GET order', startTimestamp: at(20), endTimestamp: at(25) }),
  span({
    traceId: TRACE,
    id: E,
    parentId: B,
    service: 'api',
    name: 'charge',
    startTimestamp: at(40),
    endTimestamp: at(88),
    error: true,
    tags: { gateway: 'stripe' },
    logs: [log(50, 'error', 17, 'card declined')],
    metrics: [sample(88, 'histogram', 'payment.ms', 42.5, { sampleRate: 0.5, unit: 'ms', tags: { gateway: 'stripe' } })],
  }),
  span({ traceId: TRACE, id: F, parentId: E, service: 'db', name: 'INSERT payment', startTimestamp: at(45), endTimestamp: at(60) }),
  span({
    traceId: TRACE,
    id: G,
    parentId: E,
    service: 'db',
    name: 'UPDATE stock',
    startTimestamp: at(55),
    endTimestamp: at(87),
    logs: [log(86, 'debug', 5, 'stock updated')],
  }),
  span({ traceId: TRACE, id: 108n, parentId: R, service: 'web', name: 'audit', startTimestamp: at(105), endTimestamp: at(130) }),
  span({ traceId: TRACE, id: 109n, parentId: 999n, service: 'cache', name: 'GET session', startTimestamp: at(5), endTimestamp: at(8) }),
  carrier(TRACE, B, 'api', [log(80, 'warn', 13, 'order created')], [sample(80, 'gauge', 'queue.depth', 7)]),
  carrier(TRACE, 555n, 'web', [log(120, 'info', 9, 'late callback')]),
  // Another trace at the same time and in the same services: none of it belongs to TRACE.
  span({
    traceId: OTHER_TRACE,
    id: OTHER_TRACE,
    service: 'web',
    name: 'GET /other',
    startTimestamp: at(20),
    endTimestamp: at(30),
    logs: [log(25, 'info', 9, 'other trace')],
    metrics: [sample(25, 'counter', 'orders.created', 5)],
  }),
];
/** A retried emit: span F again, in a later request. */
const retry: SpanEvent[] = [
  { ...(bigTrace[7] as SpanEvent) },
  span({ traceId: OTHER_TRACE, id: 2n, parentId: OTHER_TRACE, service: 'api', name: 'child', startTimestamp: at(21), endTimestamp: at(29) }),
];
const globexSpans: SpanEvent[] = [
  span({ traceId: TRACE, id: R, service: 'web', name: 'GET /globex', startTimestamp: at(0), endTimestamp: at(5) }),
  // A sample with a trace id: globex's traces are read with their samples part too (the tenant filter is then what keeps acme's out).
  span({
    traceId: GLOBEX_ONLY,
    id: GLOBEX_ONLY,
    service: 'web',
    name: 'GET /globex-only',
    startTimestamp: at(1),
    endTimestamp: at(3),
    metrics: [sample(2, 'counter', 'globex.traced', 1)],
  }),
];

const NAMES: Record<string, string[]> = {
  web: ['GET /', 'GET /cart', 'POST /checkout'],
  api: ['GET /users', 'POST /orders', 'charge'],
  db: ['SELECT', 'INSERT', 'UPDATE'],
  cache: ['GET', 'SET'],
  auth: ['verify'],
};

/** 20 random traces, one every two minutes from 52 minutes ago, for the search tests. */
function searchTraces(): SpanEvent[] {
  const rng = seededRandom(4_711);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rng() * list.length)] as T;
  const out: SpanEvent[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = BigInt(NOW_MS - 52 * 60_000 + i * 120_000) * MS + BigInt(Math.floor(rng() * 10_000_000)) * US;
    const traceId = BigInt.asIntN(64, (BigInt(Math.floor(rng() * 2 ** 32)) << 32n) | BigInt(Math.floor(rng() * 2 ** 32))) || 1n;
    const rootService = pick(['web', 'api']);
    const spans: SpanEvent[] = [];
    const tags = (): Record<string, string> => ({ region: pick(['eu', 'us']), ...(rng() < 0.5 ? { customer: pick(['c1', 'c2', 'c3', 'c4']) } : {}) });
    spans.push(
      span({
        traceId,
        id: traceId,
        service: rootService,
        name: pick(NAMES[rootService] as string[]),
        startTimestamp: t0,
        endTimestamp: t0 + BigInt(50_000 + Math.floor(rng() * 450_000)) * US,
        error: rng() < 0.2,
        tags: tags(),
      }),
    );
    const children = 2 + Math.floor(rng() * 4);
    for (let k = 0; k < children; k++) {
      const parent = pick(spans);
      const room = (parent.endTimestamp - parent.startTimestamp) / US;
      const start = parent.startTimestamp + BigInt(Math.floor(rng() * Number(room) * 0.5)) * US;
      const end = start + BigInt(1 + Math.floor(rng() * Number((parent.endTimestamp - start) / US))) * US;
      const service = pick(['api', 'db', 'cache', 'auth']);
      spans.push(
        span({
          traceId,
          id: 1_000n + BigInt(k),
          parentId: parent.id,
          service,
          name: pick(NAMES[service] as string[]),
          startTimestamp: start,
          endTimestamp: end,
          error: rng() < 0.2,
          tags: tags(),
        }),
      );
    }
    out.push(...spans);
  }
  return out;
}
const searchFixture = searchTraces();

/**
 * A trace whose logs come from services that wrote none of its spans (a
 * mailer and a billing job told the trace id), besides its own: all are the
 * trace's. Not its: a log of the trace more than the 60 s slack after its end,
 * and a log of another trace in the mailer at the same time.
 */
const MAILED = 31_337n;
const MAILED_NEIGHBOUR = 31_338n;
const mailedTrace: SpanEvent[] = [
  span({
    traceId: MAILED,
    id: MAILED,
    service: 'shop',
    name: 'POST /order',
    startTimestamp: at(0),
    endTimestamp: at(40),
    logs: [log(5, 'info', 9, 'order placed')],
  }),
  span({ traceId: MAILED, id: 3_001n, parentId: MAILED, service: 'stock', name: 'reserve', startTimestamp: at(10), endTimestamp: at(20) }),
  carrier(MAILED, 3_002n, 'mailer', [log(60, 'info', 9, 'receipt mailed', { to: 'u1' }), log(30_040, 'warn', 13, 'receipt bounced')]),
  carrier(MAILED, 3_003n, 'billing', [log(-20, 'debug', 5, 'invoice drafted')]),
  carrier(MAILED, 3_004n, 'mailer', [log(130_000, 'info', 9, 'too late: past the slack')]),
  carrier(MAILED_NEIGHBOUR, 4_001n, 'mailer', [log(61, 'info', 9, 'another trace')]),
];

/** Every acme trace span row stored (the retried span twice). */
const acmeRows = [...bigTrace, ...retry, ...searchFixture].filter((s) => s.isTrace);

let aio: AllInOne;

beforeAll(async () => {
  aio = await startAllInOne('ssf_traces', {
    SSF_GATEWAY_AUTH_TOKENS: `${ACME}=acme,${GLOBEX}=globex,${INITECH}=initech,${UMBRELLA}=umbrella`,
    SSF_QUERY_TRACE_SAMPLES_TTL_MS: String(TRACED_TTL_MS),
  });
  for (const [spans, token] of [
    [bigTrace, ACME],
    [retry, ACME],
    [searchFixture, ACME],
    [globexSpans, GLOBEX],
    [mailedTrace, INITECH],
  ] as const) {
    const res = await aio.post(spans, token);
    expect(res.status, await res.text()).toBe(200);
  }
});

afterAll(async () => aio?.close());

interface ErrorBody {
  error: { code: string; reason: string };
}
interface SearchBody {
  traces: TraceSummary[];
  from: string;
  to: string;
}

/** GET with a tenant's token; `body` is the parsed JSON (undefined for text). */
async function get<T>(path: string, token: string = ACME): Promise<{ status: number; type: string; body: T; text: string }> {
  const res = await fetch(`${aio.http}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, body: (type.startsWith('application/json') ? JSON.parse(text) : undefined) as T, text };
}

const rfc3339 = (ns: bigint): string => `${new Date(Number(ns / MS)).toISOString().slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
/** The node at `path` (indexes: a top-level span, then children), or a thrown error. */
function nodeAt(nodes: readonly TraceNode[], ...path: number[]): TraceNode {
  const [first, ...rest] = path;
  const n = nodes[first ?? -1];
  if (!n) throw new Error(`no span at ${path.join('.')}`);
  return rest.length === 0 ? n : nodeAt(n.children, ...rest);
}
const toRef = (s: SpanEvent): RefSpan => ({
  id: s.id,
  parent: s.parentId,
  service: s.service,
  name: s.name,
  start: s.startTimestamp,
  end: s.endTimestamp,
  error: s.error,
});

describe('GET /v1/traces/:traceId', () => {
  it('assembles the trace: tree, durations, self time, critical path, counts', async () => {
    const r = await get<TraceAnswer>(`/v1/traces/${TRACE}`);
    expect(r.status, r.text).toBe(200);
    const ref = referenceTrace(bigTrace.filter((s) => s.isTrace && s.traceId === TRACE).map(toRef));
    const t = r.body;
    expect(t.trace_id).toBe(TRACE.toString());
    expect(t.trace_id_hex).toBe(TRACE_HEX);
    expect(t.start).toBe(rfc3339(T0));
    expect(t.end).toBe(rfc3339(at(130)));
    expect(t.duration_ms).toBe(130);
    expect(t.span_count).toBe(11);
    expect(t.error_count).toBe(1);
    expect(t.services).toEqual(['api', 'cache', 'db', 'web']);
    expect(t.root_span_ids).toEqual([R.toString()]);
    expect(projectNodes(t.spans)).toEqual(ref.spans);
    expect(t.critical_path).toEqual(ref.criticalPath);

    // The same facts, worked out by hand for this trace.
    expect(t.critical_path).toEqual([R, B, E, G].map(String));
    const root = nodeAt(t.spans, 0);
    const orders = nodeAt(t.spans, 0, 1);
    const charge = nodeAt(t.spans, 0, 1, 3);
    expect(t.spans.map((n) => [n.span_id, n.orphan])).toEqual([
      [R.toString(), false],
      ['109', true],
    ]);
    expect(root.children.map((n) => n.span_id)).toEqual(['101', '102', '108']);
    expect(orders.children.map((n) => n.span_id)).toEqual(['103', '110', '-77', '105']);
    expect(root.self_ms).toBe(12); // 100 - [2, 90]; the audit span starts after the root ended
    expect(orders.self_ms).toBe(12); // 80 - [15, 35] - [40, 88]
    expect(charge.self_ms).toBe(6); // 48 - [45, 87]
    expect(nodeAt(t.spans, 0, 1, 3, 0).duration_ms).toBe(15); // the retried span: one node

    // Per-span fields the reference does not cover.
    expect(root).toMatchObject({ span_id_hex: TRACE_HEX, parent_id: '0', start: rfc3339(T0), tags: { 'http.method': 'GET' }, indicator: false });
    expect(nodeAt(t.spans, 0, 1, 2)).toMatchObject({ span_id: '-77', span_id_hex: 'ffffffffffffffb3', start: rfc3339(at(20)), offset_ms: 20, tags: {} });
    expect(charge.tags).toEqual({ gateway: 'stripe' });
  });

  it("attaches the trace's logs and samples, and only those", async () => {
    const t = (await get<TraceAnswer>(`/v1/traces/${TRACE}`)).body;
    const hex = (id: bigint): string => BigInt.asUintN(64, id).toString(16).padStart(16, '0');
    const logRow = (
      ms: number,
      service: string,
      severity: string,
      severity_number: number,
      body: string,
      spanId: bigint,
      attributes: Record<string, string> = {},
    ) => ({
      timestamp: rfc3339(at(ms)),
      offset_ms: ms,
      service,
      severity,
      severity_number,
      body,
      span_id: spanId.toString(),
      span_id_hex: hex(spanId),
      attributes,
    });
    expect(t.logs).toEqual([
      logRow(1, 'web', 'info', 9, 'checkout started', R, { user: 'u1' }),
      logRow(50, 'api', 'error', 17, 'card declined', E),
      logRow(80, 'api', 'warn', 13, 'order created', B),
      logRow(86, 'db', 'debug', 5, 'stock updated', G),
      logRow(120, 'web', 'info', 9, 'late callback', 555n),
    ]);
    const sampleRow = (ms: number, name: string, type: string, value: number, spanId: bigint, service: string, extra: Record<string, unknown> = {}) => ({
      timestamp: rfc3339(at(ms)),
      offset_ms: ms,
      name,
      type,
      value,
      sample_rate: 1,
      unit: '',
      message: '',
      status: 'ok',
      tags: {},
      service,
      span_id: spanId.toString(),
      span_id_hex: hex(spanId),
      ...extra,
    });
    expect(t.samples).toEqual([
      sampleRow(30, 'orders.created', 'counter', 1, B, 'api'),
      sampleRow(80, 'queue.depth', 'gauge', 7, B, 'api'),
      sampleRow(88, 'payment.ms', 'histogram', 42.5, E, 'api', { sample_rate: 0.5, unit: 'ms', tags: { gateway: 'stripe' } }),
    ]);
    expect(t.truncated).toEqual({ spans: false, logs: false, samples: false });
    const fromMs = (T0 - 60_000n * MS) / MS;
    const toMs = (at(130) + 60_000n * MS + MS - 1n) / MS;
    expect(t.links.logs).toBe(`/v1/logs?trace_id=${TRACE_HEX}&from=${fromMs}&to=${toMs}`);
    const viaLogs = await get<{ logs: Array<{ body: string }> }>(t.links.logs);
    expect(viaLogs.status, viaLogs.text).toBe(200);
    expect(viaLogs.body.logs.map((l) => l.body).sort()).toEqual(t.logs.map((l) => l.body).sort());
  });

  it('gives a SQL example that runs on POST /v1/sql and reads every stored row of the trace', async () => {
    const t = (await get<TraceAnswer>(`/v1/traces/${TRACE}`)).body;
    const res = await fetch(`${aio.http}/v1/sql`, {
      method: 'POST',
      body: JSON.stringify(t.links.sql),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ACME}` },
    });
    expect(res.status).toBe(200);
    const rows = ((await res.json()) as { data: Array<{ span_id: string }> }).data;
    const sent = acmeRows
      .filter((s) => s.traceId === TRACE)
      .map((s) => s.id.toString())
      .sort();
    expect(rows.map((x) => x.span_id).sort()).toEqual(sent);
    expect(sent).toHaveLength(12); // 11 spans, one stored twice
  });

  it("runs the trace's statement with its planning settings, the runner's limits and tenant filter set over them", async () => {
    // A statement's own settings (rows' `planning`): what reads them is ClickHouse's getSetting.
    const [got] = await aio.query.context.runner.rows<{ opt: boolean; cache: boolean; rows: string; filters: string }>(
      `SELECT getSetting('query_plan_enable_optimizations') AS opt, getSetting('use_query_condition_cache') AS cache,
              toString(getSetting('max_result_rows')) AS rows, toString(getSetting('additional_table_filters')) AS filters`,
      'acme',
      {},
      { ...TRACE_PLANNING, max_result_rows: '7' },
    );
    expect(got?.opt).toBe(false);
    expect(got?.cache).toBe(false);
    expect(got?.rows).toBe(String(aio.query.context.config.query.maxResultRows));
    expect(got?.filters).toContain("tenant = \\'acme\\'");
  });

  it('prints a text timeline: header, one line per span in tree order, logs under their span', async () => {
    const r = await get<TraceAnswer>(`/v1/traces/${TRACE}?format=text`);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    // Columns: critical-path mark, offset (right-aligned to 9), service (padded to 5), two spaces per depth, name, duration.
    expect(r.text).toBe(
      [
        `trace ${TRACE} (${TRACE_HEX})`,
        `start ${rfc3339(T0)}  duration 130.000ms`,
        'services api, cache, db, web',
        'spans 11  errors 1  logs 5  samples 3',
        '* marks the critical path',
        '',
        '*   0.000ms  web    GET /checkout  100.000ms',
        '                      INFO checkout started',
        '    2.000ms  web      auth  10.000ms',
        '*  10.000ms  api      POST /orders  80.000ms',
        '                        WARN order created',
        '   15.000ms  db         SELECT orders  20.000ms',
        '   15.000ms  db         SELECT user  3.000ms',
        '   20.000ms  cache      GET order  5.000ms',
        '*  40.000ms  api        charge  48.000ms  ERROR',
        '                          ERROR card declined',
        '   45.000ms  db           INSERT payment  15.000ms',
        '*  55.000ms  db           UPDATE stock  32.000ms',
        '                            DEBUG stock updated',
        '  105.000ms  web      audit  25.000ms',
        '    5.000ms  cache  GET session  3.000ms  ORPHAN (parent 999)',
        '',
        'logs of spans not in the trace:',
        '  INFO late callback  (span 555, web, 120.000ms)',
        '',
      ].join('\n'),
    );
  });

  it('takes the id in decimal, unsigned decimal, hex and W3C forms', async () => {
    for (const form of [
      TRACE.toString(),
      BigInt.asUintN(64, TRACE).toString(),
      TRACE_HEX,
      TRACE_HEX.toUpperCase(),
      `0x${TRACE_HEX}`,
      `0af7651916cd43dd${TRACE_HEX}`,
    ]) {
      const r = await get<TraceAnswer>(`/v1/traces/${form}`);
      expect(r.status, `${form} ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body.trace_id).toBe(TRACE.toString());
      expect(r.body.span_count).toBe(11);
    }
    // 0x: 16 hex digits that are all decimal digits read as a decimal id without it.
    const positive = await get<TraceAnswer>(`/v1/traces/0x${OTHER_TRACE.toString(16).padStart(16, '0')}`);
    expect(positive.body.trace_id).toBe('777');
    expect(positive.body.links.logs).toMatch(/^\/v1\/logs\?trace_id=0x0000000000000309&/);
    expect(positive.body.spans.map((n) => [n.span_id, n.children.map((c) => c.span_id)])).toEqual([['777', ['2']]]);
    expect(positive.body.logs.map((l) => l.body)).toEqual(['other trace']);
    expect(positive.body.samples.map((s) => [s.name, s.value])).toEqual([['orders.created', 5]]);
  });

  it('answers 404 for an unknown id and 400 for a malformed one or bad parameters', async () => {
    const unknown = await get<ErrorBody>('/v1/traces/12345');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('QUERY_ERR_NOT_FOUND');
    for (const bad of ['xyz', '123abc', 'fedcba98765432100', '1.5', '99999999999999999999999']) {
      const r = await get<ErrorBody>(`/v1/traces/${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('QUERY_ERR_BAD_REQUEST');
      expect(r.body.error.reason).toMatch(/trace id/);
    }
    for (const q of ['format=xml', 'from=yesterday', 'nope=1', `from=${NOW_MS}&to=${NOW_MS - 1000}`]) {
      const r = await get<ErrorBody>(`/v1/traces/${TRACE}?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('QUERY_ERR_BAD_REQUEST');
    }
  });

  it('uses from/to as hints: a trace outside them is not found', async () => {
    const t0 = Number(T0 / MS);
    expect((await get<TraceAnswer>(`/v1/traces/${TRACE}?from=${t0 - 600_000}&to=${t0 + 600_000}`)).status).toBe(200);
    expect((await get<unknown>(`/v1/traces/${TRACE}?from=now-10m`)).status).toBe(404);
    expect((await get<unknown>(`/v1/traces/${TRACE}?to=${new Date(t0 - 60_000).toISOString()}`)).status).toBe(404);
    expect((await get<TraceAnswer>(`/v1/traces/${TRACE}?from=now-2h&to=now`)).body.span_count).toBe(11);
  });

  it("attaches the trace's logs from every service, also those that wrote none of its spans", async () => {
    const r = await get<TraceAnswer>(`/v1/traces/${MAILED}`, INITECH);
    expect(r.status, r.text).toBe(200);
    expect(r.body.services).toEqual(['shop', 'stock']);
    const row = (
      ms: number,
      service: string,
      severity: string,
      severity_number: number,
      body: string,
      spanId: bigint,
      attributes: Record<string, string> = {},
    ) => ({
      timestamp: rfc3339(at(ms)),
      offset_ms: ms,
      service,
      severity,
      severity_number,
      body,
      span_id: spanId.toString(),
      span_id_hex: spanId.toString(16).padStart(16, '0'),
      attributes,
    });
    expect(r.body.logs).toEqual([
      row(-20, 'billing', 'debug', 5, 'invoice drafted', 3_003n),
      row(5, 'shop', 'info', 9, 'order placed', MAILED),
      row(60, 'mailer', 'info', 9, 'receipt mailed', 3_002n, { to: 'u1' }),
      row(30_040, 'mailer', 'warn', 13, 'receipt bounced', 3_002n),
    ]);
    expect(r.body.truncated).toEqual({ spans: false, logs: false, samples: false });
    // GET /v1/logs for the trace (its link) finds the same records.
    const viaLogs = await get<{ logs: Array<{ body: string }> }>(r.body.links.logs, INITECH);
    expect(viaLogs.status, viaLogs.text).toBe(200);
    expect(viaLogs.body.logs.map((l) => l.body).sort()).toEqual(r.body.logs.map((l) => l.body).sort());
  });

  it('leaves the samples out for a tenant with none sent with a trace id; its first one shows within query.traceSamplesTtlMs', async () => {
    const first = 9_001n;
    // Negative: a check of `trace_id > 0` would miss it.
    const second = -9_002n;
    const statsd = sample(5, 'counter', 'umbrella.untraced', 3);
    // Samples outside a trace (trace id 0, as statsd's), and a trace without samples.
    const res1 = await aio.post(
      [
        carrier(0n, 0n, 'umbrella', [], [statsd]),
        span({ traceId: first, id: first, service: 'umbrella', name: 'GET /a', startTimestamp: at(0), endTimestamp: at(10) }),
      ],
      UMBRELLA,
    );
    expect(res1.status, await res1.text()).toBe(200);
    const a = await get<TraceAnswer>(`/v1/traces/${first}`, UMBRELLA);
    expect(a.status, a.text).toBe(200);
    expect(a.body.samples).toEqual([]);
    // The tenant's first sample with a trace id: the answer kept above ("none") still holds it out...
    const res2 = await aio.post(
      [
        span({
          traceId: second,
          id: second,
          service: 'umbrella',
          name: 'GET /b',
          startTimestamp: at(0),
          endTimestamp: at(10),
          metrics: [sample(4, 'counter', 'umbrella.traced', 2)],
        }),
      ],
      UMBRELLA,
    );
    expect(res2.status, await res2.text()).toBe(200);
    const early = await get<TraceAnswer>(`/v1/traces/${second}`, UMBRELLA);
    expect(early.status, early.text).toBe(200);
    expect(early.body.span_count).toBe(1);
    expect(early.body.samples).toEqual([]);
    // Each tenant's answer is its own: acme's traces still come with their samples.
    expect((await get<TraceAnswer>(`/v1/traces/${TRACE}`, ACME)).body.samples.map((x) => x.name)).toContain('orders.created');
    expect((await get<TraceAnswer>(`/v1/traces/${GLOBEX_ONLY}`, GLOBEX)).body.samples.map((x) => x.name)).toEqual(['globex.traced']);
    // ...until it is older than query.traceSamplesTtlMs; then the trace is read with its samples.
    await new Promise((r) => setTimeout(r, TRACED_TTL_MS + 100));
    const late = await get<TraceAnswer>(`/v1/traces/${second}`, UMBRELLA);
    expect(late.status, late.text).toBe(200);
    expect(late.body.samples.map((x) => [x.name, x.value, x.span_id])).toEqual([['umbrella.traced', 2, second.toString()]]);
    expect((await get<TraceAnswer>(`/v1/traces/${first}`, UMBRELLA)).body.samples).toEqual([]);
  });

  it("keeps tenants apart: each reads its own spans under the same id, none reads another's trace", async () => {
    const acme = await get<TraceAnswer>(`/v1/traces/${TRACE}`, ACME);
    const globex = await get<TraceAnswer>(`/v1/traces/${TRACE}`, GLOBEX);
    expect(acme.body.span_count).toBe(11);
    expect(globex.status).toBe(200);
    expect(projectNodes(globex.body.spans)).toEqual(referenceTrace(globexSpans.filter((s) => s.traceId === TRACE).map(toRef)).spans);
    expect(globex.body.logs).toEqual([]);
    expect(globex.body.samples).toEqual([]);
    expect((await get<unknown>(`/v1/traces/${GLOBEX_ONLY}`, ACME)).status).toBe(404);
    expect((await get<unknown>(`/v1/traces/${OTHER_TRACE}`, GLOBEX)).status).toBe(404);
    expect(nodeAt((await get<TraceAnswer>(`/v1/traces/${GLOBEX_ONLY}`, GLOBEX)).body.spans, 0).name).toBe('GET /globex-only');
    expect((await get<unknown>(`/v1/traces/${TRACE}`, 'nope')).status).toBe(401);
  });
});

interface Filters {
  service?: string;
  name?: string;
  minMs?: number;
  maxMs?: number;
  error?: boolean;
  tags?: Array<[string, string]>;
  fromMs?: number;
  toMs?: number;
  limit?: number;
}

/** What GET /v1/traces must answer over `rows`, computed from what was sent. */
function expectedSearch(rows: readonly SpanEvent[], f: Filters): unknown[] {
  const fromNs = BigInt(f.fromMs ?? NOW_MS - 3_600_000) * MS;
  const toNs = BigInt(f.toMs ?? Date.now()) * MS;
  const matches = rows.filter(
    (s) =>
      s.startTimestamp >= fromNs &&
      s.startTimestamp <= toNs &&
      (f.service === undefined || s.service === f.service) &&
      (f.name === undefined || s.name === f.name) &&
      (f.minMs === undefined || s.endTimestamp - s.startTimestamp >= BigInt(Math.round(f.minMs * 1e6))) &&
      (f.maxMs === undefined || s.endTimestamp - s.startTimestamp <= BigInt(Math.round(f.maxMs * 1e6))) &&
      (f.error === undefined || s.error === f.error) &&
      (f.tags ?? []).every(([k, v]) => s.tags[k] === v),
  );
  // Each trace's newest matching span (ties: smaller span id), the newest `limit` of those.
  const newest = new Map<bigint, SpanEvent>();
  for (const s of matches) {
    const had = newest.get(s.traceId);
    if (!had || s.startTimestamp > had.startTimestamp || (s.startTimestamp === had.startTimestamp && s.id < had.id)) newest.set(s.traceId, s);
  }
  const chosen = [...newest.values()]
    .sort((a, b) => (a.startTimestamp === b.startTimestamp ? (a.traceId < b.traceId ? -1 : 1) : a.startTimestamp > b.startTimestamp ? -1 : 1))
    .slice(0, f.limit ?? 20);
  const summaries = chosen.map((m) => {
    const all = rows.filter((s) => s.traceId === m.traceId);
    const start = all.reduce((x, s) => (s.startTimestamp < x ? s.startTimestamp : x), all[0]!.startTimestamp);
    const end = all.reduce((x, s) => (s.endTimestamp > x ? s.endTimestamp : x), all[0]!.endTimestamp);
    const root = all.find((s) => s.parentId === 0n) ?? [...all].sort((a, b) => (a.startTimestamp < b.startTimestamp ? -1 : 1))[0]!;
    return {
      startNs: start,
      summary: {
        trace_id: m.traceId.toString(),
        trace_id_hex: BigInt.asUintN(64, m.traceId).toString(16).padStart(16, '0'),
        trace_id_128: [m.traceIdHigh, m.traceId].map((v) => BigInt.asUintN(64, v).toString(16).padStart(16, '0')).join(''),
        start: rfc3339(start),
        duration_ms: Number(end - start) / 1e6,
        root_service: root.service,
        root_name: root.name,
        span_count: all.length,
        error_count: all.filter((s) => s.error).length,
        services: [...new Set(all.map((s) => s.service))].sort(),
        matched_span: {
          span_id: m.id.toString(),
          span_id_hex: BigInt.asUintN(64, m.id).toString(16).padStart(16, '0'),
          service: m.service,
          name: m.name,
          duration_ms: Number(m.endTimestamp - m.startTimestamp) / 1e6,
        },
      },
    };
  });
  return summaries.sort((a, b) => (a.startNs === b.startNs ? 0 : a.startNs > b.startNs ? -1 : 1)).map((x) => x.summary);
}

function searchPath(f: Filters): string {
  const q = new URLSearchParams();
  if (f.service !== undefined) q.append('service', f.service);
  if (f.name !== undefined) q.append('name', f.name);
  if (f.minMs !== undefined) q.append('min_duration', `${f.minMs}ms`);
  if (f.maxMs !== undefined) q.append('max_duration', f.maxMs >= 1000 ? `${f.maxMs / 1000}s` : `${f.maxMs}ms`);
  if (f.error !== undefined) q.append('error', String(f.error));
  for (const [k, v] of f.tags ?? []) q.append('tag', `${k}:${v}`);
  if (f.fromMs !== undefined) q.append('from', new Date(f.fromMs).toISOString());
  if (f.toMs !== undefined) q.append('to', new Date(f.toMs).toISOString());
  if (f.limit !== undefined) q.append('limit', String(f.limit));
  return `/v1/traces?${q}`;
}

describe('GET /v1/traces', () => {
  const windowFrom = NOW_MS - 40 * 60_000;
  const windowTo = NOW_MS - 20 * 60_000;
  const cases: Array<[string, Filters]> = [
    ['no filter: the 20 newest traces', {}],
    ['service', { service: 'db' }],
    ['service and name', { service: 'api', name: 'charge' }],
    ['min_duration', { minMs: 250 }],
    ['min and max duration (1.5s)', { minMs: 100, maxMs: 1500 }],
    ['max_duration with sub-ms precision', { maxMs: 12.5 }],
    ['error=true', { error: true }],
    ['error=false', { error: false, service: 'auth' }],
    ['one tag', { tags: [['region', 'eu']] }],
    [
      'two tags on the same span',
      {
        tags: [
          ['region', 'eu'],
          ['customer', 'c2'],
        ],
      },
    ],
    ['a tag of the big trace', { tags: [['gateway', 'stripe']] }],
    ['time window', { fromMs: windowFrom, toMs: windowTo, limit: 100 }],
    ['limit', { limit: 3 }],
    ['combined', { service: 'db', error: true, minMs: 20, limit: 100 }],
    ['no match', { service: 'nope' }],
  ];
  for (const [what, f] of cases) {
    it(`finds exactly the expected traces: ${what}`, async () => {
      const expected = expectedSearch(acmeRows, f);
      if (what !== 'no match') expect(expected.length).toBeGreaterThan(0);
      const r = await get<SearchBody>(searchPath(f));
      expect(r.status, r.text).toBe(200);
      expect(r.body.traces).toEqual(expected);
    });
  }

  it('the fixture makes the filters bite (each one narrows the answer)', () => {
    const all = expectedSearch(acmeRows, { limit: 1000 }).length;
    expect(all).toBe(22);
    for (const f of [
      { service: 'db' },
      { minMs: 250 },
      { error: true },
      { tags: [['region', 'eu']] as Array<[string, string]> },
      { fromMs: windowFrom, toMs: windowTo },
    ]) {
      const n = expectedSearch(acmeRows, { ...f, limit: 1000 }).length;
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(all);
    }
  });

  it('echoes the time range and reports the big trace with its stored rows and root', async () => {
    const r = await get<SearchBody>(
      `/v1/traces?service=cache&name=GET%20session&from=${new Date(NOW_MS - 3_600_000).toISOString()}&to=${new Date(NOW_MS).toISOString()}`,
    );
    expect(r.body.from).toBe(new Date(NOW_MS - 3_600_000).toISOString());
    expect(r.body.to).toBe(new Date(NOW_MS).toISOString());
    expect(r.body.traces).toEqual([
      expect.objectContaining({
        trace_id: TRACE.toString(),
        root_service: 'web',
        root_name: 'GET /checkout',
        span_count: 12,
        error_count: 1,
        duration_ms: 130,
        matched_span: { span_id: '109', span_id_hex: '000000000000006d', service: 'cache', name: 'GET session', duration_ms: 3 },
      }),
    ]);
  });

  it('keeps tenants apart', async () => {
    const r = await get<SearchBody>('/v1/traces?limit=1000', GLOBEX);
    expect(r.body.traces.map((t) => [t.trace_id, t.root_name, t.span_count])).toEqual([
      [GLOBEX_ONLY.toString(), 'GET /globex-only', 1],
      [TRACE.toString(), 'GET /globex', 1],
    ]);
  });

  it('refuses bad parameters with a coded 400 naming the field', async () => {
    for (const [q, field] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['min_duration=abc', 'min_duration'],
      ['max_duration=-5ms', 'max_duration'],
      ['min_duration=2s&max_duration=1s', 'min_duration'],
      ['tag=novalue', 'tag'],
      ['tag=:v', 'tag'],
      ['error=maybe', 'error'],
      ['from=soon', 'from'],
      ['from=now&to=now-1h', 'from'],
      ['servce=web', 'servce'],
    ]) {
      const r = await get<ErrorBody>(`/v1/traces?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('QUERY_ERR_BAD_REQUEST');
      expect(r.body.error.reason, q).toContain(field);
    }
  });
});
