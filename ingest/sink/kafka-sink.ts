import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import type { Message, Producer, SASLOptions } from 'kafkajs';
import type { Config } from '../../src/config/config-schema.js';
import { GatewayError } from '../gateway/gateway-errors.js';
import { encodeBatchOfEncoded } from '../../src/codec/protobuf.js';
import { AckBatcher } from './ack-batcher.js';
import type { AcceptedSpan, SinkObserver, SinkStatus, SpanSink } from './span-sink.js';

/** kafkajs client options from the configuration (shared by the sink, the materializer and admin tools). */
export function kafkaClient(config: Config['kafka'], clientIdSuffix: string, level: logLevel = logLevel.ERROR): Kafka {
  const credentials = { username: config.saslUsername, password: config.saslPassword };
  const sasl: SASLOptions | undefined =
    config.saslMechanism === 'plain' ? { mechanism: 'plain', ...credentials }
    : config.saslMechanism === 'scram-sha-256' ? { mechanism: 'scram-sha-256', ...credentials }
    : config.saslMechanism === 'scram-sha-512' ? { mechanism: 'scram-sha-512', ...credentials }
    : undefined;
  return new Kafka({
    clientId: `${config.clientId}-${clientIdSuffix}`,
    brokers: [...config.brokers],
    ssl: config.ssl,
    ...(sasl ? { sasl } : {}),
    logLevel: level,
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 5_000 },
  });
}

/** A validated span as the Kafka sink needs it: its trace (for the partition) and its bytes. */
export interface EncodedSpan {
  traceId: bigint;
  bytes: Uint8Array;
}

/** Header `ssf-format` of a record whose value is an SSFBatch (docs/architecture.md). */
export const BATCH_FORMAT = 'ssf-batch/1';
/** Largest record value; Kafka's default max.message.bytes is 1 MiB. */
const MAX_RECORD_BYTES = 512 * 1024;

/** The partition of a trace: stable, so every span of a trace lands on the same one. */
export function tracePartition(traceId: bigint, partitions: number): number {
  const mixed = BigInt.asUintN(64, traceId) * 0x9e3779b97f4a7c15n;
  return Number((BigInt.asUintN(64, mixed) >> 32n) % BigInt(partitions));
}

/**
 * Publishes spans to the spans topic, acks=all, compressed. Spans are grouped
 * by partition (a trace's spans always on the same one) into records whose
 * value is an SSFBatch: kafkajs costs about as much per record as the
 * gateway costs per span, so one record per span would cap the gateway at
 * kafkajs's record rate. kafkajs has no linger of its own, so spans wait at
 * most `kafka.lingerMs` or until `kafka.batchBytes` are pending, then go in
 * one send. The buffer is bounded (`kafka.bufferBytes`): past it publish()
 * fails at once with 503. After a failed send the sink stops accepting UDP
 * for 2 s (a circuit breaker), then tries again.
 */
export class KafkaSink implements SpanSink {
  readonly name = 'kafka';
  observer?: SinkObserver | undefined;
  private readonly producer: Producer;
  private readonly batcher: AckBatcher<EncodedSpan>;
  private partitions = 0;
  private nextPartition = 0;
  private lastError: string | undefined;
  private failingSince = 0;
  private lastFailureAt = 0;
  private connected = false;
  private closed = false;

  constructor(private readonly config: Config['kafka'], options: { quiet?: boolean } = {}) {
    this.producer = kafkaClient(config, 'gateway', options.quiet ? logLevel.NOTHING : logLevel.ERROR).producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Not kafkajs's experimental idempotent mode: duplicates from a retried
      // send are removed downstream (insert deduplication in the materializer).
      idempotent: false,
    });
    this.batcher = new AckBatcher<EncodedSpan>({
      flushAt: config.batchBytes,
      lingerMs: config.lingerMs,
      limit: config.bufferBytes,
      send: (spans) => this.send(spans),
    });
    this.kafka = kafkaClient(config, 'gateway-admin', logLevel.NOTHING);
  }

  private readonly kafka: Kafka;

  async connect(): Promise<void> {
    await this.producer.connect();
    await this.refreshPartitions();
    this.connected = true;
  }

  private async refreshPartitions(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [this.config.spansTopic] });
      this.partitions = meta.topics[0]?.partitions.length ?? 0;
    } finally {
      await admin.disconnect();
    }
    if (this.partitions === 0) throw new Error(`topic ${this.config.spansTopic} has no partitions`);
  }

  get accepting(): boolean {
    if (this.closed || !this.batcher.fits(1)) return false;
    return this.failingSince === 0 || Date.now() - this.lastFailureAt > 2_000;
  }

  publish(spans: AcceptedSpan[]): Promise<void> {
    return this.publishEncoded(spans.map((s) => ({ traceId: s.span.traceId, bytes: s.bytes })));
  }

  /** What publish() does, from the two things it needs of a span (the Kafka thread sends only these). */
  publishEncoded(spans: EncodedSpan[]): Promise<void> {
    if (spans.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', 'the gateway is shutting down', 1));
    let bytes = 0;
    for (const s of spans) bytes += s.bytes.length + 4;
    if (!this.batcher.fits(bytes)) {
      return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', `the Kafka produce buffer is full (${this.config.bufferBytes} bytes)${this.lastError ? `; last Kafka error: ${this.lastError}` : ''}`, 1));
    }
    return this.batcher.add(spans, bytes);
  }

  /** Spans -> one SSFBatch record per partition (split at MAX_RECORD_BYTES). */
  private records(spans: EncodedSpan[]): Message[] {
    const groups = new Map<number, { parts: Uint8Array[]; bytes: number }[]>();
    for (const s of spans) {
      const p = s.traceId !== 0n ? tracePartition(s.traceId, this.partitions) : (this.nextPartition = (this.nextPartition + 1) % this.partitions);
      let list = groups.get(p);
      if (!list) groups.set(p, (list = [{ parts: [], bytes: 0 }]));
      let group = list[list.length - 1] as { parts: Uint8Array[]; bytes: number };
      if (group.bytes + s.bytes.length > MAX_RECORD_BYTES && group.parts.length > 0) list.push((group = { parts: [], bytes: 0 }));
      group.parts.push(s.bytes);
      group.bytes += s.bytes.length + 4;
    }
    const messages: Message[] = [];
    for (const [partition, list] of groups) {
      for (const g of list) {
        const value = encodeBatchOfEncoded(g.parts);
        messages.push({ partition, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength), headers: { 'ssf-format': BATCH_FORMAT } });
      }
    }
    return messages;
  }

  private async send(spans: EncodedSpan[]): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      if (!this.connected) await this.connect();
      const messages = this.records(spans);
      await this.producer.send({
        topic: this.config.spansTopic,
        acks: -1,
        compression: this.config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages,
      });
      this.failingSince = 0;
      this.lastError = undefined;
      this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, spans.length, true);
    } catch (err) {
      this.failingSince ||= Date.now();
      this.lastFailureAt = Date.now();
      this.lastError = (err as Error).message;
      this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, spans.length, false);
      // A partition count change shows up as an error: look again before the next send.
      this.connected = false;
      throw GatewayError.of('GW_ERR_UNAVAILABLE', `Kafka did not acknowledge the records: ${this.lastError}`, 2);
    }
  }

  status(): SinkStatus {
    if (this.failingSince) return { ok: false, detail: `Kafka failing for ${Math.round((Date.now() - this.failingSince) / 1000)} s: ${this.lastError ?? ''}` };
    return { ok: true, detail: `Kafka ${this.config.brokers.join(',')} (${this.batcher.buffered} bytes buffered)` };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.batcher.drain();
    await this.producer.disconnect().catch(() => undefined);
  }
}
