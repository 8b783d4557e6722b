/**
 * A span larger than one Kafka record may hold (gateway.maxSpanBytes) is
 * refused alone, for every input: before the limit, the broker refused the
 * whole produce request, and every request batched with it (any tenant's)
 * was answered 503. Real Kafka, with its default max.message.bytes (1 MiB).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../ingest/gateway/gateway.js';
import type { Gateway } from '../../ingest/gateway/gateway.js';
import { KafkaThreadSink } from '../../ingest/sink/kafka-thread-sink.js';
import { encodeBatch } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { spanEvent } from '../../src/codec/span-event.js';
import { loadConfig } from '../../src/config/load-config.js';
import { freshTopic, readTopic } from '../ingest/kafka-reader.js';
import { kafkaBrokers } from '../setup/services.js';

const NOW = BigInt(Date.now()) * 1_000_000n;
let gateway: Gateway;
let where: Record<string, string>;
let topic: string;

beforeAll(async () => {
  topic = await freshTopic(kafkaBrokers(), 'span-size');
  const config = loadConfig({
    env: {
      SSF_KAFKA_BROKERS: kafkaBrokers().join(','),
      SSF_KAFKA_SPANS_TOPIC: topic,
      // Long enough that the concurrent requests below go to Kafka in one flush.
      SSF_KAFKA_LINGER_MS: '100',
      SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_GRPC_LISTEN: '',
      SSF_GATEWAY_UDP_LISTEN: '',
      SSF_GATEWAY_STATSD_LISTEN: '',
      SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
    },
  });
  const sink = new KafkaThreadSink(config.kafka);
  await sink.connect();
  gateway = createGateway(config, sink, { logLevel: false });
  where = await gateway.listen();
}, 120_000);

afterAll(async () => {
  await gateway?.close();
});

/** Tags of random base64 (gzip cannot shrink it under the broker's limit): about `kb` KB. */
function bigTags(kb: number): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let i = 0; i < Math.ceil(kb / 60); i++) tags[`k${i}`] = randomBytes(45_000).toString('base64');
  return tags;
}

function span(id: number, service: string, tags: Record<string, string> = {}): SpanEvent {
  return spanEvent({ traceId: BigInt(id), id: BigInt(id), startTimestamp: NOW, endTimestamp: NOW + 1_000_000n, service, name: 'op', tags, isTrace: true });
}

const post = (spans: SpanEvent[]): Promise<Response> =>
  fetch(`${where['http']}/v1/ssf`, { method: 'POST', body: Buffer.from(encodeBatch(spans)), headers: { 'content-type': 'application/x-protobuf' } });

describe('a span too large for a Kafka record', () => {
  it('is refused alone; its neighbours in the batch and a concurrent request are stored', async () => {
    const [mixed, other] = await Promise.all([post([span(1, 'ok-a'), span(2, 'huge', bigTags(1_800)), span(3, 'ok-a')]), post([span(4, 'ok-b')])]);
    expect(mixed.status).toBe(200);
    const answer = (await mixed.json()) as { accepted: number; rejected: Array<{ index: number; code: string; reason: string }> };
    expect(answer.accepted).toBe(2);
    expect(answer.rejected).toEqual([
      { index: 1, code: 'SSF_SPAN_TOO_LARGE', field: '', reason: expect.stringMatching(/^the span is \d+ bytes; at most 1000000/) },
    ]);
    expect(other.status).toBe(200);
    const records = await readTopic(kafkaBrokers(), topic, 3);
    expect(records.map((r) => r.span.service).sort()).toEqual(['ok-a', 'ok-a', 'ok-b']);
    const metrics = await (await fetch(`${where['http']}/metrics`)).text();
    expect(metrics).toMatch(/ssf_gateway_refused_total\{protocol="http",code="SSF_SPAN_TOO_LARGE"\} 1/);
  });

  it('a span just under the limit is taken', async () => {
    const r = await post([span(5, 'near', bigTags(900))]);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { accepted: number }).accepted).toBe(1);
  });

  it('over OTLP/HTTP: a partial success, rejected 1, with the reason', async () => {
    const attributes = Object.entries(bigTags(1_800)).map(([key, v]) => ({ key, value: { stringValue: v } }));
    const otlpSpan = (i: number, attrs: unknown[]) => ({
      traceId: (100 + i).toString(16).padStart(32, '0'),
      spanId: (100 + i).toString(16).padStart(16, '0'),
      name: 'op',
      startTimeUnixNano: String(NOW),
      endTimeUnixNano: String(NOW + 1_000_000n),
      attributes: attrs,
    });
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otlp-size' } }] },
          scopeSpans: [{ spans: [otlpSpan(1, []), otlpSpan(2, attributes)] }],
        },
      ],
    };
    // JSON takes the general path, protobuf the direct one: the same answer.
    const json = await fetch(`${where['otlp_http']}/v1/traces`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(200);
    const answer = (await json.json()) as { partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string } };
    expect(Number(answer.partialSuccess?.rejectedSpans)).toBe(1);
    expect(answer.partialSuccess?.errorMessage).toMatch(/SSF_SPAN_TOO_LARGE/);
    const { ExportTraceServiceRequest, ExportTraceServiceResponse } = await import('../../ingest/otlp/otlp-messages.js');
    const proto = await fetch(`${where['otlp_http']}/v1/traces`, {
      method: 'POST',
      // protobuf ids are bytes, not hex.
      body: Buffer.from(
        ExportTraceServiceRequest.encode(
          ExportTraceServiceRequest.fromObject(
            JSON.parse(JSON.stringify(body), (k, v) => (k === 'traceId' || k === 'spanId' ? Buffer.from(v as string, 'hex') : v)),
          ),
        ).finish(),
      ),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    expect(proto.status).toBe(200);
    const p = ExportTraceServiceResponse.decode(Buffer.from(await proto.arrayBuffer())) as unknown as {
      partialSuccess?: { rejectedSpans?: number | { toNumber(): number }; errorMessage?: string };
    };
    expect(Number(p.partialSuccess?.rejectedSpans)).toBe(1);
    expect(p.partialSuccess?.errorMessage).toMatch(/SSF_SPAN_TOO_LARGE/);
    const metrics = await (await fetch(`${where['http']}/metrics`)).text();
    expect(metrics).toMatch(/ssf_gateway_refused_total\{protocol="otlp_http",code="SSF_SPAN_TOO_LARGE"\} 2/);
  });
});
