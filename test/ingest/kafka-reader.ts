import { Kafka, logLevel } from 'kafkajs';
import { decodeSpan, splitBatch } from '../../src/codec/index.js';
import { BATCH_FORMAT } from '../../src/kafka/record-format.js';
import type { SpanEvent } from '../../src/codec/index.js';
import { createTopics } from '../../deploy/local/kafka-broker.js';

export interface ReadRecord {
  key: Buffer | null;
  span: SpanEvent;
  partition: number;
  headers: Record<string, string>;
}

/** A topic of its own for one test, and a reader of everything in it. */
export async function freshTopic(brokers: string[], prefix: string, partitions = 3): Promise<string> {
  const name = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  await createTopics(brokers, [{ name, partitions }]);
  return name;
}

/** Reads the topic from the beginning until `count` spans arrived (or the deadline), with a real consumer group. */
export async function readTopic(brokers: string[], topic: string, count: number, timeoutMs = 30_000): Promise<ReadRecord[]> {
  const kafka = new Kafka({ clientId: 'test-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const records: ReadRecord[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      const headers: Record<string, string> = {};
      for (const [k, h] of Object.entries(message.headers ?? {})) headers[k] = String(h);
      const value = message.value ?? Buffer.alloc(0);
      // The gateway writes SSFBatch records (header ssf-format); one span per record is read too.
      const parts = headers['ssf-format'] === BATCH_FORMAT ? splitBatch(value) : [value];
      for (const part of parts) {
        const v = decodeSpan(part);
        if (!v.ok) throw new Error(`a record in ${topic} holds an invalid span: ${JSON.stringify(v.rejections)}`);
        records.push({ key: message.key, span: v.span, partition, headers });
      }
      if (records.length >= count) done();
    },
  });
  const timer = setTimeout(done, timeoutMs);
  await finished;
  clearTimeout(timer);
  // A little longer, to catch records beyond the expected count (doubles).
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();
  return records;
}
