import { logLevel } from 'kafkajs';
import type { KafkaMessage } from 'kafkajs';
import { decodeRawSpan, splitBatch } from '../../src/codec/index.js';
import type { Config } from '../../src/config/config-schema.js';
import { createKafka } from '../../src/kafka/kafka-client.js';
import { BATCH_FORMAT, formatOf } from '../../src/kafka/record-format.js';
import type { ReplayInput, ReplayItem, ReplaySource } from './replay-sources.js';
import { JobInputError } from './job-input-error.js';

export interface KafkaRange {
  topic: string;
  partition: number;
  startOffset: number;
  /** First offset not replayed; undefined: the partition's end when the replay first ran. */
  endOffset: number | undefined;
  /** Keep only spans the gateway stamped with this tenant (field 101). */
  onlyTenant: string | undefined;
}

/** The SSFSpans of one record: an SSFBatch (header `ssf-format: ssf-batch/1`, what the gateway writes) or one span. */
export function recordSpans(message: KafkaMessage): Uint8Array[] {
  const value = message.value ?? Buffer.alloc(0);
  return formatOf(message.headers) === BATCH_FORMAT ? splitBatch(value) : [value];
}

/**
 * An offset range of one partition of a spans topic. Its records are read
 * with a consumer group of its own that never commits (the materializer's
 * group is never touched), from the start offset to the end offset. The
 * end defaults to the partition's end when the replay first runs; the caller
 * keeps it in the state file so a rerun replays the same range, not what
 * arrived since.
 */
export function kafkaInput(config: Config['kafka'], range: KafkaRange): ReplayInput {
  if (config.brokers.length === 0) throw new JobInputError('no Kafka brokers: give --brokers HOST:PORT or set $SSF_KAFKA_BROKERS');
  return {
    identity: {
      source: 'kafka',
      brokers: [...config.brokers].sort(),
      topic: range.topic,
      partition: range.partition,
      startOffset: range.startOffset,
      endOffset: range.endOffset ?? null,
      onlyTenant: range.onlyTenant ?? null,
    },
    open: (recordedEnd) => openKafka(config, range, recordedEnd),
  };
}

async function openKafka(config: Config['kafka'], range: KafkaRange, recordedEnd: number | undefined): Promise<ReplaySource> {
  const kafka = createKafka(config, 'replay', logLevel.NOTHING);
  const admin = kafka.admin();
  await admin.connect();
  let low: number;
  let high: number;
  let partitions: number;
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(range.topic)) throw new JobInputError(`topic ${range.topic} does not exist`);
    const offsets = await admin.fetchTopicOffsets(range.topic);
    const p = offsets.find((o) => o.partition === range.partition);
    if (!p) throw new JobInputError(`topic ${range.topic} has no partition ${range.partition} (partitions 0-${offsets.length - 1})`);
    low = Number(p.low);
    high = Number(p.high);
    partitions = offsets.length;
  } finally {
    await admin.disconnect();
  }
  const end = range.endOffset ?? recordedEnd ?? high;
  if (range.startOffset < low)
    throw new JobInputError(`offset ${range.startOffset} of ${range.topic}/${range.partition} is gone (the earliest kept is ${low})`);
  if (end > high) throw new JobInputError(`--end-offset ${end} is past the end of ${range.topic}/${range.partition} (${high})`);
  if (end < range.startOffset) throw new JobInputError(`--end-offset ${end} is before --start-offset ${range.startOffset}`);

  return {
    kind: 'protobuf',
    start: range.startOffset,
    end,
    unit: 'records',
    describe: `${range.topic} partition ${range.partition}, offsets ${range.startOffset} to ${end} (end excluded)`,
    async run(from, each, signal) {
      if (from >= end) return;
      const consumer = kafka.consumer({ groupId: `ssf-replay-${process.pid}-${Date.now()}`, allowAutoTopicCreation: false });
      await consumer.connect();
      let finish: (err?: unknown) => void = () => {};
      const finished = new Promise<void>((resolve, reject) => (finish = (err) => (err === undefined ? resolve() : reject(err))));
      const onAbort = (): void => finish();
      signal?.addEventListener('abort', onAbort);
      try {
        await consumer.subscribe({ topic: range.topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
            if (batch.partition !== range.partition) return;
            try {
              for (const message of batch.messages) {
                if (!isRunning() || isStale() || signal?.aborted) return;
                const offset = Number(message.offset);
                if (offset < from) continue;
                if (offset >= end) return finish();
                let encoded = recordSpans(message);
                if (range.onlyTenant !== undefined) encoded = encoded.filter((bytes) => decodeRawSpan(bytes).tenant === range.onlyTenant);
                const item: ReplayItem = { next: offset + 1, encoded };
                await each(item);
                await heartbeat();
              }
              // Offsets without a record (transaction markers, compaction) end the range too.
              if (Number(batch.lastOffset()) + 1 >= end) finish();
            } catch (err) {
              finish(err);
            }
          },
        });
        // The group is ours alone, so it is given every partition: fetch only the one replayed.
        const others = Array.from({ length: partitions }, (_v, p) => p).filter((p) => p !== range.partition);
        if (others.length > 0) consumer.pause([{ topic: range.topic, partitions: others }]);
        consumer.seek({ topic: range.topic, partition: range.partition, offset: String(from) });
        await finished;
      } finally {
        signal?.removeEventListener('abort', onAbort);
        await consumer.disconnect();
      }
    },
  };
}
