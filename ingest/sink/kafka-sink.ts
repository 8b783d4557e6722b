import { promisify } from 'node:util';
import zlib from 'node:zlib';
import kafkajs, { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import type { Message, Producer, SASLOptions } from 'kafkajs';
import type { Config } from '../../src/config/config-schema.js';
import { GatewayError } from '../gateway/gateway-errors.js';
import { AckBatcher } from './ack-batcher.js';
import { packEncoded, packSize, packSpans } from './span-pack.js';
import type { SpanPack } from './span-pack.js';
import type { AcceptedSpan, SinkObserver, SinkStatus, SpanSink } from './span-sink.js';

const gzip = promisify(zlib.gzip) as (buffer: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;
const unzip = promisify(zlib.unzip) as (buffer: Buffer) => Promise<Buffer>;
// gzip level of produced batches (`kafka.gzipLevel`; kafkajs's own codec uses
// zlib's default, 6). kafkajs looks its codecs up in one table per module
// instance (each thread has its own), so the level is set by the sink.
let gzipLevel = 1;
kafkajs.CompressionCodecs[CompressionTypes.GZIP] = () => ({
  compress: (encoder: { buffer: Buffer }) => gzip(encoder.buffer, { level: gzipLevel }),
  decompress: (buffer: Buffer) => unzip(buffer),
});

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

// tracePartition's multiplier, 0x9e3779b97f4a7c15, as 32-bit halves.
const MIX_HI = 0x9e3779b9;
const MIX_LO = 0x7f4a7c15;

/**
 * tracePartition() of a trace id given as unsigned 32-bit halves, in 32-bit
 * arithmetic (no bigint per span): bits 32-63 of trace_id * MIX (mod 2^64)
 * are the high half of lo * MIX_LO plus the low halves of lo * MIX_HI and
 * hi * MIX_LO.
 */
export function tracePartitionOf(lo: number, hi: number, partitions: number): number {
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  const b0 = MIX_LO & 0xffff;
  const b1 = MIX_LO >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const high = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  const mixed = (high + (Math.imul(lo, MIX_HI) >>> 0) + (Math.imul(hi, MIX_LO) >>> 0)) % 0x1_0000_0000;
  return mixed % partitions;
}

const TWO_32 = 0x1_0000_0000n;

/** The partition of a trace: stable, so every span of a trace lands on the same one. */
export function tracePartition(traceId: bigint, partitions: number): number {
  const t = BigInt.asUintN(64, traceId);
  return tracePartitionOf(Number(t % TWO_32), Number(t / TWO_32), partitions);
}

/** Spans of one record: where each one sits (pack, start, end), three numbers per span. */
interface RecordGroup {
  refs: number[];
  size: number;
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
  readonly needsEvents = false;
  observer?: SinkObserver | undefined;
  private readonly producer: Producer;
  private readonly batcher: AckBatcher<SpanPack>;
  private partitions = 0;
  private nextPartition = 0;
  private lastError: string | undefined;
  private failingSince = 0;
  private lastFailureAt = 0;
  private connected = false;
  private closed = false;

  constructor(private readonly config: Config['kafka'], options: { quiet?: boolean } = {}) {
    gzipLevel = config.gzipLevel;
    this.producer = kafkaClient(config, 'gateway', options.quiet ? logLevel.NOTHING : logLevel.ERROR).producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Not kafkajs's experimental idempotent mode: duplicates from a retried
      // send are removed downstream (insert deduplication in the materializer).
      idempotent: false,
    });
    this.batcher = new AckBatcher<SpanPack>({
      flushAt: config.batchBytes,
      lingerMs: config.lingerMs,
      limit: config.bufferBytes,
      send: (packs) => this.send(packs),
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
    if (spans.length === 0) return Promise.resolve();
    return this.publishPack(packSpans(spans));
  }

  /** Spans already stamped, with their trace ids (tools and benchmarks). */
  publishEncoded(spans: EncodedSpan[]): Promise<void> {
    if (spans.length === 0) return Promise.resolve();
    return this.publishPack(packEncoded(spans));
  }

  /** What publish() does, from a pack (what the Kafka thread receives). */
  publishPack(pack: SpanPack): Promise<void> {
    if (pack.ends.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', 'the gateway is shutting down', 1));
    const bytes = packSize(pack);
    if (!this.batcher.fits(bytes)) {
      return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', `the Kafka produce buffer is full (${this.config.bufferBytes} bytes)${this.lastError ? `; last Kafka error: ${this.lastError}` : ''}`, 1));
    }
    return this.batcher.add([pack], bytes);
  }

  /**
   * Packs -> one SSFBatch record per partition (split at MAX_RECORD_BYTES),
   * each span copied once, straight into the record's value.
   */
  private records(packs: readonly SpanPack[]): Message[] {
    const n = this.partitions;
    const groups: RecordGroup[][] = Array.from({ length: n }, () => []);
    for (let k = 0; k < packs.length; k++) {
      const { ends, traces } = packs[k] as SpanPack;
      let start = 0;
      for (let i = 0; i < ends.length; i++) {
        const end = ends[i] as number;
        const lo = traces[2 * i] as number;
        const hi = traces[2 * i + 1] as number;
        const p = (lo | hi) !== 0 ? tracePartitionOf(lo, hi, n) : (this.nextPartition = (this.nextPartition + 1) % n);
        const list = groups[p] as RecordGroup[];
        const size = end - start + (end - start < 0x80 ? 2 : end - start < 0x4000 ? 3 : end - start < 0x200000 ? 4 : 5);
        let group = list[list.length - 1];
        if (group === undefined || (group.size + size > MAX_RECORD_BYTES && group.refs.length > 0)) list.push((group = { refs: [], size: 0 }));
        group.refs.push(k, start, end);
        group.size += size;
        start = end;
      }
    }
    const sources = packs.map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength));
    const messages: Message[] = [];
    for (let partition = 0; partition < n; partition++) {
      for (const g of groups[partition] as RecordGroup[]) {
        const value = Buffer.allocUnsafe(g.size);
        const refs = g.refs;
        let at = 0;
        for (let j = 0; j < refs.length; j += 3) {
          const start = refs[j + 1] as number;
          const end = refs[j + 2] as number;
          // SSFBatch field 1 (spans), wire type 2: tag 0x0a, the length as a varint, the span.
          value[at++] = 0x0a;
          let length = end - start;
          while (length >= 0x80) {
            value[at++] = (length & 0x7f) | 0x80;
            length >>>= 7;
          }
          value[at++] = length;
          at += (sources[refs[j] as number] as Buffer).copy(value, at, start, end);
        }
        messages.push({ partition, value, headers: { 'ssf-format': BATCH_FORMAT } });
      }
    }
    return messages;
  }

  private async send(packs: SpanPack[]): Promise<void> {
    const started = process.hrtime.bigint();
    let spans = 0;
    for (const p of packs) spans += p.ends.length;
    try {
      if (!this.connected) await this.connect();
      const messages = this.records(packs);
      await this.producer.send({
        topic: this.config.spansTopic,
        acks: -1,
        compression: this.config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages,
      });
      this.failingSince = 0;
      this.lastError = undefined;
      this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, spans, true);
    } catch (err) {
      this.failingSince ||= Date.now();
      this.lastFailureAt = Date.now();
      this.lastError = (err as Error).message;
      this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, spans, false);
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
