import { gzipSync } from 'node:zlib';
import kafkajs, { CompressionTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createKafka } from '../../src/kafka/kafka-client.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { kafkaBrokers } from '../setup/services.js';

/*
 * The gzip codec every client gets from createKafka (src/kafka/kafka-client.ts):
 * zlib at `kafka.gzipLevel`, called synchronously. Its output must be what zlib
 * gives at that level (not kafkajs's default 6), and records it compressed must
 * pass the real broker's validation and come back whole through a consumer.
 */

const config = (suffix: string, level: number) =>
  loadConfig({
    env: {
      SSF_KAFKA_BROKERS: kafkaBrokers().join(','),
      SSF_KAFKA_SPANS_TOPIC: `gzip-codec-${suffix}`,
      SSF_KAFKA_DEAD_LETTER_TOPIC: `gzip-codec-dlq-${suffix}`,
      SSF_KAFKA_PARTITIONS: '1',
      SSF_KAFKA_GZIP_LEVEL: String(level),
    },
  });

/** Text that compresses differently at levels 1 and 9. */
const sample = Buffer.from(Array.from({ length: 4_000 }, (_, i) => `span ${i % 97} service-${i % 13} took ${(i * 7919) % 1000} ms`).join('\n'));

describe('the Kafka gzip codec', () => {
  it('compresses at kafka.gzipLevel, and decompresses what it compressed', async () => {
    for (const level of [1, 9]) {
      createKafka(config(`level-${level}`, level).kafka, 'test');
      const codec = kafkajs.CompressionCodecs[CompressionTypes.GZIP]();
      const packed = await codec.compress({ buffer: sample });
      expect(Buffer.compare(packed, gzipSync(sample, { level }))).toBe(0);
      expect(Buffer.compare(await codec.decompress(packed), sample)).toBe(0);
    }
    expect(gzipSync(sample, { level: 1 }).length).not.toBe(gzipSync(sample, { level: 9 }).length);
  });

  it('refuses a corrupt batch with an error, as the asynchronous codec did', async () => {
    createKafka(config('corrupt', 1).kafka, 'test');
    const codec = kafkajs.CompressionCodecs[CompressionTypes.GZIP]();
    const packed = Buffer.from(gzipSync(sample, { level: 1 }));
    packed[20] = (packed[20] as number) ^ 0xff;
    await expect(codec.decompress(packed)).rejects.toThrow();
  });

  it('records it compressed pass the broker and come back whole', async () => {
    const c = config(`roundtrip-${Date.now()}`, 1);
    await ensureTopics(c.kafka);
    const kafka = createKafka(c.kafka, 'test');
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 50 }, (_, i) => Buffer.concat([Buffer.from(`record ${i} `), sample.subarray(i * 1_000, i * 1_000 + 20_000)]));
    try {
      await producer.send({ topic: c.kafka.spansTopic, acks: -1, compression: CompressionTypes.GZIP, messages: values.map((value) => ({ value })) });
    } finally {
      await producer.disconnect();
    }
    const consumer = kafka.consumer({ groupId: `${c.kafka.spansTopic}-reader` });
    await consumer.connect();
    const got: Buffer[] = [];
    try {
      await consumer.subscribe({ topic: c.kafka.spansTopic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ message }) => {
              got.push(message.value as Buffer);
              if (got.length === values.length) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    expect(got.map((v) => v.toString('latin1'))).toEqual(values.map((v) => v.toString('latin1')));
  });
});
