/**
 * The OpenTelemetry Collector itself (built from the Go module proxy,
 * test/setup/otel-collector.ts) between a client and the gateway: the JS SDK
 * sends to the Collector's OTLP receiver, the Collector batches and exports
 * to our OTLP listeners (gRPC, then HTTP/protobuf with gzip), and every span,
 * log record and counter arrives with its 128-bit ids and attributes.
 */
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net/free-port.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { forwardingConfig, startOtelCollector } from '../setup/otel-collector.js';

let aio: AllInOne;

beforeAll(async () => {
  aio = await startAllInOne('otlp_otelcol', {}, 100);
}, 120_000);

afterAll(async () => {
  await aio?.close();
});

const int64 = (hex: string): string => BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.each(['grpc', 'http'] as const)('the OpenTelemetry Collector exporting to the gateway over OTLP %s', (protocol) => {
  it('forwards the SDK’s spans, logs and counter, every id and attribute intact', async () => {
    const httpPort = await freePort();
    const endpoint = protocol === 'grpc' ? (aio.where['otlp_grpc'] as string) : (aio.where['otlp_http'] as string);
    const collector = await startOtelCollector({ config: forwardingConfig({ protocol, endpoint, httpPort, batchTimeout: '100ms' }), readyPorts: [httpPort] });
    try {
      const service = `otelcol-${protocol}`;
      const base = `http://127.0.0.1:${httpPort}`;
      const resource = resourceFromAttributes({ 'service.name': service, 'k8s.pod.name': 'pod-1' });
      const tracer = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))] });
      const tr = tracer.getTracer('via-collector');
      const root = tr.startSpan('checkout', { kind: SpanKind.SERVER, attributes: { 'cart.items': 3 } });
      const ctx = trace.setSpan(ROOT_CONTEXT, root);
      const spans = [root, ...Array.from({ length: 9 }, (_, i) => tr.startSpan(`step ${i}`, {}, ctx))];
      for (const s of spans.slice(1)) s.end();
      root.end();
      await tracer.shutdown();
      const logs = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${base}/v1/logs` }) })] });
      for (let i = 0; i < 5; i++) logs.getLogger('via-collector').emit({ severityNumber: SeverityNumber.WARN, body: `line ${i}`, context: ctx });
      await logs.shutdown();
      const meters = new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, temporalityPreference: AggregationTemporalityPreference.DELTA }),
            exportIntervalMillis: 3_600_000,
          }),
        ],
      });
      meters.getMeter('via-collector').createCounter('otelcol.forwarded').add(11, { path: '/cart' });
      await meters.shutdown();

      const db = aio.ch.database;
      const query = async <T>(sql: string): Promise<T[]> =>
        (await aio.ch.client.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } })).json<T>();
      const traceId = root.spanContext().traceId;
      const got = await until(
        () =>
          query<{ n: string; high: string; low: string; pods: string[] }>(
            `SELECT toString(count()) AS n, toString(any(trace_id_high)) AS high, toString(any(trace_id)) AS low, groupUniqArray(tags['otel.resource.k8s.pod.name']) AS pods FROM ${db}.spans WHERE service = '${service}'`,
          ),
        (r) => r[0]?.n === '10',
      );
      expect(got[0]).toEqual({ n: '10', high: int64(traceId.slice(0, 16)), low: int64(traceId.slice(16)), pods: ['pod-1'] });
      const logRows = await until(
        () => query<{ body: string; span_id: string }>(`SELECT body, toString(span_id) AS span_id FROM ${db}.logs WHERE service = '${service}' ORDER BY body`),
        (r) => r.length === 5,
      );
      expect(logRows).toEqual(Array.from({ length: 5 }, (_, i) => ({ body: `line ${i}`, span_id: int64(root.spanContext().spanId) })));
      const counter = await until(
        () => query<{ v: number }>(`SELECT sum(value) AS v FROM ${db}.samples WHERE name = 'otelcol.forwarded' AND service = '${service}'`),
        (r) => r[0]?.v === 11,
      );
      expect(counter[0]?.v).toBe(11);
      const api = (await (await fetch(`${aio.http}/v1/traces/${traceId}`)).json()) as { span_count: number; trace_id_128: string };
      expect(api, JSON.stringify(api)).toMatchObject({ span_count: 10, trace_id_128: traceId });
    } finally {
      await collector.stop();
    }
  }, 120_000);
});
