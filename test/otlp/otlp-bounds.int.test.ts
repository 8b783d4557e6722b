/**
 * What one OTLP request may cost, through the real gateway over HTTP and
 * gRPC: a small request that would expand into huge SSF (resource
 * attributes copied into every span, histogram points into 1,026 samples)
 * is refused with 413 / RESOURCE_EXHAUSTED under the default bounds; a
 * request larger than the sink's whole buffer is 413 (never "retry"), for
 * /v1/ssf too; a full buffer is 429 and a failing backend 503. Also: a span
 * whose own times are refused is counted as rejected, and a truncated
 * protobuf string is a 400 on every path.
 */
import { connect } from 'node:http2';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../ingest/gateway/gateway.js';
import type { Gateway } from '../../ingest/gateway/gateway.js';
import { ExportMetricsServiceRequest, ExportTraceServiceRequest, ExportTraceServiceResponse, RpcStatus } from '../../ingest/otlp/otlp-messages.js';
import { ClickHouseSink } from '../../ingest/sink/clickhouse-sink.js';
import { KafkaThreadSink } from '../../ingest/sink/kafka-thread-sink.js';
import { createClickHouse } from '../../src/clickhouse/create-client.js';
import { encodeBatch } from '../../src/codec/index.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startAllInOne } from '../ingest/all-in-one.js';
import type { AllInOne } from '../ingest/all-in-one.js';
import { freshTopic } from '../ingest/kafka-reader.js';
import { kafkaBrokers } from '../setup/services.js';

const NOW = BigInt(Date.now()) * 1_000_000n;
const MS = 1_000_000n;
const PROTOBUF = { 'content-type': 'application/x-protobuf' };

type Json = Record<string, unknown>;

function attr(key: string, value: string): Json {
  return { key, value: { stringValue: value } };
}

/** Span `i` of a trace per 10 spans (ids as bytes, for fromObject). */
function span(i: number, fields: Json = {}): Json {
  const trace = Buffer.alloc(16, 0x11);
  trace.writeUInt32BE(1 + Math.floor(i / 10), 12);
  const id = Buffer.alloc(8, 0x22);
  id.writeUInt32BE(i + 1, 4);
  return { traceId: trace, spanId: id, name: `op ${i}`, kind: 2, startTimeUnixNano: String(NOW - MS), endTimeUnixNano: String(NOW), ...fields };
}

function traces(service: string, spans: Json[], resource: Json[] = []): Uint8Array {
  return ExportTraceServiceRequest.encode(
    ExportTraceServiceRequest.fromObject({
      resourceSpans: [{ resource: { attributes: [attr('service.name', service), ...resource] }, scopeSpans: [{ scope: { name: 'test' }, spans }] }],
    }),
  ).finish();
}

/** The same request as OTLP/JSON (hex ids): the general path. */
function tracesJson(service: string, spans: Json[], resource: Json[] = []): string {
  const hexIds = spans.map((s) => ({ ...s, traceId: (s['traceId'] as Buffer).toString('hex'), spanId: (s['spanId'] as Buffer).toString('hex') }));
  return JSON.stringify({
    resourceSpans: [{ resource: { attributes: [attr('service.name', service), ...resource] }, scopeSpans: [{ scope: { name: 'test' }, spans: hexIds }] }],
  });
}

/** The reviewer's request: one resource with 20 attributes of 10 KB, 500 minimal spans (226 KB, 100 MB of SSF unbounded). */
function attributeBomb(): { spans: Json[]; resource: Json[] } {
  const resource = Array.from({ length: 20 }, (_, k) => attr(`big.${k}`, String.fromCharCode(97 + k).repeat(10_000)));
  return { spans: Array.from({ length: 500 }, (_, i) => span(i)), resource };
}

/** The reviewer's metrics request: 2,000 delta histogram points {count 1024, bucket_counts [1024]} (2,052,000 samples unbounded). */
function histogramBomb(): Uint8Array {
  const points = Array.from({ length: 2000 }, () => ({ timeUnixNano: String(NOW), count: 1024, sum: 1024, bucketCounts: [1024] }));
  return ExportMetricsServiceRequest.encode(
    ExportMetricsServiceRequest.fromObject({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'otlp.bomb', histogram: { aggregationTemporality: 1, dataPoints: points } }] }] }],
    }),
  ).finish();
}

async function post(
  base: string,
  path: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body, headers });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), headers: r.headers };
}

interface GrpcAnswer {
  status: string;
  message: string;
  details: string | undefined;
  data: Buffer;
}

function grpcCall(address: string, signal: 'trace' | 'metrics', message: Uint8Array): Promise<GrpcAnswer> {
  const path =
    signal === 'trace' ? '/opentelemetry.proto.collector.trace.v1.TraceService/Export' : '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
  return new Promise((resolve, reject) => {
    const client = connect(`http://${address}`);
    client.on('error', reject);
    const req = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    const h: Record<string, string> = {};
    const chunks: Buffer[] = [];
    const keep = (headers: Record<string, unknown>): void => {
      for (const [k, v] of Object.entries(headers)) if (k.startsWith('grpc-')) h[k] = String(v);
    };
    req.on('response', keep);
    req.on('trailers', keep);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      client.close();
      resolve({
        status: h['grpc-status'] ?? '',
        message: decodeURIComponent(h['grpc-message'] ?? ''),
        details: h['grpc-status-details-bin'],
        data: Buffer.concat(chunks),
      });
    });
    const framed = Buffer.alloc(5 + message.length);
    framed.writeUInt32BE(message.length, 1);
    framed.set(message, 5);
    req.end(framed);
  });
}

async function metricsText(http: string): Promise<string> {
  return (await fetch(`${http}/metrics`)).text();
}

function refusedCount(text: string, protocol: string, code: string): number {
  const m = new RegExp(`ssf_gateway_refused_total\\{protocol="${protocol}",code="${code}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

describe('OTLP bounds, all-in-one (ClickHouse sink)', () => {
  let aio: AllInOne;
  let otlp: string;

  beforeAll(async () => {
    // 100 rows a batch: the writer's whole buffer is 2,000 rows (batchRows × 20).
    aio = await startAllInOne('otlp_bounds', {}, 100);
    otlp = aio.where['otlp_http'] as string;
  }, 120_000);

  afterAll(async () => {
    await aio?.close();
  });

  async function count(table: string, service: string): Promise<number> {
    const r = await aio.ch.client.query({
      query: `SELECT count() AS n FROM ${aio.ch.database}.${table} WHERE service = {s:String}`,
      query_params: { s: service },
      format: 'JSONEachRow',
    });
    return Number(((await r.json()) as Array<{ n: string }>)[0]?.n ?? 0);
  }

  it('resource attributes copied into every span past gateway.otlpMaxOutputBytes: 413 on both paths, RESOURCE_EXHAUSTED on gRPC, counted', async () => {
    const { spans, resource } = attributeBomb();
    const body = traces('otlp-bomb-attributes', spans, resource);
    const zipped = gzipSync(body);
    expect(body.length).toBeLessThan(300_000);
    expect(zipped.length).toBeLessThan(10_000);
    // Protobuf: the direct path.
    const p = await post(otlp, '/v1/traces', zipped, { ...PROTOBUF, 'content-encoding': 'gzip' });
    expect(p.status).toBe(413);
    expect(p.headers.get('retry-after')).toBeNull();
    const status = RpcStatus.decode(p.body);
    expect(status.code).toBe(8);
    expect(status.message).toMatch(
      /^OTLP_ERR_OUTPUT_TOO_LARGE: the traces export request makes more than .* gateway.otlpMaxOutputBytes \(67108864\) bytes of SSF/,
    );
    // JSON: the general path, the same refusal.
    const j = await post(otlp, '/v1/traces', gzipSync(tracesJson('otlp-bomb-attributes', spans, resource)), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(j.status).toBe(413);
    expect(JSON.parse(j.body.toString())).toMatchObject({ code: 8, message: expect.stringMatching(/^OTLP_ERR_OUTPUT_TOO_LARGE/) });
    // gRPC: RESOURCE_EXHAUSTED without RetryInfo (the OTLP specification: not retried).
    const g = await grpcCall(aio.where['otlp_grpc'] as string, 'trace', body);
    expect(g.status).toBe('8');
    expect(g.message).toMatch(/^OTLP_ERR_OUTPUT_TOO_LARGE/);
    expect(g.details).toBeUndefined();
    expect(await count('spans', 'otlp-bomb-attributes')).toBe(0);
    const text = await metricsText(aio.http);
    expect(refusedCount(text, 'otlp_http', 'OTLP_ERR_OUTPUT_TOO_LARGE')).toBeGreaterThanOrEqual(2);
    expect(refusedCount(text, 'otlp_grpc', 'OTLP_ERR_OUTPUT_TOO_LARGE')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/ssf_gateway_otlp_requests_total\{transport="http",signal="traces",code="OTLP_ERR_OUTPUT_TOO_LARGE"\} [2-9]/);
  }, 60_000);

  it('histogram points past gateway.otlpMaxEvents samples: 413 / RESOURCE_EXHAUSTED, nothing stored', async () => {
    const body = histogramBomb();
    expect(body.length).toBeLessThan(80_000);
    const p = await post(otlp, '/v1/metrics', body, PROTOBUF);
    expect(p.status).toBe(413);
    expect(RpcStatus.decode(p.body).message).toMatch(
      /^OTLP_ERR_OUTPUT_TOO_LARGE: the metrics export request makes more than gateway.otlpMaxEvents \(1000000\) spans, log records and samples/,
    );
    const g = await grpcCall(aio.where['otlp_grpc'] as string, 'metrics', body);
    expect(g.status).toBe('8');
    const r = await aio.ch.client.query({ query: `SELECT count() AS n FROM ${aio.ch.database}.samples WHERE name LIKE 'otlp.bomb%'`, format: 'JSONEachRow' });
    expect(Number(((await r.json()) as Array<{ n: string }>)[0]?.n)).toBe(0);
  }, 60_000);

  it('an SDK-sized batch with a real resource is far from the bounds: 200', async () => {
    const resource = Array.from({ length: 15 }, (_, k) => attr(`host.attr.${k}`, `value-${k}-${'x'.repeat(40)}`));
    const spans = Array.from({ length: 512 }, (_, i) => span(10_000 + i, { attributes: [attr('http.route', '/api/orders/{id}')] }));
    const r = await post(otlp, '/v1/traces', traces('otlp-bounds-sdk', spans, resource), PROTOBUF);
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    expect(await count('spans', 'otlp-bounds-sdk')).toBe(512);
  });

  it('more spans than the sink’s whole buffer: 413, not 503 (OTLP and /v1/ssf)', async () => {
    const spans = Array.from({ length: 2500 }, (_, i) => span(20_000 + i));
    const p = await post(otlp, '/v1/traces', traces('otlp-bounds-too-many', spans), PROTOBUF);
    expect(p.status).toBe(413);
    expect(p.headers.get('retry-after')).toBeNull();
    expect(RpcStatus.decode(p.body).message).toMatch(/^OTLP_ERR_BATCH_TOO_LARGE: the request's spans are 2500 rows, more than the sink's whole buffer/);
    const g = await grpcCall(aio.where['otlp_grpc'] as string, 'trace', traces('otlp-bounds-too-many', spans));
    expect(g.status).toBe('8');
    expect(g.details).toBeUndefined();
    const ssf = Array.from({ length: 2500 }, (_, i) =>
      spanEvent({ traceId: 7n, id: BigInt(i + 1), startTimestamp: NOW - MS, endTimestamp: NOW, service: 'ssf-bounds-too-many', name: 'x', isTrace: true }),
    );
    const s = await aio.post(ssf);
    expect(s.status).toBe(413);
    expect(s.headers.get('retry-after')).toBeNull();
    expect(((await s.json()) as { error: { code: string } }).error.code).toBe('GW_ERR_BATCH_TOO_LARGE');
    // The same spans in two requests fit.
    expect((await aio.post(ssf.slice(0, 1250))).status).toBe(200);
    expect((await aio.post(ssf.slice(1250))).status).toBe(200);
    expect(await count('spans', 'otlp-bounds-too-many')).toBe(0);
    const text = await metricsText(aio.http);
    expect(refusedCount(text, 'otlp_http', 'OTLP_ERR_BATCH_TOO_LARGE')).toBe(1);
    expect(refusedCount(text, 'otlp_grpc', 'OTLP_ERR_BATCH_TOO_LARGE')).toBe(1);
    expect(refusedCount(text, 'http', 'GW_ERR_BATCH_TOO_LARGE')).toBe(1);
  }, 60_000);

  it('a span whose own times are refused, kept only as its events: counted as rejected, with the reason (protobuf and JSON)', async () => {
    const Y2000 = 946_684_800_000_000_000n;
    const cases = [
      {
        service: 'otlp-bounds-old-span',
        code: 'SSF_TIME_OUT_OF_RANGE',
        fields: { startTimeUnixNano: String(Y2000), endTimeUnixNano: String(NOW) },
      },
      {
        service: 'otlp-bounds-negative',
        code: 'SSF_SPAN_NEGATIVE_DURATION',
        fields: { startTimeUnixNano: String(NOW), endTimeUnixNano: String(NOW - 5n * MS) },
      },
    ];
    for (const c of cases) {
      for (const encoding of ['protobuf', 'json'] as const) {
        const service = `${c.service}-${encoding}`;
        const spans = [span(30_000, { ...c.fields, events: [{ timeUnixNano: String(NOW), name: 'cache miss' }] }), span(30_001)];
        const r =
          encoding === 'protobuf'
            ? await post(otlp, '/v1/traces', traces(service, spans), PROTOBUF)
            : await post(otlp, '/v1/traces', tracesJson(service, spans), { 'content-type': 'application/json' });
        expect(r.status).toBe(200);
        const partial =
          encoding === 'protobuf'
            ? (ExportTraceServiceResponse.decode(r.body).partialSuccess ?? {})
            : (JSON.parse(r.body.toString()) as { partialSuccess: { rejectedSpans: number; errorMessage: string } }).partialSuccess;
        expect(Number(partial.rejectedSpans)).toBe(1);
        expect(partial.errorMessage).toContain(c.code);
        // The other span is stored; the refused one only as its event (a log record of a carrier).
        expect(await count('spans', service)).toBe(1);
        expect(await count('logs', service)).toBe(1);
      }
    }
  }, 60_000);

  it('a string running past the end of the body: 400 on the general path too (as on the direct path)', async () => {
    // A span whose last field is its name, declared 12 bytes long with 2 left: 2a 0c 41 42.
    const spanBytes = Buffer.concat([
      Buffer.from([0x0a, 0x10]),
      span(40_000)['traceId'] as Buffer,
      Buffer.from([0x12, 0x08]),
      span(40_000)['spanId'] as Buffer,
      Buffer.from([0x2a, 0x0c, 0x41, 0x42]),
    ]);
    // ExportTraceServiceRequest { resource_spans { scope_spans { spans <span> } } }, each length as declared by the outer messages.
    const body = Buffer.concat([Buffer.from([0x0a, spanBytes.length + 4, 0x12, spanBytes.length + 2, 0x12, spanBytes.length]), spanBytes]);
    const r = await post(otlp, '/v1/traces', body, PROTOBUF);
    expect(r.status).toBe(400);
    expect(RpcStatus.decode(r.body).message).toMatch(/^OTLP_ERR_BODY_MALFORMED: not a valid OTLP traces export request \(protobuf\): index out of range/);
  });
});

/** A "ClickHouse" that takes connections and never answers: inserts hang, the writer's buffer fills. */
function silentServer(): Promise<{ server: Server; sockets: Set<Socket>; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, sockets, port: (server.address() as { port: number }).port })));
}

async function gatewayOnClickHouse(url: string): Promise<{ gateway: Gateway; where: Record<string, string>; close: () => Promise<void> }> {
  const config = loadConfig({
    env: {
      SSF_CLICKHOUSE_URL: url,
      SSF_CLICKHOUSE_REQUEST_TIMEOUT_MS: '30000',
      SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
      SSF_GATEWAY_UDP_LISTEN: '',
      SSF_GATEWAY_STATSD_LISTEN: '',
    },
  });
  const ch = await createClickHouse(config.clickhouse);
  const sink = new ClickHouseSink(ch, { batchRows: 100, lingerMs: 5, maxBufferedRows: 2000, defaultTenant: 'default' });
  const gateway = createGateway(config, sink, { logLevel: false });
  const where = await gateway.listen();
  return {
    gateway,
    where,
    close: async () => {
      await gateway.close();
      await ch.close();
    },
  };
}

describe('OTLP answers of a sink that cannot take the data now', () => {
  it('a full buffer (too much load): 429 / RESOURCE_EXHAUSTED with Retry-After and RetryInfo', async () => {
    const silent = await silentServer();
    const g = await gatewayOnClickHouse(`http://127.0.0.1:${silent.port}`);
    try {
      const otlp = g.where['otlp_http'] as string;
      // 1,500 of the buffer's 2,000 rows wait for an insert that never comes back.
      const first = post(
        otlp,
        '/v1/traces',
        traces(
          'otlp-bounds-full',
          Array.from({ length: 1500 }, (_, i) => span(50_000 + i)),
        ),
        PROTOBUF,
      );
      first.catch(() => undefined);
      // Its insert has gone out (and hangs) once the silent server has a connection.
      for (let i = 0; i < 200 && silent.sockets.size === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(silent.sockets.size).toBeGreaterThan(0);
      const second = traces(
        'otlp-bounds-full',
        Array.from({ length: 1000 }, (_, i) => span(60_000 + i)),
      );
      const r = await post(otlp, '/v1/traces', second, PROTOBUF);
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(RpcStatus.decode(r.body).message).toMatch(/^OTLP_ERR_THROTTLED: the insert buffer is full \(2000 rows\)/);
      const c = await grpcCall(g.where['otlp_grpc'] as string, 'trace', second);
      expect(c.status).toBe('8');
      expect(c.details).toBeDefined();
      const text = await metricsText(g.where['http'] as string);
      expect(refusedCount(text, 'otlp_http', 'OTLP_ERR_THROTTLED')).toBe(1);
      expect(refusedCount(text, 'otlp_grpc', 'OTLP_ERR_THROTTLED')).toBe(1);
    } finally {
      // The hanging insert fails once its sockets are gone; then the gateway can close.
      for (const s of silent.sockets) s.destroy();
      silent.server.close();
      await g.close();
    }
  }, 60_000);

  it('a failing backend: 503 / UNAVAILABLE, also while the failure breaker holds the sink closed', async () => {
    const closed = await silentServer();
    const port = closed.port;
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    const g = await gatewayOnClickHouse(`http://127.0.0.1:${port}`);
    try {
      const otlp = g.where['otlp_http'] as string;
      const body = traces('otlp-bounds-down', [span(70_000)]);
      const first = await post(otlp, '/v1/traces', body, PROTOBUF);
      expect(first.status).toBe(503);
      expect(RpcStatus.decode(first.body).message).toMatch(/^OTLP_ERR_UNAVAILABLE: ClickHouse did not take the insert/);
      // Right after the failure the sink is not accepting (its breaker): the backend is down, not overloaded.
      const again = await post(otlp, '/v1/traces', body, PROTOBUF);
      expect(again.status).toBe(503);
      expect(again.headers.get('retry-after')).toBe('2');
      expect(RpcStatus.decode(again.body).message).toMatch(/^OTLP_ERR_UNAVAILABLE: the sink is failing/);
      const c = await grpcCall(g.where['otlp_grpc'] as string, 'trace', body);
      expect(c.status).toBe('14');
      expect(c.details).toBeDefined();
    } finally {
      await g.close();
    }
  }, 60_000);
});

describe('OTLP bounds on the Kafka sink', () => {
  let gateway: Gateway;
  let where: Record<string, string>;

  beforeAll(async () => {
    const brokers = kafkaBrokers();
    const topic = await freshTopic(brokers, 'otlp-bounds');
    const config = loadConfig({
      env: {
        SSF_KAFKA_BROKERS: brokers.join(','),
        SSF_KAFKA_SPANS_TOPIC: topic,
        SSF_KAFKA_LINGER_MS: '2',
        // A produce buffer of 256 KiB (16 MiB by default, against 64 MiB of decompressed body).
        SSF_KAFKA_BUFFER_BYTES: '262144',
        SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
        SSF_GATEWAY_UDP_LISTEN: '',
        SSF_GATEWAY_STATSD_LISTEN: '',
      },
    });
    const sink = new KafkaThreadSink(config.kafka, { quiet: true });
    await sink.connect();
    gateway = createGateway(config, sink, { logLevel: false });
    where = await gateway.listen();
  }, 120_000);

  afterAll(async () => {
    await gateway?.close();
  });

  it('a request larger than kafka.bufferBytes on its own: 413 (OTLP and /v1/ssf); a smaller one is taken', async () => {
    const resource = [attr('host.description', 'y'.repeat(1000))];
    const big = traces(
      'otlp-bounds-kafka',
      Array.from({ length: 400 }, (_, i) => span(80_000 + i)),
      resource,
    );
    const r = await post(where['otlp_http'] as string, '/v1/traces', big, PROTOBUF);
    expect(r.status).toBe(413);
    expect(RpcStatus.decode(r.body).message).toMatch(
      /^OTLP_ERR_BATCH_TOO_LARGE: the request's spans are \d+ bytes, more than the sink's whole buffer \(kafka.bufferBytes: 262144 bytes\)/,
    );
    const small = traces(
      'otlp-bounds-kafka',
      Array.from({ length: 40 }, (_, i) => span(81_000 + i)),
      resource,
    );
    expect((await post(where['otlp_http'] as string, '/v1/traces', small, PROTOBUF)).status).toBe(200);
    const ssf = Array.from({ length: 400 }, (_, i) =>
      spanEvent({
        traceId: 9n,
        id: BigInt(i + 1),
        startTimestamp: NOW - MS,
        endTimestamp: NOW,
        service: 'ssf-bounds-kafka',
        name: 'y'.repeat(1000),
        isTrace: true,
      }),
    );
    const s = await fetch(`${where['http'] as string}/v1/ssf`, { method: 'POST', body: Buffer.from(encodeBatch(ssf)), headers: PROTOBUF });
    expect(s.status).toBe(413);
    expect(((await s.json()) as { error: { code: string } }).error.code).toBe('GW_ERR_BATCH_TOO_LARGE');
    const text = await metricsText(where['http'] as string);
    expect(refusedCount(text, 'otlp_http', 'OTLP_ERR_BATCH_TOO_LARGE')).toBe(1);
    expect(text).toMatch(/ssf_gateway_dropped_total\{protocol="otlp_http",reason="too_large"\} 400/);
  }, 60_000);
});
