import { Kafka, logLevel, Partitioners } from 'kafkajs';
import type { IHeaders, Message, Producer } from 'kafkajs';
import { BATCH_FORMAT, tracePartition } from '../../../src/kafka/record-format.js';
import { encodeBatch, encodeSpan } from '../../../src/codec/index.js';
import type { SpanEvent } from '../../../src/codec/index.js';
import { createClickHouse } from '../../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import { startMaterializerProcess } from '../../../cli/materializer-command.js';
import type { MaterializerProcess } from '../../../cli/materializer-command.js';
import { loadConfig } from '../../../src/config/load-config.js';
import type { Config } from '../../../src/config/config-schema.js';
import { clickhouseUrl, kafkaBrokers, uniqueDatabase } from '../../setup/services.js';
import { freshTopic } from '../kafka-reader.js';
import { spanEvent } from '../../../src/codec/span-event.js';

// Recent: rows older than the tables' TTL are dropped at insert.
export const NOW = BigInt(Date.now()) * 1_000_000n;
export const TENANT = 'acme';

/** What a set of events must give in ClickHouse. */
export interface Expected {
  spans: number;
  logs: number;
  samples: number;
  /** Counter samples of `mat.hits` (sample rate 0.5: each weighs 2 in the rollups). */
  hits: number;
}

export function emptyExpected(): Expected {
  return { spans: 0, logs: 0, samples: 0, hits: 0 };
}

function base(i: number): SpanEvent {
  return spanEvent({ id: BigInt(1_000_000 + i), service: 'shop', tenant: TENANT, receivedTimestamp: NOW, isTrace: false });
}

/**
 * Event i of a mix: a bare trace span; a trace span with a log and a counter
 * sample; a carrier of three samples; a carrier of two log records. Every
 * row is unique (span id, log body, sample tag `seq`), so doubles show.
 */
export function makeEvent(i: number, expected: Expected): SpanEvent {
  const t = NOW + BigInt(i) * 1_000n;
  const traceId = BigInt(500_000 + Math.floor(i / 5));
  const counter = (k: number) => ({
    type: 'counter' as const,
    name: 'mat.hits',
    value: 1,
    timestamp: t,
    message: '',
    status: 'ok' as const,
    sampleRate: 0.5,
    tags: { seq: `${i}-${k}` },
    unit: '',
    scope: 'default' as const,
  });
  switch (i % 4) {
    case 0:
      expected.spans++;
      return {
        ...base(i),
        traceId,
        startTimestamp: t,
        endTimestamp: t + 2_000_000n,
        name: 'GET /cart',
        indicator: i % 8 === 0,
        tags: { i: String(i) },
        isTrace: true,
      };
    case 1:
      expected.spans++;
      expected.logs++;
      expected.samples++;
      expected.hits++;
      return {
        ...base(i),
        traceId,
        startTimestamp: t,
        endTimestamp: t + 5_000_000n,
        name: 'charge',
        error: i % 3 === 0,
        isTrace: true,
        logs: [{ timestamp: t, severity: 'info', severityNumber: 9, body: `log ${i}-0`, attributes: { k: 'v' } }],
        metrics: [counter(0)],
      };
    case 2:
      expected.samples += 3;
      expected.hits++;
      return {
        ...base(i),
        id: 0n,
        metrics: [
          counter(0),
          {
            type: 'gauge',
            name: 'mat.depth',
            value: i,
            timestamp: t,
            message: '',
            status: 'ok',
            sampleRate: 1,
            tags: { seq: `${i}-1` },
            unit: '',
            scope: 'default',
          },
          // timestamp 0: takes the span's received time (field 102)
          {
            type: 'histogram',
            name: 'mat.latency',
            value: i % 100,
            timestamp: 0n,
            message: '',
            status: 'ok',
            sampleRate: 1,
            tags: { seq: `${i}-2` },
            unit: 'ms',
            scope: 'default',
          },
        ],
      };
    default:
      expected.logs += 2;
      return {
        ...base(i),
        traceId,
        logs: [
          { timestamp: t, severity: 'warn', severityNumber: 13, body: `log ${i}-0`, attributes: {} },
          { timestamp: 0n, severity: 'error', severityNumber: 17, body: `log ${i}-1`, attributes: { code: '51' } },
        ],
      };
  }
}

/** A record of one SSFSpan (no ssf-format header): the single-span format the materializer also reads. */
export function spanRecord(e: SpanEvent, headers: IHeaders = {}): Message {
  return { key: null, value: Buffer.from(encodeSpan(e)), headers };
}

/** A record as the gateway writes it (ingest/sink/kafka-sink.ts): an SSFBatch, header `ssf-format: ssf-batch/1`. */
export function batchRecord(events: SpanEvent[], partition: number): Message {
  return { partition, value: Buffer.from(encodeBatch(events)), headers: { 'ssf-format': BATCH_FORMAT } };
}

export async function connectProducer(brokers: string[]): Promise<Producer> {
  const producer = new Kafka({ clientId: 'mat-test', brokers, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return producer;
}

/**
 * Produces events [from, to) of the mix as the gateway does: grouped by the
 * partition of their trace (carriers round-robin) into SSFBatch records of up
 * to `perRecord` spans; sends of up to 250 events.
 */
export async function produceEvents(
  producer: Producer,
  topic: string,
  from: number,
  to: number,
  expected: Expected,
  partitions = 3,
  perRecord = 4,
): Promise<void> {
  for (let i = from; i < to; i += 250) {
    const groups = new Map<number, SpanEvent[]>();
    for (let j = i; j < Math.min(to, i + 250); j++) {
      const e = makeEvent(j, expected);
      const p = e.traceId !== 0n ? tracePartition(e.traceId, partitions) : j % partitions;
      groups.set(p, [...(groups.get(p) ?? []), e]);
    }
    const messages: Message[] = [];
    for (const [p, events] of groups) {
      for (let k = 0; k < events.length; k += perRecord) messages.push(batchRecord(events.slice(k, k + perRecord), p));
    }
    await producer.send({ topic, acks: -1, messages });
  }
}

/** The settings of one test: its own topic, dead-letter topic, group and database. */
export function testConfig(env: Record<string, string>): Readonly<Config> {
  return loadConfig({ env: { SSF_KAFKA_PARTITIONS: '1', SSF_LOG_LEVEL: 'warn', SSF_MATERIALIZER_METRICS_LISTEN: '127.0.0.1:0', ...env } });
}

/** A materializer of its own for one test: the shared broker, its topic and group, its own database. */
export function materializerConfig(o: {
  topic: string;
  clickhouseUrl: string;
  database: string;
  batchRows: number;
  batchMs: number;
  batchBytes?: number;
}): Readonly<Config> {
  return testConfig({
    SSF_KAFKA_BROKERS: kafkaBrokers().join(','),
    SSF_KAFKA_SPANS_TOPIC: o.topic,
    SSF_KAFKA_DEAD_LETTER_TOPIC: `${o.topic}.dlq`,
    SSF_KAFKA_CONSUMER_GROUP: `mat-${o.topic}`,
    SSF_CLICKHOUSE_URL: o.clickhouseUrl,
    SSF_CLICKHOUSE_DATABASE: uniqueDatabase(o.database),
    SSF_MATERIALIZER_BATCH_ROWS: String(o.batchRows),
    SSF_MATERIALIZER_BATCH_MS: String(o.batchMs),
    ...(o.batchBytes === undefined ? {} : { SSF_MATERIALIZER_BATCH_BYTES: String(o.batchBytes) }),
  });
}

export interface Counts {
  spans: number;
  uniqSpans: number;
  logs: number;
  uniqLogs: number;
  samples: number;
  uniqSamples: number;
  /** sum(count) of mat.hits in metrics_1m and metrics_1h (weighted by 1 / sample_rate). */
  hits1m: number;
  hits1h: number;
  /** sum(count) of ssf.span.duration in metrics_1m: one per span. */
  spanDurations: number;
  /** sum(spans) of trace_index. */
  traceIndexSpans: number;
}

/** The counts of the database, or of one tenant's rows only (the cluster tests, through the Distributed tables). */
export async function counts(ch: ClickHouse, tenant?: string): Promise<Counts> {
  const db = ch.database;
  const only = tenant === undefined ? '' : 'tenant = {t:String}';
  const where = only === '' ? '' : ` WHERE ${only}`;
  const and = only === '' ? '' : ` AND ${only}`;
  const query = `SELECT
    (SELECT count() FROM ${db}.spans${where}) AS spans,
    (SELECT uniqExact(span_id) FROM ${db}.spans${where}) AS uniqSpans,
    (SELECT count() FROM ${db}.logs${where}) AS logs,
    (SELECT uniqExact(body) FROM ${db}.logs${where}) AS uniqLogs,
    (SELECT count() FROM ${db}.samples${where}) AS samples,
    (SELECT uniqExact(tags['seq']) FROM ${db}.samples${where}) AS uniqSamples,
    (SELECT sum(count) FROM ${db}.metrics_1m WHERE name = 'mat.hits'${and}) AS hits1m,
    (SELECT sum(count) FROM ${db}.metrics_1h WHERE name = 'mat.hits'${and}) AS hits1h,
    (SELECT sum(count) FROM ${db}.metrics_1m WHERE name = 'ssf.span.duration'${and}) AS spanDurations,
    (SELECT sum(spans) FROM ${db}.trace_index${where}) AS traceIndexSpans`;
  const query_params = tenant === undefined ? {} : { t: tenant };
  const [row] = await (await ch.client.query({ query, query_params, format: 'JSONEachRow' })).json<Record<keyof Counts, string | number>>();
  const out = {} as Counts;
  for (const k of Object.keys(row ?? {}) as Array<keyof Counts>) out[k] = Number(row?.[k] ?? 0);
  return out;
}

/** The counts exactly N events must give: no row lost, none doubled, rollups included. */
export function exactCounts(e: Expected): Counts {
  return {
    spans: e.spans,
    uniqSpans: e.spans,
    logs: e.logs,
    uniqLogs: e.logs,
    samples: e.samples,
    uniqSamples: e.samples,
    hits1m: e.hits * 2,
    hits1h: e.hits * 2,
    spanDurations: e.spans,
    traceIndexSpans: e.spans,
  };
}

/**
 * Waits until every expected row is there (distinct rows, so doubles cannot
 * make up for missing ones) or the deadline, then a little longer so that
 * late doubles would show.
 */
export async function settle(ch: ClickHouse, e: Expected, timeoutMs: number, holdMs = 1_500): Promise<Counts> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await counts(ch).catch(() => undefined);
    if (c && c.uniqSpans >= e.spans && c.uniqLogs >= e.logs && c.uniqSamples >= e.samples) break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, holdMs));
  return counts(ch);
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface DeadLetterRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Reads `count` records of a topic from the beginning (no decoding), then 500 ms more to catch extras. */
export async function readRaw(brokers: string[], topic: string, count: number, timeoutMs = 20_000): Promise<DeadLetterRecord[]> {
  const consumer = new Kafka({ clientId: 'mat-test-reader', brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: `reader-${topic}-${Math.random()}`,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: DeadLetterRecord[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
      out.push({ key: message.key, value: message.value, headers });
      if (out.length >= count) done();
    },
  });
  const timer = setTimeout(done, timeoutMs);
  await finished;
  clearTimeout(timer);
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();
  return out;
}

/** What a materializer test runs on: a topic of its own, a producer, a materializer process reading it, a client of its database. */
export interface MaterializerRig {
  topic: string;
  producer: Producer;
  running: MaterializerProcess;
  ch: ClickHouse;
  /** Stops the producer, the materializer and the client. */
  close(): Promise<void>;
}

/**
 * Starts a MaterializerRig on the shared Kafka and ClickHouse. `beforeStart`
 * produces what should be in the topic before the materializer joins (a new
 * group reads from the beginning).
 */
export async function startRig(o: {
  name: string;
  database: string;
  batchRows: number;
  batchMs: number;
  batchBytes?: number;
  beforeStart?: (producer: Producer, topic: string) => Promise<void>;
}): Promise<MaterializerRig> {
  const topic = await freshTopic(kafkaBrokers(), o.name);
  const config = materializerConfig({
    topic,
    clickhouseUrl: clickhouseUrl(),
    database: o.database,
    batchRows: o.batchRows,
    batchMs: o.batchMs,
    ...(o.batchBytes === undefined ? {} : { batchBytes: o.batchBytes }),
  });
  const producer = await connectProducer(kafkaBrokers());
  await o.beforeStart?.(producer, topic);
  const running = await startMaterializerProcess(config, { heartbeatIntervalMs: 1_000 });
  const ch = await createClickHouse(config.clickhouse);
  return {
    topic,
    producer,
    running,
    ch,
    async close() {
      await producer.disconnect();
      await running.stop();
      await ch.close();
    },
  };
}
