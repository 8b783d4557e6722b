import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Consumer, Producer } from 'kafkajs';
import { createTopics, startKafkaBroker } from '../../deploy/local/kafka-broker.js';
import type { KafkaBroker } from '../../deploy/local/kafka-broker.js';

// Starts its own broker (not the shared one from global setup) so that it can stop it.
const TOPIC = 'kafka-broker-roundtrip';
const N = 1000;

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startKafkaBroker', () => {
  let broker: KafkaBroker | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;

  beforeAll(async () => {
    broker = await startKafkaBroker({ topics: [{ name: TOPIC, partitions: 3 }] });
  }, 180_000);

  afterAll(async () => {
    await producer?.disconnect();
    await consumer?.disconnect();
    await broker?.stop();
  }, 180_000);

  it('creates topics idempotently', async () => {
    if (broker === undefined) throw new Error('no broker');
    const extra = { name: `${TOPIC}-extra`, partitions: 2, configs: { 'retention.ms': '600000' } };
    await createTopics(broker.brokers, [{ name: TOPIC, partitions: 3 }, extra]);
    await createTopics(broker.brokers, [{ name: TOPIC, partitions: 3 }, extra]);
    const admin = new Kafka({ brokers: broker.brokers, logLevel: logLevel.ERROR }).admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC, extra.name] });
      expect(topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([
        [TOPIC, 3],
        [extra.name, 2],
      ]);
    } finally {
      await admin.disconnect();
    }
  });

  it(`delivers ${N} keyed messages across 3 partitions to a consumer group, exactly`, async () => {
    if (broker === undefined) throw new Error('no broker');
    const kafka = new Kafka({ clientId: 'kafka-broker-test', brokers: broker.brokers, logLevel: logLevel.ERROR });

    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const sent = Array.from({ length: N }, (_, i) => ({ key: `k${i % 37}`, value: JSON.stringify({ i, body: `message ${i}` }) }));
    for (let from = 0; from < N; from += 250) {
      await producer.send({ topic: TOPIC, acks: -1, messages: sent.slice(from, from + 250) });
    }

    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    await admin.disconnect();
    const perPartition = offsets.map((o) => Number(o.high) - Number(o.low));
    expect(perPartition.reduce((a, b) => a + b, 0)).toBe(N);
    expect(perPartition.filter((n) => n > 0)).toHaveLength(3);

    consumer = kafka.consumer({ groupId: `kafka-broker-test-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    const received: Array<{ partition: number; key: string; i: number; body: string }> = [];
    let allIn: () => void = () => {};
    const done = new Promise<void>((resolve) => (allIn = resolve));
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const value = JSON.parse(message.value?.toString() ?? 'null') as { i: number; body: string };
        received.push({ partition, key: message.key?.toString() ?? '', ...value });
        if (received.length === N) allIn();
      },
    });
    await done;

    expect(received).toHaveLength(N);
    expect(received.map((r) => r.i).sort((a, b) => a - b)).toEqual(sent.map((_, i) => i));
    for (const r of received) {
      expect(r.key).toBe(`k${r.i % 37}`);
      expect(r.body).toBe(`message ${r.i}`);
    }
    // One key, one partition, in send order.
    const byKey = new Map<string, typeof received>();
    for (const r of received) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
    for (const list of byKey.values()) {
      expect(new Set(list.map((r) => r.partition)).size).toBe(1);
      expect(list.map((r) => r.i)).toEqual([...list.map((r) => r.i)].sort((a, b) => a - b));
    }
    expect(new Set(received.map((r) => r.partition)).size).toBe(3);
  });

  it('stops idempotently, closes the port and removes its temp data dir', async () => {
    if (broker === undefined) throw new Error('no broker');
    await producer?.disconnect();
    await consumer?.disconnect();
    producer = undefined;
    consumer = undefined;
    expect(await portAccepts(broker.port)).toBe(true);
    await Promise.all([broker.stop(), broker.stop()]);
    await broker.stop();
    expect(await portAccepts(broker.port)).toBe(false);
    expect(existsSync(broker.dataDir)).toBe(false);
  });
});
