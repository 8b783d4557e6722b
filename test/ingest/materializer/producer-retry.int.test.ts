import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Message, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../../ingest/gateway/gateway.js';
import type { Gateway } from '../../../ingest/gateway/gateway.js';
import { KafkaSink } from '../../../ingest/sink/kafka-sink.js';
import { statsdToSpans } from '../../../ingest/statsd/statsd-spans.js';
import { createClickHouse } from '../../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import { encodeBatch, spanEvent } from '../../../src/codec/index.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { IDEMPOTENCY_HEADER, PRODUCER_HEADER } from '../../../src/kafka/record-identity.js';
import { clickhouseUrl, kafkaBrokers, uniqueDatabase } from '../../setup/services.js';
import { TSX_IMPORT } from '../../setup/tsx-import.js';
import { freshTopic } from '../kafka-reader.js';
import { connectProducer, waitFor } from './helpers.js';

// Distributed mode: gateway -> Kafka -> materializer (its own process). A
// retried produce (the same record written twice), a client's retry of a
// keyed request through another gateway, and a materializer SIGKILL between
// them: every span is stored exactly once.

const ROOT = join(import.meta.dirname, '..', '..', '..');
const CHILD = join(import.meta.dirname, 'materializer-child.ts');
const NOW = BigInt(Date.now()) * 1_000_000n;
const PER_REQUEST = 12;
/** Spans of a request in a trace: rows of `spans`; the other 3 carry a log record each (rows of `logs`). */
const TRACED = 9;
const LOGS = PER_REQUEST - TRACED;

/** Request `name`: PER_REQUEST spans (ids from `base`) over 4 traces, and 3 spans outside a trace (spread over the partitions). */
function body(name: string, base: number): Buffer {
  const events = Array.from({ length: PER_REQUEST }, (_, i) =>
    spanEvent({
      id: BigInt(base + i + 1),
      service: 'retry',
      name,
      ...(i < TRACED
        ? {
            traceId: BigInt(base + (i % 4) + 1),
            startTimestamp: NOW + BigInt(i) * 1_000n,
            endTimestamp: NOW + BigInt(i) * 1_000n + 1_000_000n,
            isTrace: true,
          }
        : { logs: [{ timestamp: NOW, severity: 'info' as const, severityNumber: 9, body: `${name}/${i}`, attributes: {} }] }),
    }),
  );
  return Buffer.from(encodeBatch(events));
}

async function post(url: string, payload: Buffer, key?: string): Promise<number> {
  const r = await fetch(`${url}/v1/ssf`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: payload,
  });
  await r.arrayBuffer();
  return r.status;
}

interface RawRecord {
  partition: number;
  offset: string;
  message: Message;
}

/** Every record of the topic as written (value and headers): as many as its end offsets say. */
async function readRaw(brokers: string[], topic: string): Promise<RawRecord[]> {
  const kafka = new Kafka({ clientId: 'raw-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const count = ends.reduce((n, e) => n + Number(e.high) - Number(e.low), 0);
  const consumer = kafka.consumer({ groupId: `raw-${topic}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: RawRecord[] = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ partition, offset: message.offset, message: { partition, key: message.key, value: message.value, headers } });
    },
  });
  await waitFor(`${count} records`, () => out.length >= count, 30_000);
  await consumer.disconnect();
  return out;
}

interface Child {
  proc: ChildProcess;
  out: string[];
  exited: Promise<void>;
}

function spawnMaterializer(env: Record<string, string>): Child {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SSF_') && k !== 'NODE_OPTIONS'));
  const proc = spawn(process.execPath, [...TSX_IMPORT, CHILD], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { proc, out: [], exited: new Promise((resolve) => proc.once('exit', () => resolve())) };
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => child.out.push(...c.trimEnd().split('\n')));
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => child.out.push(...c.trimEnd().split('\n')));
  return child;
}

async function countByName(ch: ClickHouse): Promise<Map<string, { rows: number; uniq: number }>> {
  const r = await ch.client.query({
    query: `SELECT name, count() AS rows, uniqExact(span_id) AS uniq FROM ${ch.database}.spans GROUP BY name`,
    format: 'JSONEachRow',
  });
  const out = new Map<string, { rows: number; uniq: number }>();
  for (const row of await r.json<{ name: string; rows: string; uniq: string }>()) out.set(row.name, { rows: Number(row.rows), uniq: Number(row.uniq) });
  return out;
}

async function logsByName(ch: ClickHouse): Promise<Map<string, { rows: number; uniq: number }>> {
  const r = await ch.client.query({
    query: `SELECT splitByChar('/', body)[1] AS name, count() AS rows, uniqExact(body) AS uniq FROM ${ch.database}.logs GROUP BY name`,
    format: 'JSONEachRow',
  });
  const out = new Map<string, { rows: number; uniq: number }>();
  for (const row of await r.json<{ name: string; rows: string; uniq: string }>()) out.set(row.name, { rows: Number(row.rows), uniq: Number(row.uniq) });
  return out;
}

/** Rows of spans and logs. */
async function totalRows(ch: ClickHouse): Promise<number> {
  const r = await ch.client.query({
    query: `SELECT (SELECT count() FROM ${ch.database}.spans) + (SELECT count() FROM ${ch.database}.logs) AS n`,
    format: 'JSONEachRow',
  });
  return Number((await r.json<{ n: string }>())[0]?.n ?? 0);
}

async function materializerMetric(child: Child, name: string): Promise<number> {
  const url = child.out.find((l) => l.startsWith('started '))?.slice(8);
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 'NaN');
}

describe('distributed: producer retries and client retries through another gateway are stored once', () => {
  const brokers = (): string[] => kafkaBrokers();
  let topic: string;
  let env: Record<string, string>;
  let gateways: Gateway[] = [];
  let urls: string[] = [];
  let ch: ClickHouse;
  let producer: Producer;
  let materializer: Child;

  beforeAll(async () => {
    topic = await freshTopic(brokers(), 'retry', 3);
    env = {
      SSF_KAFKA_BROKERS: brokers().join(','),
      SSF_KAFKA_SPANS_TOPIC: topic,
      SSF_KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
      SSF_KAFKA_CONSUMER_GROUP: `mat-${topic}`,
      SSF_KAFKA_PARTITIONS: '3',
      SSF_CLICKHOUSE_URL: clickhouseUrl(),
      SSF_CLICKHOUSE_DATABASE: uniqueDatabase('retry'),
      SSF_MATERIALIZER_METRICS_LISTEN: '127.0.0.1:0',
      SSF_MATERIALIZER_BATCH_ROWS: '50',
      SSF_MATERIALIZER_BATCH_MS: '100',
      SSF_LOG_LEVEL: 'warn',
    };
    // Two gateways: two producers, two producer ids.
    for (let g = 0; g < 2; g++) {
      const config = loadConfig({
        env: {
          ...env,
          SSF_KAFKA_LINGER_MS: '2',
          SSF_GATEWAY_HTTP_LISTEN: '127.0.0.1:0',
          SSF_GATEWAY_SELF_TRACE_SAMPLE_RATE: '0',
          SSF_GATEWAY_UDP_LISTEN: '127.0.0.1:0',
          SSF_GATEWAY_STATSD_LISTEN: '127.0.0.1:0',
          SSF_GATEWAY_OTLP_HTTP_LISTEN: '127.0.0.1:0',
          SSF_GATEWAY_OTLP_GRPC_LISTEN: '127.0.0.1:0',
        },
      });
      const sink = new KafkaSink(config.kafka, { quiet: true });
      await sink.connect();
      const gateway = createGateway(config, sink, { parseStatsd: statsdToSpans, logLevel: false });
      gateways.push(gateway);
      urls.push((await gateway.listen())['http'] as string);
    }
    producer = await connectProducer(brokers());
    materializer = spawnMaterializer(env);
    await waitFor('materializer started', () => materializer.out.some((l) => l.startsWith('started ')), 60_000);
    ch = await createClickHouse(loadConfig({ env }).clickhouse);
  }, 120_000);

  afterAll(async () => {
    if (materializer?.proc.exitCode === null) {
      materializer.proc.kill('SIGKILL');
      await materializer.exited;
    }
    for (const g of gateways) await g.close();
    gateways = [];
    urls = [];
    await producer?.disconnect();
    await ch?.close();
  });

  it('drops the second copy of produced records, a keyed retry through the other gateway, and keeps that state across a SIGKILL', async () => {
    const [g1, g2] = urls as [string, string];
    /** Request name -> how many copies must be stored. */
    const expected = new Map<string, number>();

    // 1. Plain requests through gateway 1, then every record they made written again: a retried produce.
    for (let i = 0; i < 15; i++) {
      expect(await post(g1, body(`plain-${i}`, 1_000_000 + i * 100))).toBe(200);
      expected.set(`plain-${i}`, 1);
    }
    // Acknowledged (acks=all) before the answer: all in the topic now.
    const phase1 = await readRaw(brokers(), topic);
    for (const r of phase1) expect(r.message.headers?.[PRODUCER_HEADER]).toMatch(/^[0-9a-f]{16}:\d+$/);
    await producer.send({ topic, acks: -1, messages: phase1.map((r) => r.message) });

    // 2. Keyed requests through gateway 1, the client's retries through gateway 2; a keyed request re-sent
    //    under another key, and plain requests sent to both, are two requests each.
    for (let i = 0; i < 10; i++) {
      const b = body(`keyed-${i}`, 2_000_000 + i * 100);
      expect(await post(g1, b, `order-${i}`)).toBe(200);
      expect(await post(g2, b, `order-${i}`)).toBe(200);
      expected.set(`keyed-${i}`, 1);
    }
    const other = body('other-key', 3_000_000);
    expect(await post(g1, other, 'k-a')).toBe(200);
    expect(await post(g2, other, 'k-b')).toBe(200);
    expected.set('other-key', 2);
    // A key reused with another body: refused by the gateway that remembers it; through the other
    // gateway, a new request (its id includes the body's digest), stored in full.
    expect(await post(g1, body('reused-a', 3_200_000), 'reused')).toBe(200);
    expect(await post(g1, body('reused-b', 3_300_000), 'reused')).toBe(422);
    expect(await post(g2, body('reused-b', 3_300_000), 'reused')).toBe(200);
    expected.set('reused-a', 1);
    expected.set('reused-b', 1);
    const twice = body('unkeyed-twice', 3_100_000);
    expect(await post(g1, twice)).toBe(200);
    expect(await post(g2, twice)).toBe(200);
    expected.set('unkeyed-twice', 2);

    // Copies per request name; PER_REQUEST rows (TRACED spans, LOGS logs) each.
    const total = (): number => [...expected.values()].reduce((a, b) => a + b, 0) * PER_REQUEST;
    await waitFor('phases 1-2 stored', async () => (await totalRows(ch)) >= total(), 60_000).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify([...(await countByName(ch))])}\n${materializer.out.slice(-30).join('\n')}`);
    });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await materializerMetric(materializer, 'ssf_materializer_duplicates_dropped_total\\{reason="producer_retry"\\}')).toBe(phase1.length);

    // 3. SIGKILL the materializer; more through gateway 1; then the phase-1 records and the keyed ones written again.
    //    A new materializer has only the commit metadata to know they are copies.
    materializer.proc.kill('SIGKILL');
    await materializer.exited;
    for (let i = 15; i < 25; i++) {
      expect(await post(g1, body(`plain-${i}`, 1_000_000 + i * 100))).toBe(200);
      expected.set(`plain-${i}`, 1);
    }
    const all = await readRaw(brokers(), topic);
    const keyedRecords = all.filter((r) => r.message.headers?.[IDEMPOTENCY_HEADER] !== undefined);
    await producer.send({ topic, acks: -1, messages: [...phase1.map((r) => r.message), ...keyedRecords.map((r) => r.message)] });
    for (let i = 0; i < 3; i++) expect(await post(g2, body(`keyed-${i}`, 2_000_000 + i * 100), `order-${i}`)).toBe(200);

    materializer = spawnMaterializer(env);
    await waitFor('phase 3 stored', async () => (await totalRows(ch)) >= total(), 90_000);
    await new Promise((r) => setTimeout(r, 3_000));

    const got = await countByName(ch);
    const logs = await logsByName(ch);
    for (const [name, copies] of expected) {
      expect(got.get(name), name).toEqual({ rows: copies * TRACED, uniq: TRACED });
      expect(logs.get(name), name).toEqual({ rows: copies * LOGS, uniq: LOGS });
    }
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    expect(await totalRows(ch)).toBe(total());
    // Every copy written in phase 3 was recognised by its producer stamp, from the windows in the commit metadata.
    expect(await materializerMetric(materializer, 'ssf_materializer_duplicates_dropped_total\\{reason="producer_retry"\\}')).toBe(
      phase1.length + keyedRecords.length,
    );
    console.log(
      `distributed: ${phase1.length} records re-produced twice, ${keyedRecords.length} keyed records re-produced, 13 keyed client retries through the other gateway, a key reused with another body; ${await totalRows(ch)} span and log rows for ${total()} expected`,
    );
  }, 240_000);
});
