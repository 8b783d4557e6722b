/**
 * The OpenTelemetry JS SDK, unchanged, sending to the gateway with its own
 * OTLP exporters: HTTP/protobuf, HTTP/JSON and gRPC, for traces, logs and
 * metrics. Every count, 128-bit id, attribute and value is read back from
 * the tables and through the query API.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { SloReport } from '../../query/services/slo.js';
import type { SpanContext } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as TracesGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TracesJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { pluginSql } from './grafana-plugin-sql.js';

let aio: AllInOne;
let otlpHttp: string;
let otlpGrpc: string;

beforeAll(async () => {
  aio = await startAllInOne('otlp_sdk', {}, 100);
  otlpHttp = aio.where['otlp_http'] as string;
  otlpGrpc = `http://${aio.where['otlp_grpc'] as string}`;
}, 120_000);

afterAll(async () => {
  await aio?.close();
});

async function rows<T>(query: string): Promise<T[]> {
  const r = await aio.ch.client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } });
  return r.json<T>();
}

/** Signed Int64 text of 8 big-endian bytes given as 16 hex digits. */
const int64 = (hex: string): string => BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();

type Transport = 'proto' | 'json' | 'grpc';

function exporters(t: Transport): { traces: SpanExporter; logs: LogRecordExporter; metrics: PushMetricExporter } {
  const delta = { temporalityPreference: AggregationTemporalityPreference.DELTA };
  if (t === 'proto')
    return {
      traces: new TracesProto({ url: `${otlpHttp}/v1/traces` }),
      logs: new LogsProto({ url: `${otlpHttp}/v1/logs` }),
      metrics: new MetricsProto({ url: `${otlpHttp}/v1/metrics`, ...delta }),
    };
  if (t === 'json')
    return {
      traces: new TracesJson({ url: `${otlpHttp}/v1/traces` }),
      logs: new LogsJson({ url: `${otlpHttp}/v1/logs` }),
      metrics: new MetricsJson({ url: `${otlpHttp}/v1/metrics`, ...delta }),
    };
  return {
    traces: new TracesGrpc({ url: otlpGrpc }),
    logs: new LogsGrpc({ url: otlpGrpc }),
    metrics: new MetricsGrpc({ url: otlpGrpc, ...delta }),
  };
}

interface Sent {
  service: string;
  root: SpanContext;
  child: SpanContext;
  grandchild: SpanContext;
  observations: number[];
}

/** What each transport sends: one trace of three spans, three log records, a counter and a histogram. */
async function send(t: Transport): Promise<Sent> {
  const service = `otlp-sdk-${t}`;
  const resource = resourceFromAttributes({ 'service.name': service, 'deployment.environment': 'test', 'host.cores': 8 });
  const ex = exporters(t);

  const tracer = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(ex.traces)] });
  const tr = tracer.getTracer('sdk-test-scope', '1.2.3');
  const root = tr.startSpan('GET /orders', {
    kind: SpanKind.SERVER,
    startTime: new Date(Date.now() - 1000),
    attributes: { 'http.method': 'GET', 'http.status_code': 200, ratio: 0.25, cached: false, tags: ['a', 'b'], codes: [1, 2] },
  });
  const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
  const child = tr.startSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'clickhouse' } }, rootCtx);
  child.addEvent('rows read', { rows: 42 });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
  const grandchild = tr.startSpan('decode', { links: [{ context: root.spanContext(), attributes: { why: 'follows' } }] }, trace.setSpan(rootCtx, child));
  grandchild.end();
  child.end();
  root.end();
  await tracer.forceFlush();
  await tracer.shutdown();

  const logs = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: ex.logs })] });
  const logger = logs.getLogger('sdk-test-scope', '1.2.3');
  logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: `order accepted via ${t}`, attributes: { order: 7 }, context: rootCtx });
  logger.emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: { msg: 'failed', code: 3 }, context: trace.setSpan(rootCtx, child) });
  logger.emit({ severityNumber: SeverityNumber.WARN, body: 'no trace here', attributes: { list: [true, false] } });
  await logs.forceFlush();
  await logs.shutdown();

  const reader = new PeriodicExportingMetricReader({ exporter: ex.metrics, exportIntervalMillis: 3_600_000 });
  // An exponential histogram too (a view): its count must be zero_count plus its buckets, as the gateway checks.
  const meters = new MeterProvider({
    resource,
    readers: [reader],
    views: [{ instrumentName: 'otlp.sdk.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = meters.getMeter('sdk-test-scope', '1.2.3');
  const counter = meter.createCounter('otlp.sdk.requests');
  counter.add(3, { route: '/orders' });
  counter.add(4, { route: '/orders' });
  counter.add(5, { route: '/users' });
  const histogram = meter.createHistogram('otlp.sdk.latency', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 20, 50, 100, 200, 500, 1000] } });
  const observations = Array.from({ length: 200 }, (_, i) => 5 + ((i * 37) % 600));
  for (const v of observations) histogram.record(v);
  // Zeros fall in the zero bucket; NaN and infinities are not counted by the SDK.
  const exponential = meter.createHistogram('otlp.sdk.exp', { unit: 'ms' });
  for (const v of [0, 0, ...observations, Number.NaN, Number.POSITIVE_INFINITY]) exponential.record(v);
  await meters.forceFlush();
  await meters.shutdown();
  return { service, root: root.spanContext(), child: child.spanContext(), grandchild: grandchild.spanContext(), observations };
}

const sent = new Map<Transport, Sent>();

describe.each(['proto', 'json', 'grpc'] as const)('the OpenTelemetry JS SDK over OTLP %s', (t) => {
  beforeAll(async () => {
    sent.set(t, await send(t));
  }, 60_000);

  it('writes its three spans with all 128 bits of the trace id, kinds, status, attributes, events and links', async () => {
    const s = sent.get(t) as Sent;
    const spans = await rows<{
      trace_id: string;
      trace_id_high: string;
      span_id: string;
      parent_id: string;
      name: string;
      error: boolean;
      tags: Record<string, string>;
    }>(
      `SELECT toString(trace_id) AS trace_id, toString(trace_id_high) AS trace_id_high, toString(span_id) AS span_id, toString(parent_id) AS parent_id,
              toString(name) AS name, error, tags FROM ${aio.ch.database}.spans WHERE service = '${s.service}' ORDER BY start, span_id`,
    );
    expect(spans.map((r) => r.name).sort()).toEqual(['GET /orders', 'SELECT orders', 'decode']);
    const traceHex = s.root.traceId;
    for (const r of spans) {
      expect(r.trace_id_high).toBe(int64(traceHex.slice(0, 16)));
      expect(r.trace_id).toBe(int64(traceHex.slice(16)));
    }
    const byName = new Map(spans.map((r) => [r.name, r]));
    const root = byName.get('GET /orders');
    const child = byName.get('SELECT orders');
    expect(root?.span_id).toBe(int64(s.root.spanId));
    expect(root?.parent_id).toBe('0');
    expect(child?.parent_id).toBe(int64(s.root.spanId));
    expect(byName.get('decode')?.parent_id).toBe(int64(s.child.spanId));
    expect(root?.tags).toMatchObject({
      'http.method': 'GET',
      'http.status_code': '200',
      ratio: '0.25',
      cached: 'false',
      tags: '["a","b"]',
      codes: '[1,2]',
      'otel.span_kind': 'Server',
      'otel.resource.deployment.environment': 'test',
      'otel.resource.host.cores': '8',
      'otel.scope.name': 'sdk-test-scope',
      'otel.scope.version': '1.2.3',
    });
    expect(root?.error).toBe(false);
    expect(child?.error).toBe(true);
    expect(child?.tags).toMatchObject({ 'otel.span_kind': 'Client', 'otel.status_code': 'Error', 'otel.status_message': 'timeout', 'db.system': 'clickhouse' });
    const links = JSON.parse(byName.get('decode')?.tags['otel.links'] ?? '[]') as Array<{
      trace_id: string;
      span_id: string;
      attributes: Record<string, string>;
    }>;
    expect(links).toEqual([{ trace_id: traceHex, span_id: s.root.spanId, trace_state: '', attributes: { why: 'follows' } }]);
    const events = await rows<{ body: string; attributes: Record<string, string>; span_id: string }>(
      `SELECT body, attributes, toString(span_id) AS span_id FROM ${aio.ch.database}.logs WHERE service = '${s.service}' AND attributes['otel.span_event'] = 'true'`,
    );
    expect(events).toEqual([
      { body: 'rows read', attributes: expect.objectContaining({ rows: '42', 'otel.span_event': 'true' }), span_id: int64(s.child.spanId) },
    ]);
  });

  it('marks its SERVER span, not its CLIENT or INTERNAL ones, as an indicator span: GET /v1/slo measures the service on it', async () => {
    const s = sent.get(t) as Sent;
    const spans = await rows<{ name: string; indicator: boolean }>(
      `SELECT toString(name) AS name, indicator FROM ${aio.ch.database}.spans WHERE service = '${s.service}' ORDER BY name`,
    );
    expect(spans).toEqual([
      { name: 'GET /orders', indicator: true },
      { name: 'SELECT orders', indicator: false },
      { name: 'decode', indicator: false },
    ]);
    const r = await fetch(`${aio.http}/v1/slo?service=${s.service}&windows=1h`);
    expect(r.status).toBe(200);
    const slo = (await r.json()) as SloReport;
    expect(slo.services.map((x) => x.service)).toEqual([s.service]);
    // One request (the SERVER span), not failed: its CLIENT child's error is not the service's SLI.
    expect(slo.services[0]?.windows[0]).toMatchObject({ total: 1, good: 1, bad: 0, availability: 1 });
    expect(slo.services[0]?.objectives.map((o) => o.objective)).toEqual(['GET /orders']);
  });

  it('answers the trace by its 32-hex id through GET /v1/traces, with its logs', async () => {
    const s = sent.get(t) as Sent;
    const r = await fetch(`${aio.http}/v1/traces/${s.root.traceId}`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { trace_id_128: string; span_count: number; services: string[]; logs: Array<{ body: string }> };
    expect(body.trace_id_128).toBe(s.root.traceId);
    expect(body.span_count).toBe(3);
    expect(body.services).toEqual([s.service]);
    expect(body.logs.map((l) => l.body).sort()).toEqual([`order accepted via ${t}`, '{"msg":"failed","code":3}', 'rows read'].sort());
    // Another trace with the same low 64 bits but other high bits is not this one.
    const other = `${(BigInt(`0x${s.root.traceId.slice(0, 16)}`) ^ 1n).toString(16).padStart(16, '0')}${s.root.traceId.slice(16)}`;
    expect((await fetch(`${aio.http}/v1/traces/${other}`)).status).toBe(404);
  });

  it('writes its log records with severity, body of any type, attributes, trace and span ids and observed time', async () => {
    const s = sent.get(t) as Sent;
    const logs = await rows<{
      body: string;
      severity_number: number;
      trace_id: string;
      trace_id_high: string;
      span_id: string;
      attributes: Record<string, string>;
    }>(
      `SELECT body, severity_number, toString(trace_id) AS trace_id, toString(trace_id_high) AS trace_id_high, toString(span_id) AS span_id, attributes
         FROM ${aio.ch.database}.logs WHERE service = '${s.service}' AND attributes['otel.span_event'] = '' ORDER BY severity_number`,
    );
    expect(logs.map((l) => [l.body, l.severity_number])).toEqual([
      [`order accepted via ${t}`, 9],
      ['no trace here', 13],
      ['{"msg":"failed","code":3}', 17],
    ]);
    const [info, warn, error] = logs;
    expect(info?.trace_id).toBe(int64(s.root.traceId.slice(16)));
    expect(info?.trace_id_high).toBe(int64(s.root.traceId.slice(0, 16)));
    expect(info?.span_id).toBe(int64(s.root.spanId));
    expect(info?.attributes).toMatchObject({ order: '7', 'otel.severity_text': 'INFO', 'otel.scope.name': 'sdk-test-scope' });
    expect(Number(info?.attributes['otel.observed_time_unix_nano'])).toBeGreaterThan(1.7e18);
    expect(error?.span_id).toBe(int64(s.child.spanId));
    expect(warn?.trace_id).toBe('0');
    expect(warn?.attributes['list']).toBe('[true,false]');
  });

  it('writes the counter exactly and the histogram into the rollups, percentiles within the documented bound', async () => {
    const s = sent.get(t) as Sent;
    const counters = await rows<{ route: string; total: number }>(
      `SELECT tags['route'] AS route, sum(value) AS total FROM ${aio.ch.database}.samples WHERE name = 'otlp.sdk.requests' AND service = '${s.service}' GROUP BY route ORDER BY route`,
    );
    expect(counters).toEqual([
      { route: '/orders', total: 7 },
      { route: '/users', total: 5 },
    ]);
    const [count] = await rows<{ v: number }>(
      `SELECT sum(value) AS v FROM ${aio.ch.database}.samples WHERE name = 'otlp.sdk.latency.count' AND service = '${s.service}'`,
    );
    const [sum] = await rows<{ v: number }>(
      `SELECT sum(value) AS v FROM ${aio.ch.database}.samples WHERE name = 'otlp.sdk.latency.sum' AND service = '${s.service}'`,
    );
    expect(count?.v).toBe(s.observations.length);
    expect(sum?.v).toBe(s.observations.reduce((a, b) => a + b, 0));
    // The exponential histogram is taken whole: a sample per observation (two zeros more), and its count.
    const [exp] = await rows<{ samples: string; count: number }>(
      `SELECT countIf(name = 'otlp.sdk.exp') AS samples, sumIf(value, name = 'otlp.sdk.exp.count') AS count FROM ${aio.ch.database}.samples WHERE service = '${s.service}'`,
    );
    expect(exp).toEqual({ samples: String(s.observations.length + 2), count: s.observations.length + 2 });
    const exact = [...s.observations].sort((a, b) => a - b);
    const bounds = [0, 10, 20, 50, 100, 200, 500, 1000, Number.POSITIVE_INFINITY];
    const [p] = await rows<{ p50: number; p90: number; p99: number }>(
      `SELECT quantileDDMerge(0.01, 0.5)(quantiles) AS p50, quantileDDMerge(0.01, 0.9)(quantiles) AS p90, quantileDDMerge(0.01, 0.99)(quantiles) AS p99
         FROM ${aio.ch.database}.metrics_1m WHERE name = 'otlp.sdk.latency' AND service = '${s.service}'`,
    );
    for (const [q, got] of [
      [0.5, p?.p50],
      [0.9, p?.p90],
      [0.99, p?.p99],
    ] as const) {
      const truth = exact[Math.floor(q * (exact.length - 1))] as number;
      // docs/otlp.md: within half the width of the true value's bucket narrowed to [min, max], plus the sketch's 1 %.
      const i = bounds.findIndex((b) => truth <= b);
      const lo = Math.max(bounds[i - 1] as number, Math.min(...exact));
      const hi = Math.min(bounds[i] as number, Math.max(...exact));
      expect(Math.abs((got ?? 0) - truth), `p${q * 100}: ${got} vs ${truth}`).toBeLessThanOrEqual((hi - lo) / 2 + 0.01 * truth + 1e-9);
    }
  });
});

/** POST /v1/sql, as a tool pointed at our database runs its queries. */
async function sql<T>(query: string): Promise<T[]> {
  const r = await fetch(`${aio.http}/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: query }) });
  const body = (await r.json()) as { data?: T[]; error?: unknown };
  expect(r.status, JSON.stringify(body.error)).toBe(200);
  return body.data ?? [];
}

describe('the OTel views answer the queries OTel tools run, as our endpoints do', () => {
  it('trace by id (Grafana ClickHouse plugin trace view)', async () => {
    const s = sent.get('grpc') as Sent;
    const spans = await sql<{
      SpanId: string;
      ParentSpanId: string;
      ServiceName: string;
      SpanName: string;
      SpanKind: string;
      StatusCode: string;
      Duration: string;
    }>(
      `SELECT SpanId, ParentSpanId, ServiceName, SpanName, SpanKind, StatusCode, Duration, SpanAttributes, ResourceAttributes, \`Links.TraceId\`
         FROM otel_traces WHERE TraceId = '${s.root.traceId}' ORDER BY Timestamp`,
    );
    const api = (await (await fetch(`${aio.http}/v1/traces/${s.root.traceId}`)).json()) as { span_count: number; spans: Array<{ span_id_hex: string }> };
    expect(spans.length).toBe(api.span_count);
    expect(spans.map((r) => r.SpanId).sort()).toEqual([s.root.spanId, s.child.spanId, s.grandchild.spanId].sort());
    expect(spans.find((r) => r.SpanId === s.child.spanId)).toMatchObject({
      ParentSpanId: s.root.spanId,
      SpanKind: 'Client',
      StatusCode: 'Error',
      ServiceName: s.service,
    });
    const [root] = await sql<{ SpanAttributes: Record<string, string>; ResourceAttributes: Record<string, string>; ScopeName: string }>(
      `SELECT SpanAttributes, ResourceAttributes, ScopeName FROM otel_traces WHERE TraceId = '${s.root.traceId}' AND ParentSpanId = ''`,
    );
    expect(root?.ScopeName).toBe('sdk-test-scope');
    expect(root?.ResourceAttributes).toEqual({ 'service.name': s.service, 'deployment.environment': 'test', 'host.cores': '8' });
    expect(root?.SpanAttributes).toEqual({
      'http.method': 'GET',
      'http.status_code': '200',
      ratio: '0.25',
      cached: 'false',
      tags: '["a","b"]',
      codes: '[1,2]',
    });
    const [decode] = await sql<{ links: string[] }>(
      `SELECT \`Links.SpanId\` AS links FROM otel_traces WHERE SpanName = 'decode' AND ServiceName = '${s.service}'`,
    );
    expect(decode?.links).toEqual([s.root.spanId]);
  });

  it('service list', async () => {
    const services = await sql<{ ServiceName: string }>(
      "SELECT DISTINCT ServiceName FROM otel_traces WHERE ServiceName LIKE 'otlp-sdk-%' ORDER BY ServiceName",
    );
    expect(services.map((r) => r.ServiceName)).toEqual(['otlp-sdk-grpc', 'otlp-sdk-json', 'otlp-sdk-proto']);
  });

  it('log search by body', async () => {
    const found = await sql<{ Body: string; TraceId: string; ServiceName: string; SeverityText: string }>(
      "SELECT Timestamp, Body, TraceId, ServiceName, SeverityText FROM otel_logs WHERE Body ILIKE '%order accepted%' ORDER BY ServiceName",
    );
    const api = (await (await fetch(`${aio.http}/v1/logs?q=accepted&from=now-1h`)).json()) as { logs: Array<{ body: string; trace_id_128: string }> };
    expect(found.length).toBe(3);
    expect(found.map((r) => r.Body).sort()).toEqual(api.logs.map((l) => l.body).sort());
    expect(found.map((r) => r.TraceId).sort()).toEqual(api.logs.map((l) => l.trace_id_128).sort());
    expect(found.find((r) => r.ServiceName === 'otlp-sdk-proto')).toMatchObject({ SeverityText: 'INFO', TraceId: (sent.get('proto') as Sent).root.traceId });
  });

  it('a metric time series', async () => {
    const series = await sql<{ route: string; total: number; monotonic: boolean; temporality: number }>(
      `SELECT Attributes['route'] AS route, sum(Value) AS total, any(IsMonotonic) AS monotonic, any(AggregationTemporality) AS temporality
         FROM otel_metrics_sum WHERE MetricName = 'otlp.sdk.requests' AND ServiceName = 'otlp-sdk-json' GROUP BY route ORDER BY route`,
    );
    expect(series).toEqual([
      { route: '/orders', total: 7, monotonic: true, temporality: 1 },
      { route: '/users', total: 5, monotonic: true, temporality: 1 },
    ]);
    const api = (await (
      await fetch(`${aio.http}/v1/metrics/query?name=otlp.sdk.requests&agg=sum&step=1h&from=now-2h&tag=otel.resource.service.name:otlp-sdk-json&group_by=route`)
    ).json()) as { series: Array<{ tags: Record<string, string>; points: Array<[string, number | null]> }> };
    const totals = Object.fromEntries(api.series.map((x) => [x.tags['route'], x.points.reduce((a, [, v]) => a + (v ?? 0), 0)]));
    expect(totals).toEqual(Object.fromEntries(series.map((r) => [r.route, r.total])));
    const [h] = await sql<{ Count: string; Sum: number }>(
      "SELECT sum(Count) AS Count, sum(Sum) AS Sum FROM otel_metrics_histogram WHERE MetricName = 'otlp.sdk.latency' AND ServiceName = 'otlp-sdk-proto'",
    );
    expect(Number(h?.Count)).toBe((sent.get('proto') as Sent).observations.length);
  });
});

/** A span of GET /v1/traces/{id} with its children. */
interface ApiSpan {
  span_id_hex: string;
  parent_id: string;
  service: string;
  name: string;
  start: string;
  duration_ms: number;
  children: ApiSpan[];
}

/** GET /v1/traces/{id}: the trace and its spans, flattened. */
async function apiTrace(
  id: string,
): Promise<{ start: string; end: string; spans: ApiSpan[]; logs: Array<{ body: string; severity: string; attributes: Record<string, string> }> }> {
  const r = await fetch(`${aio.http}/v1/traces/${id}`);
  expect(r.status).toBe(200);
  const body = (await r.json()) as {
    start: string;
    end: string;
    spans: ApiSpan[];
    logs: Array<{ body: string; severity: string; attributes: Record<string, string> }>;
  };
  const flat = (s: ApiSpan): ApiSpan[] => [s, ...s.children.flatMap(flat)];
  return { ...body, spans: body.spans.flatMap(flat) };
}

/** `YYYY-MM-DD hh:mm:ss` of an RFC 3339 time, the second it falls in: how ClickHouse writes a DateTime. */
const dateTimeText = (rfc3339: string): string => rfc3339.replace('T', ' ').slice(0, 19);

describe("the Grafana ClickHouse data source's own SQL on the OTel views (test/otlp/grafana-plugin-sql.ts)", () => {
  const from = new Date(Date.now() - 3_600_000);
  const to = new Date(Date.now() + 600_000);

  it('trace by id through otel_traces_trace_id_ts (the trace view): the spans of GET /v1/traces/{id}, as without the companion', async () => {
    const s = sent.get('grpc') as Sent;
    const database = aio.ch.database;
    const api = await apiTrace(s.root.traceId);
    // The companion: the trace's range, in whole seconds as the exporter's table has it.
    const [range] = await sql<{ Start: string; End: string; n: string }>(
      `SELECT min(Start) AS Start, max(End) AS End, count() AS n FROM otel_traces_trace_id_ts WHERE TraceId = '${s.root.traceId}'`,
    );
    expect(range).toEqual({ Start: dateTimeText(api.start), End: dateTimeText(api.end), n: '1' });

    type Row = {
      traceID: string;
      spanID: string;
      parentSpanID: string;
      serviceName: string;
      operationName: string;
      startTime: number;
      duration: number;
      kind: string;
      statusCode: number;
    };
    const optimized = await sql<Row>(pluginSql('traceByIdWithCompanion', { database, traceId: s.root.traceId }));
    const plain = await sql<Row>(pluginSql('traceByIdPlain', { database, traceId: s.root.traceId }));
    const bySpan = (rows: Row[]): Row[] => [...rows].sort((a, b) => a.spanID.localeCompare(b.spanID));
    expect(bySpan(optimized)).toEqual(bySpan(plain));
    expect(optimized.map((r) => r.spanID).sort()).toEqual(api.spans.map((x) => x.span_id_hex).sort());
    for (const span of api.spans) {
      const row = optimized.find((r) => r.spanID === span.span_id_hex);
      expect(row).toMatchObject({ traceID: s.root.traceId, serviceName: span.service, operationName: span.name });
      expect(row?.parentSpanID).toBe(span.parent_id === '0' ? '' : BigInt.asUintN(64, BigInt(span.parent_id)).toString(16).padStart(16, '0'));
      expect(row?.startTime).toBeCloseTo(Date.parse(span.start), -1);
      expect(row?.duration).toBeCloseTo(span.duration_ms, 6);
    }
    expect(optimized.find((r) => r.spanID === s.child.spanId)).toMatchObject({ kind: 'Client', statusCode: 2 });
    // The high 64 bits are part of the id: the same low bits under other high bits are another trace.
    const other = `${(BigInt(`0x${s.root.traceId.slice(0, 16)}`) ^ 1n).toString(16).padStart(16, '0')}${s.root.traceId.slice(16)}`;
    expect(await sql(pluginSql('traceByIdWithCompanion', { database, traceId: other }))).toEqual([]);
  });

  it('logs of a trace (its "View logs" link): the logs of GET /v1/traces/{id} but span events, with their levels', async () => {
    const s = sent.get('proto') as Sent;
    const found = await sql<{ body: string; level: string; traceID: string }>(
      pluginSql('logsByTraceId', { database: aio.ch.database, traceId: s.root.traceId }),
    );
    const api = await apiTrace(s.root.traceId);
    const records = api.logs.filter((l) => l.attributes['otel.span_event'] !== 'true');
    expect(found.map((r) => [r.body, r.level])).toEqual(records.map((l) => [l.body, l.severity.toUpperCase()]));
    expect(found.map((r) => r.traceID)).toEqual(records.map(() => s.root.traceId));
  });

  it('trace search and the service list', async () => {
    const s = sent.get('json') as Sent;
    const found = await sql<{ traceID: string; serviceName: string; operationName: string; duration: number }>(
      pluginSql('traceSearch', { database: aio.ch.database, service: s.service, from, to }),
    );
    const api = (await (await fetch(`${aio.http}/v1/traces?service=${s.service}&from=now-1h`)).json()) as {
      traces: Array<{ trace_id_hex: string; root_service: string; root_name: string; duration_ms: number }>;
    };
    expect(found.map((r) => [r.traceID.slice(16), r.serviceName, r.operationName])).toEqual(
      api.traces.map((x) => [x.trace_id_hex, x.root_service, x.root_name]),
    );
    expect(found.map((r) => r.traceID)).toEqual([s.root.traceId]);
    const services = await sql<{ ServiceName: string }>(pluginSql('serviceList', { database: aio.ch.database }));
    const stored = await rows<{ service: string }>(`SELECT DISTINCT toString(service) AS service FROM ${aio.ch.database}.spans`);
    expect(services.map((r) => r.ServiceName).sort()).toEqual(stored.map((r) => r.service).sort());
    expect(services.map((r) => r.ServiceName)).toEqual(expect.arrayContaining(['otlp-sdk-grpc', 'otlp-sdk-json', 'otlp-sdk-proto']));
  });

  it('the log volume histogram counts every log record by level, as GET /v1/logs', async () => {
    type Bucket = Record<'critical' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'unknown', string>;
    const buckets = await sql<Bucket>(pluginSql('logVolume', { database: aio.ch.database, from, to }));
    const total = (level: keyof Bucket): number => buckets.reduce((n, b) => n + Number(b[level]), 0);
    const api = (await (await fetch(`${aio.http}/v1/logs?from=now-1h&limit=1000`)).json()) as {
      logs: Array<{ severity: string; attributes: Record<string, string> }>;
    };
    const records = api.logs.filter((l) => l.attributes['otel.span_event'] !== 'true');
    const count = (severity: string): number => records.filter((l) => l.severity === severity).length;
    // WARN came without a severity text (only its number): counted from our severity.
    expect({ error: total('error'), warn: total('warn'), info: total('info') }).toEqual({ error: count('error'), warn: count('warn'), info: count('info') });
    expect(total('warn')).toBe(3);
  });
});

describe('OTLP self-telemetry', () => {
  it('counts requests and items per transport and signal on /metrics', async () => {
    const text = await (await fetch(`${aio.http}/metrics`)).text();
    for (const transport of ['http', 'grpc']) {
      for (const signal of ['traces', 'logs', 'metrics'])
        expect(text, `${transport} ${signal}`).toMatch(
          new RegExp(`ssf_gateway_otlp_requests_total\\{transport="${transport}",signal="${signal}",code="OK"\\} [1-9]`),
        );
    }
    expect(text).toMatch(/ssf_gateway_otlp_items_total\{transport="grpc",signal="traces",outcome="accepted"\} 3/);
  });
});
