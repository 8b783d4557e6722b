import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch, encodeBatchOfEncoded, encodeFrame, encodeFrames, encodeSpan } from '../../src/codec/index.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createGateway } from '../../ingest/gateway/gateway.js';
import type { Gateway } from '../../ingest/gateway/gateway.js';
import { BATCH_FORMAT, tracePartition } from '../../src/kafka/record-format.js';
import { KafkaThreadSink } from '../../ingest/sink/kafka-thread-sink.js';
import { StatsdSampleEncoder } from '../../ingest/statsd/statsd-sample-bytes.js';
import { statsdToSpans } from '../../ingest/statsd/statsd-spans.js';
import { kafkaBrokers } from '../setup/services.js';
import { freshTopic, readTopic } from './kafka-reader.js';
import { spanEvent } from '../../src/codec/span-event.js';

const NOW = BigInt(Date.now()) * 1_000_000n;

function traceSpan(i: number, over: Partial<SpanEvent> = {}): SpanEvent {
  return spanEvent({
    traceId: BigInt(1_000 + Math.floor(i / 10)),
    id: BigInt(100_000 + i),
    startTimestamp: NOW + BigInt(i),
    endTimestamp: NOW + BigInt(i) + 1_000_000n,
    service: 'shop',
    name: 'GET /cart',
    tags: { i: String(i) },
    isTrace: true,
    ...over,
  });
}

async function post(
  url: string,
  body: Buffer | Uint8Array | string,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}/v1/ssf`, { method: 'POST', body: typeof body === 'string' ? body : Buffer.from(body), headers });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

interface Running {
  gateway: Gateway;
  where: Record<string, string>;
  topic: string;
  socketPath: string;
}

async function startGateway(env: Record<string, string> = {}, topicPrefix = 'gw'): Promise<Running> {
  const brokers = kafkaBrokers();
  const topic = await freshTopic(brokers, topicPrefix);
  const socketPath = join(mkdtempSync(join(tmpdir(), 'ssf-gw-')), 'ssf.sock');
  const config = loadConfig({
    env: {
      SSF_KAFKA_BROKERS: brokers.join(','),
      SSF_KAFKA_SPANS_TOPIC: topic,
      SSF_KAFKA_LINGER_MS: '2',
      SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
      SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_STATSD_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_TCP_LISTEN: '127.0.0.1:0',
      SSF_GATEWAY_UNIX_SOCKET: socketPath,
      SSF_GATEWAY_MAX_BODY_BYTES: '1048576',
      SSF_GATEWAY_MAX_DECOMPRESSED_BYTES: '4194304',
      ...env,
    },
  });
  const sink = new KafkaThreadSink(config.kafka);
  await sink.connect();
  const gateway = createGateway(config, sink, { parseStatsd: statsdToSpans, statsdFastPath: new StatsdSampleEncoder(), logLevel: false });
  const where = await gateway.listen();
  return { gateway, where, topic, socketPath };
}

function sendUdp(address: string, datagrams: Buffer[]): Promise<void> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = datagrams.length;
    if (left === 0) resolve();
    for (const d of datagrams) {
      socket.send(d, port, host, (err) => {
        if (err) reject(err);
        if (--left === 0) socket.close(() => resolve());
      });
    }
  });
}

function sendStream(target: { path: string } | { port: number }, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = 'path' in target ? connect(target.path) : connect(target.port, '127.0.0.1');
    s.on('error', reject);
    s.on('close', () => resolve());
    s.end(data);
  });
}

describe('gateway -> Kafka, every protocol, exact counts', () => {
  let r: Running;
  beforeAll(async () => {
    r = await startGateway();
  });
  afterAll(async () => r.gateway.close());

  it('lands each protocol path in Kafka with exact counts, partitioned by trace id and stamped with the tenant', async () => {
    const http = r.where['http'] as string;
    // HTTP protobuf: 100 spans, gzip
    const batch = encodeBatch(Array.from({ length: 100 }, (_, i) => traceSpan(i)));
    const a = await post(http, gzipSync(batch), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(a).toMatchObject({ status: 200, json: { accepted: 100, events: 100, rejected: [], partial: [] } });
    // HTTP framed stream: 50 spans
    const framed = encodeFrames(Array.from({ length: 50 }, (_, i) => encodeSpan(traceSpan(100 + i))));
    expect((await post(http, framed, { 'content-type': 'application/x-ssf-frames' })).json).toMatchObject({ accepted: 50 });
    // HTTP JSON: 10 spans, snake_case field names and a client-sent tenant that must be overwritten
    const json = {
      spans: Array.from({ length: 10 }, (_, i) => ({
        trace_id: '77',
        id: String(900 + i),
        start_timestamp: String(NOW),
        end_timestamp: String(NOW + 5n),
        name: 'json',
        service: 'j',
        tenant: 'evil',
        tags: { k: 'v' },
      })),
    };
    expect((await post(http, JSON.stringify(json), { 'content-type': 'application/json' })).json).toMatchObject({ accepted: 10 });
    // UDP SSF: 40 datagrams
    await sendUdp(
      r.where['udp'] as string,
      Array.from({ length: 40 }, (_, i) => Buffer.from(encodeSpan(traceSpan(200 + i)))),
    );
    // UNIX and TCP framed streams: 30 + 20
    await sendStream({ path: r.socketPath }, encodeFrames(Array.from({ length: 30 }, (_, i) => encodeSpan(traceSpan(300 + i)))));
    await sendStream(
      { port: Number((r.where['tcp'] as string).split(':')[1]) },
      encodeFrames(Array.from({ length: 20 }, (_, i) => encodeSpan(traceSpan(400 + i)))),
    );
    // statsd: 3 datagrams of 5 lines = 15 samples in 3 carrier spans (a set: the general path),
    // and one of 2 lines the fast path writes straight to sample bytes
    const lines = ['a:1|c', 'b:2|g', 'c:3|ms', 'd:4|h|#x:y', 'e:u|s'].join('\n');
    await sendUdp(r.where['statsd'] as string, [Buffer.from(lines), Buffer.from(lines), Buffer.from(lines), Buffer.from('f:5|c|#x:y\ng:6.5|ms|@0.5')]);

    const expected = 100 + 50 + 10 + 40 + 30 + 20 + 4;
    const records = await readTopic(kafkaBrokers(), r.topic, expected);
    expect(records).toHaveLength(expected);
    const traces = records.filter((x) => x.span.isTrace);
    expect(traces).toHaveLength(expected - 4);
    expect(new Set(traces.map((x) => x.span.id)).size).toBe(traces.length);
    for (const rec of records) {
      expect(rec.span.tenant).toBe('default');
      expect(rec.span.receivedTimestamp).toBeGreaterThan(NOW - 60_000_000_000n);
      expect(rec.headers['ssf-format']).toBe(BATCH_FORMAT);
      if (rec.span.traceId !== 0n) expect(rec.partition).toBe(tracePartition(rec.span.traceId, 3));
    }
    // a trace lands on one partition
    const partitionsOfTrace = new Map<bigint, Set<number>>();
    for (const rec of traces)
      (partitionsOfTrace.get(rec.span.traceId) ?? partitionsOfTrace.set(rec.span.traceId, new Set()).get(rec.span.traceId))?.add(rec.partition);
    for (const parts of partitionsOfTrace.values()) expect(parts.size).toBe(1);
    const statsd = records.filter((x) => !x.span.isTrace);
    expect(statsd.flatMap((x) => x.span.metrics)).toHaveLength(17);
    expect(statsd.flatMap((x) => x.span.metrics).find((m) => m.name === 'g')).toMatchObject({ type: 'histogram', value: 6.5, sampleRate: 0.5, unit: 'ms' });
    expect(r.gateway.metrics.count('accepted', { protocol: 'statsd' })).toBe(17);
    expect(r.gateway.metrics.count('accepted', { protocol: 'udp' })).toBe(40);
    expect(r.gateway.metrics.count('accepted', { protocol: 'unix' })).toBe(30);
    expect(r.gateway.metrics.count('accepted', { protocol: 'tcp' })).toBe(20);
  });
});

describe('gateway -> Kafka, spans outside a trace', () => {
  it("puts those of one flush on one partition and the next flush's on the next (sticky, as Kafka's own producer does)", async () => {
    const s = await startGateway({}, 'gw-sticky');
    try {
      const http = s.where['http'] as string;
      // Six requests one after another (self-tracing off: no other flush in between), 30 carrier spans each.
      for (let k = 0; k < 6; k++) {
        const spans = Array.from({ length: 30 }, (_, i) =>
          spanEvent({
            metrics: [
              {
                type: 'counter',
                name: 'hits',
                value: 1,
                timestamp: 0n,
                message: '',
                status: 'ok',
                sampleRate: 1,
                tags: { request: String(k), i: String(i) },
                unit: '',
                scope: 'default',
              },
            ],
            isTrace: false,
          }),
        );
        expect((await post(http, encodeBatch(spans), { 'content-type': 'application/x-protobuf' })).json).toMatchObject({ accepted: 30 });
      }
      const records = await readTopic(kafkaBrokers(), s.topic, 180);
      expect(records).toHaveLength(180);
      const partitionOf = new Map<string, Set<number>>();
      for (const rec of records) {
        const k = rec.span.metrics[0]?.tags['request'] as string;
        (partitionOf.get(k) ?? partitionOf.set(k, new Set()).get(k))?.add(rec.partition);
      }
      // Round-robin span by span put every request on all three partitions, one record each.
      const used = [...partitionOf.entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([, set]) => [...set]);
      for (const one of used) expect(one).toHaveLength(1);
      // Request k+1 on the partition after request k's.
      for (let k = 1; k < 6; k++) expect(used[k]?.[0]).toBe(((used[k - 1]?.[0] as number) + 1) % 3);
    } finally {
      await s.gateway.close();
    }
  });

  it('sends more than Kafka takes in one record batch to one partition in several (compression none): 200, every span in Kafka', async () => {
    // Kafka refuses a record batch past max.message.bytes (1 MiB by default) whole; kafkajs makes
    // one send to a partition one batch. 1.5 MB of spans outside a trace, and one trace of 1.5 MB.
    const s = await startGateway({ SSF_KAFKA_COMPRESSION: 'none', SSF_GATEWAY_MAX_BODY_BYTES: '4194304' }, 'gw-large-flush');
    try {
      const http = s.where['http'] as string;
      const pad = 'x'.repeat(10_000);
      const untraced = Array.from({ length: 150 }, (_, i) =>
        spanEvent({ logs: [{ timestamp: NOW + BigInt(i), severity: 'info', severityNumber: 9, body: `${i} ${pad}`, attributes: {} }], isTrace: false }),
      );
      const oneTrace = Array.from({ length: 150 }, (_, i) => traceSpan(i, { traceId: 5n, tags: { i: String(i), pad } }));
      const headers = { 'content-type': 'application/x-protobuf' };
      const [a, b] = await Promise.all([post(http, encodeBatch(untraced), headers), post(http, encodeBatch(oneTrace), headers)]);
      expect(a).toMatchObject({ status: 200, json: { accepted: 150 } });
      expect(b).toMatchObject({ status: 200, json: { accepted: 150 } });
      const records = await readTopic(kafkaBrokers(), s.topic, 300);
      expect(records).toHaveLength(300);
      expect(new Set(records.filter((r) => r.span.traceId === 5n).map((r) => r.partition)).size).toBe(1);
    } finally {
      await s.gateway.close();
    }
  });
});

describe('gateway: bad input gets its documented answer, is counted, and good data beside it is kept', () => {
  let r: Running;
  beforeAll(async () => {
    r = await startGateway(
      { SSF_GATEWAY_AUTH_TOKENS: 'tok-acme=acme,tok-read=acme:read', SSF_GATEWAY_LISTENER_TENANTS: 'udp=acme,statsd=acme,tcp=acme,unix=acme' },
      'gw-bad',
    );
  });
  afterAll(async () => r.gateway.close());
  const auth = { authorization: 'Bearer tok-acme' };

  it('answers each kind of bad HTTP input with its status and code', async () => {
    const http = r.where['http'] as string;
    const good = encodeSpan(traceSpan(1));
    const batch = encodeBatchOfEncoded([good, good]);
    const cases: Array<[string, Buffer | string, Record<string, string>, number, string]> = [
      [
        'truncated protobuf',
        Buffer.from(batch).subarray(0, batch.length - 5),
        { 'content-type': 'application/x-protobuf', ...auth },
        400,
        'GW_ERR_BODY_MALFORMED',
      ],
      [
        'bad frame version',
        Buffer.concat([Buffer.from([7, 0, 0, 0, 1]), Buffer.from([1])]),
        { 'content-type': 'application/x-ssf-frames', ...auth },
        400,
        'GW_ERR_BODY_MALFORMED',
      ],
      ['truncated frame', encodeFrame(good).subarray(0, 10), { 'content-type': 'application/x-ssf-frames', ...auth }, 400, 'GW_ERR_BODY_MALFORMED'],
      ['wrong content type', Buffer.from(batch), { 'content-type': 'text/plain', ...auth }, 415, 'GW_ERR_CONTENT_TYPE'],
      ['unknown encoding', Buffer.from(batch), { 'content-type': 'application/x-protobuf', 'content-encoding': 'br', ...auth }, 415, 'GW_ERR_CONTENT_ENCODING'],
      ['oversize body', Buffer.alloc(2 * 1024 * 1024, 1), { 'content-type': 'application/x-protobuf', ...auth }, 413, 'GW_ERR_BODY_TOO_LARGE'],
      [
        'gzip bomb',
        gzipSync(Buffer.alloc(64 * 1024 * 1024)),
        { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', ...auth },
        413,
        'GW_ERR_DECOMPRESSED_TOO_LARGE',
      ],
      ['not gzip', Buffer.from('plain'), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', ...auth }, 400, 'GW_ERR_DECOMPRESSION_FAILED'],
      ['not JSON', '{spans', { 'content-type': 'application/json', ...auth }, 400, 'GW_ERR_BODY_MALFORMED'],
      ['no token', Buffer.from(batch), { 'content-type': 'application/x-protobuf' }, 401, 'AUTH_ERR_MISSING_TOKEN'],
      ['bad token', Buffer.from(batch), { 'content-type': 'application/x-protobuf', authorization: 'Bearer nope' }, 401, 'AUTH_ERR_BAD_TOKEN'],
      ['read-only token', Buffer.from(batch), { 'content-type': 'application/x-protobuf', authorization: 'Bearer tok-read' }, 403, 'AUTH_ERR_FORBIDDEN'],
      [
        'only invalid spans',
        Buffer.from(encodeBatchOfEncoded([encodeSpan(traceSpan(2, { id: 0n }))])),
        { 'content-type': 'application/x-protobuf', ...auth },
        422,
        'GW_ERR_NO_VALID_SPANS',
      ],
    ];
    for (const [what, body, headers, status, code] of cases) {
      const res = await post(http, body, headers);
      expect({ what, status: res.status, code: (res.json['error'] as { code?: string } | undefined)?.code }).toEqual({ what, status, code });
      expect(r.gateway.metrics.count('refused', { protocol: 'http', code }), what).toBeGreaterThan(0);
    }
    expect(gzipSync(Buffer.alloc(64 * 1024 * 1024)).length).toBeLessThan(1024 * 1024);
  });

  it('keeps the valid spans of a partly bad batch and lists each refusal with its index', async () => {
    const http = r.where['http'] as string;
    const spans = [
      encodeSpan(traceSpan(10)),
      encodeSpan(traceSpan(11, { id: 0n })),
      Uint8Array.from([0x42, 0x0a, 0x61]),
      encodeSpan(
        traceSpan(12, {
          metrics: [{ type: 'counter', name: '', value: 1, timestamp: 0n, message: '', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'default' }],
        }),
      ),
      encodeSpan(traceSpan(13)),
    ];
    const res = await post(http, encodeBatchOfEncoded(spans), { 'content-type': 'application/x-protobuf', ...auth });
    expect(res.status).toBe(200);
    expect(res.json['accepted']).toBe(3);
    expect((res.json['rejected'] as Array<{ index: number; code: string }>).map((x) => [x.index, x.code])).toEqual([
      [1, 'SSF_SPAN_EMPTY'],
      [2, 'SSF_DECODE_FAILED'],
    ]);
    expect((res.json['partial'] as Array<{ index: number; code: string; field: string }>).map((x) => [x.index, x.code, x.field])).toEqual([
      [3, 'SSF_METRIC_NAME_MISSING', 'metrics[0].name'],
    ]);
    const records = await readTopic(kafkaBrokers(), r.topic, 3);
    expect(records.map((x) => x.span.name).sort()).toEqual(['GET /cart', 'GET /cart', 'GET /cart']);
    expect(records.every((x) => x.span.tenant === 'acme')).toBe(true);
  });

  it('closes a stream on a fatal framing error and keeps the frames before it; refuses bad statsd lines alone', async () => {
    const topicBefore = await readTopic(kafkaBrokers(), r.topic, 3, 3000);
    const good = encodeFrames([encodeSpan(traceSpan(20)), encodeSpan(traceSpan(21))]);
    await sendStream({ path: r.socketPath }, Buffer.concat([good, Buffer.from([9, 9, 9, 9, 9, 9]), encodeFrames([encodeSpan(traceSpan(22))])]));
    await sendUdp(r.where['statsd'] as string, [Buffer.from('ok.metric:1|c\nbroken line\nbad:x|c\nalso.ok:2|g')]);
    const records = await readTopic(kafkaBrokers(), r.topic, topicBefore.length + 3);
    expect(records.length - topicBefore.length).toBe(3);
    expect(r.gateway.metrics.count('refused', { protocol: 'unix', code: 'SSF_FRAME_VERSION' })).toBe(1);
    expect(r.gateway.metrics.count('refused', { protocol: 'unix', code: 'GW_ERR_STREAM_CLOSED' })).toBe(1);
    expect(r.gateway.metrics.count('accepted', { protocol: 'statsd' })).toBe(2);
    const statsdRefused = ['STATSD_ERR_SYNTAX', 'STATSD_ERR_VALUE']
      .map((code) => r.gateway.metrics.count('refused', { protocol: 'statsd', code }))
      .reduce((a, b) => a + b, 0);
    expect(statsdRefused).toBe(2);
    const metricsText = await (await fetch(`${r.where['http']}/metrics`)).text();
    expect(metricsText).toMatch(/ssf_gateway_refused_total\{protocol="unix",code="SSF_FRAME_VERSION"\} 1/);
  });
});

describe('gateway with Kafka hanging', () => {
  // A broker that accepts connections and never answers: the first send hangs (kafkajs waits
  // its request timeout), so what UDP brings fills the produce buffer. The datagram that no
  // longer fits is refused by publish() itself (SINK_ERR_FULL), the next ones by `accepting`:
  // both are the buffer being full, counted `backpressure`, never `unavailable` (until then nothing failed).
  it('counts UDP datagrams the full buffer refused as backpressure, not unavailable', async () => {
    const sockets: import('node:net').Socket[] = [];
    const blackHole = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const config = loadConfig({
      env: {
        SSF_KAFKA_BROKERS: `127.0.0.1:${(blackHole.address() as AddressInfo).port}`,
        SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_OTLP_HTTP_LISTEN: '',
        SSF_GATEWAY_OTLP_GRPC_LISTEN: '',
        SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
        SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_STATSD_LISTEN: '',
        SSF_KAFKA_LINGER_MS: '1',
        // Room for a few datagrams' spans (70 to 80 bytes each), not for all ten; a prime, so
        // that no number of them fills it exactly and one is always the first that does not fit.
        SSF_KAFKA_BUFFER_BYTES: '331',
      },
    });
    const gateway = createGateway(config, new KafkaThreadSink(config.kafka, { quiet: true }), { logLevel: false });
    const where = await gateway.listen();
    try {
      // One datagram at a time: each is its own group, so one of them is the first that does not fit.
      for (let i = 0; i < 10; i++) {
        await sendUdp(where['udp'] as string, [Buffer.from(encodeSpan(traceSpan(100 + i)))]);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      const count = (reason: string): number => gateway.metrics.count('dropped', { protocol: 'udp', reason });
      expect(gateway.metrics.count('accepted', { protocol: 'udp' })).toBe(10);
      await expect.poll(() => count('backpressure') + count('unavailable')).toBeGreaterThanOrEqual(5);
      expect(count('unavailable')).toBe(0);
      // Some were taken (they wait in the buffer for the hanging broker).
      expect(count('backpressure')).toBeLessThan(10);
    } finally {
      for (const s of sockets) s.destroy();
      blackHole.close();
      await gateway.close();
    }
  }, 90_000);
});

describe('gateway with Kafka down', () => {
  it('answers 503 with Retry-After (never 2xx for unacknowledged data) and counts UDP drops', async () => {
    const config = loadConfig({
      env: {
        SSF_KAFKA_BROKERS: '127.0.0.1:9',
        SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
        SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
        SSF_GATEWAY_STATSD_LISTEN: '',
        SSF_KAFKA_LINGER_MS: '1',
      },
    });
    const gateway = createGateway(config, new KafkaThreadSink(config.kafka, { quiet: true }), { logLevel: false });
    const where = await gateway.listen();
    try {
      const res = await post(where['http'] as string, encodeBatch([traceSpan(1)]), { 'content-type': 'application/x-protobuf' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((res.json['error'] as { code: string }).code).toBe('GW_ERR_UNAVAILABLE');
      const ready = await fetch(`${where['http']}/-/ready`);
      expect(ready.status).toBe(503);
      await sendUdp(
        where['udp'] as string,
        Array.from({ length: 10 }, (_, i) => Buffer.from(encodeSpan(traceSpan(i)))),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(
        gateway.metrics.count('dropped', { protocol: 'udp', reason: 'backpressure' }) +
          gateway.metrics.count('dropped', { protocol: 'udp', reason: 'unavailable' }),
      ).toBe(10);
      expect(gateway.metrics.count('dropped', { protocol: 'http', reason: 'unavailable' })).toBe(1);
    } finally {
      await gateway.close();
    }
  }, 90_000);
});
