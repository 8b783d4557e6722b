import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, Producer } from 'kafkajs';
import { encodeSpan } from '../../../src/codec/index.js';
import { createClickHouse } from '../../../src/clickhouse/create-client.js';
import type { ClickHouse } from '../../../src/clickhouse/create-client.js';
import { startMaterializerProcess } from '../../../src/cli/materializer-command.js';
import type { MaterializerProcess } from '../../../src/cli/materializer-command.js';
import { clickhouseUrl, kafkaBrokers, uniqueDatabase } from '../../setup/services.js';
import { freshTopic } from '../kafka-reader.js';
import { connectProducer, emptyExpected, exactCounts, makeEvent, NOW, readRaw, settle, spanRecord, testConfig } from './helpers.js';

// Not protobuf at all: field 1 with wire type 7 (no such type).
const GARBAGE = Buffer.from([0x0f, 0xff, 0xff, 0xff, 0x01, 0x02]);
// A length-delimited field that runs past the end of the buffer.
const TRUNCATED = Buffer.from([0x42, 0x7f, 0x61, 0x62]);
// A well-formed SSFSpan that is neither a trace span nor carries a sample or log (SSF_SPAN_EMPTY).
const EMPTY_SPAN = Buffer.from(encodeSpan({
  version: 0, traceId: 0n, id: 42n, parentId: 0n, startTimestamp: 0n, endTimestamp: 0n, rootStartTimestamp: 0n, error: false,
  service: 'shop', name: '', indicator: false, tags: {}, metrics: [], logs: [], tenant: 'acme', receivedTimestamp: NOW, isTrace: false,
}));

describe('materializer: poison records go to the dead-letter topic, the good ones around them are all written', () => {
  const expected = emptyExpected();
  let running: MaterializerProcess;
  let producer: Producer;
  let ch: ClickHouse;
  let topic: string;

  beforeAll(async () => {
    topic = await freshTopic(kafkaBrokers(), 'mat-dlq');
    const config = testConfig({
      SSF_KAFKA_BROKERS: kafkaBrokers().join(','),
      SSF_KAFKA_SPANS_TOPIC: topic,
      SSF_KAFKA_DEAD_LETTER_TOPIC: `${topic}.dlq`,
      SSF_KAFKA_CONSUMER_GROUP: `mat-${topic}`,
      SSF_CLICKHOUSE_URL: clickhouseUrl(),
      SSF_CLICKHOUSE_DATABASE: uniqueDatabase('mat_dlq'),
      SSF_MATERIALIZER_BATCH_ROWS: '50',
      SSF_MATERIALIZER_BATCH_MS: '100',
    });
    producer = await connectProducer(kafkaBrokers());
    running = await startMaterializerProcess(config, { heartbeatIntervalMs: 1_000 });
    ch = await createClickHouse(config.clickhouse);
  });

  afterAll(async () => {
    await producer?.disconnect();
    await running?.stop();
    await ch?.close();
  });

  it('refuses each poison record with its code and source headers, keeps the good ones', async () => {
    // All on partition 0, poison between good records: one bad record never takes its batch down.
    const poison: Array<{ message: Message; code: string; ssfCode: string }> = [
      { message: { key: Buffer.from('garbage'), value: GARBAGE }, code: 'MAT_ERR_UNDECODABLE', ssfCode: 'SSF_DECODE_FAILED' },
      { message: { key: null, value: TRUNCATED }, code: 'MAT_ERR_UNDECODABLE', ssfCode: 'SSF_DECODE_FAILED' },
      { message: { key: null, value: EMPTY_SPAN }, code: 'MAT_ERR_INVALID_SPAN', ssfCode: 'SSF_SPAN_EMPTY' },
      { message: { key: null, value: null }, code: 'MAT_ERR_UNDECODABLE', ssfCode: '' },
      { message: { key: null, value: Buffer.from(encodeSpan(makeEvent(10_000, emptyExpected()))), headers: { 'ssf-format': '9' } }, code: 'MAT_ERR_UNKNOWN_FORMAT', ssfCode: '' },
    ];
    const messages: Message[] = [];
    for (let i = 0; i < 300; i++) {
      messages.push({ ...spanRecord(makeEvent(i, expected)), partition: 0 });
      if (i % 60 === 30) {
        const p = poison[(i - 30) / 60];
        if (p) messages.push({ ...p.message, partition: 0 });
      }
    }
    await producer.send({ topic, acks: -1, messages });

    const got = await settle(ch, expected, 30_000);
    expect(got).toEqual(exactCounts(expected));

    const dead = await readRaw(kafkaBrokers(), `${topic}.dlq`, poison.length);
    expect(dead).toHaveLength(poison.length);
    const offsets = new Set<string>();
    dead.forEach((d, n) => {
      const p = poison[n];
      expect(d.headers).toMatchObject({
        'ssf-dlq-code': p?.code,
        'ssf-source-topic': topic,
        'ssf-source-partition': '0',
      });
      expect(d.headers['ssf-dlq-reason']).toMatch(/\S/);
      if (p?.ssfCode) {
        expect(d.headers['ssf-dlq-ssf-code']).toBe(p.ssfCode);
        expect(d.headers['ssf-dlq-reason']).toContain(p.ssfCode);
      }
      // The record as received, byte for byte.
      expect(d.value === null ? null : Buffer.from(d.value)).toEqual(p?.message.value === null ? null : Buffer.from(p?.message.value as Buffer));
      expect(d.key === null ? null : Buffer.from(d.key)).toEqual(p?.message.key ?? null);
      offsets.add(d.headers['ssf-source-offset'] ?? '');
    });
    expect(offsets.size).toBe(poison.length);
    // The unknown-format record keeps its own headers next to ours.
    expect(dead[4]?.headers['ssf-format']).toBe('9');

    const m = running.materializer.metrics;
    expect(m.deadLetters.get({ code: 'MAT_ERR_UNDECODABLE' })).toBe(3);
    expect(m.deadLetters.get({ code: 'MAT_ERR_INVALID_SPAN' })).toBe(1);
    expect(m.deadLetters.get({ code: 'MAT_ERR_UNKNOWN_FORMAT' })).toBe(1);
    expect(m.recordsConsumed.get()).toBe(300 + poison.length);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toContain('ssf_materializer_dead_letter_total{code="MAT_ERR_INVALID_SPAN"} 1');
  });
});
