import { logLevel, Partitioners } from 'kafkajs';
import type { Kafka, Message, Producer } from 'kafkajs';
import type { Config } from '../../src/config/config-schema.js';
import { compressionOf, createKafka } from '../../src/kafka/kafka-client.js';
import { BATCH_FORMAT, batchEntrySize, MAX_RECORD_BYTES, tracePartitionOf, writeBatchEntry } from '../../src/kafka/record-format.js';
import { IDEMPOTENCY_HEADER, idempotencyHeader, newProducerId, PRODUCER_HEADER, producerHeader } from '../../src/kafka/record-identity.js';
import { FailureBreaker } from './failure-breaker.js';
import { sinkError, sinkFull, sinkTooLarge } from './sink-errors.js';
import { AckBatcher } from './ack-batcher.js';
import { packSize } from './span-pack.js';
import type { SinkObserver, SinkStatus, SpanPack, SpanSink } from './span-sink.js';

/** How many produce batches (`kafka.batchBytes`) the sink sends at once; more waits in the buffer. */
const MAX_IN_FLIGHT_BATCHES = 4;

/** Spans of one record: where each one sits (pack, start, end), three numbers per span. */
interface RecordGroup {
  refs: number[];
  size: number;
  /** The keyed request of these spans (then the group holds only that request's spans), and its chunk index on the partition. */
  requestId?: string | undefined;
  chunk: number;
}

/**
 * Publishes spans to the spans topic, acks=all, compressed. Spans are grouped
 * by partition (a trace's spans always on the same one) into records whose
 * value is an SSFBatch: kafkajs costs about as much per record as the
 * gateway costs per span, so one record per span would cap the gateway at
 * kafkajs's record rate. kafkajs has no linger of its own, so spans wait at
 * most `kafka.lingerMs` (`kafka.busyLingerMs` when an earlier batch is still
 * unacknowledged) or until `kafka.batchBytes` are pending, then go in one
 * send per partition and 512 KiB of records. The buffer is bounded
 * (`kafka.bufferBytes`): past it publish() fails at once (SINK_ERR_FULL; a request larger than the whole buffer SINK_ERR_TOO_LARGE). After a failed send the sink stops accepting UDP
 * for 2 s (a circuit breaker), then tries again.
 *
 * Every record carries `ssf-producer: <producer id>:<sequence>` (the id is
 * new at each start, the sequence counts per partition, assigned when the
 * record is built): kafkajs's retry of a send writes the same record again,
 * and the materializer drops the copy. The spans of a keyed request (an
 * Idempotency-Key) are put in records of their own, split over partitions
 * and chunks by their content only, each with `ssf-idempotency: <request
 * id>:<chunk>`, so the same request re-sent to any gateway gives records
 * with the same names (docs/architecture.md, "Duplicates from retries").
 */
export class KafkaSink implements SpanSink {
  readonly name = 'kafka';
  observer?: SinkObserver | undefined;
  private readonly producer: Producer;
  private readonly batcher: AckBatcher<SpanPack>;
  private partitions = 0;
  private nextPartition = 0;
  /** This process's producer id and the next sequence of each partition. */
  readonly producerId = newProducerId();
  private seqs: number[] = [];
  private lastError: string | undefined;
  private readonly breaker = new FailureBreaker();
  private connected = false;
  private closed = false;

  constructor(
    private readonly config: Config['kafka'],
    options: { quiet?: boolean } = {},
  ) {
    this.producer = createKafka(config, 'gateway', options.quiet ? logLevel.NOTHING : logLevel.ERROR).producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Not kafkajs's experimental idempotent mode: duplicates from a retried
      // send are removed downstream (insert deduplication in the materializer).
      idempotent: false,
    });
    this.batcher = new AckBatcher<SpanPack>({
      flushAt: config.batchBytes,
      lingerMs: config.lingerMs,
      busyLingerMs: Math.max(config.lingerMs, config.busyLingerMs),
      limit: config.bufferBytes,
      // A batch being sent is held several times over (the records, then kafkajs's encoded
      // record, record set and request, the compressed copy): measured on the gateway bench,
      // the Kafka thread held 4-5 times the 16 MiB bound when every batch could be in flight.
      maxInFlight: Math.min(config.bufferBytes, MAX_IN_FLIGHT_BATCHES * config.batchBytes),
      send: (packs) => this.send(packs),
    });
    this.kafka = createKafka(config, 'gateway-admin', logLevel.NOTHING);
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
    return this.breaker.accepting;
  }

  publish(pack: SpanPack): Promise<void> {
    if (pack.ends.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(sinkError('the gateway is shutting down', 1));
    const bytes = packSize(pack);
    // More than the whole buffer can never fit: refused for good, not "retry later".
    if (bytes > this.config.bufferBytes) return Promise.reject(sinkTooLarge(bytes, this.config.bufferBytes, 'bytes', 'kafka.bufferBytes'));
    if (!this.batcher.fits(bytes)) {
      return Promise.reject(
        sinkFull(`the Kafka produce buffer is full (${this.config.bufferBytes} bytes)${this.lastError ? `; last Kafka error: ${this.lastError}` : ''}`),
      );
    }
    return this.batcher.add([pack], bytes);
  }

  /**
   * Packs -> one SSFBatch record per partition (split at MAX_RECORD_BYTES),
   * each span copied once, straight into the record's value. The spans of a
   * keyed pack get records of their own; its spans outside a trace go round
   * its partitions from a start given by the request id, so that the split
   * depends on the request only.
   */
  private records(packs: readonly SpanPack[]): Message[] {
    const n = this.partitions;
    // Spans outside a trace (statsd carriers, logs without a trace) go to one
    // partition per flush, the next one each flush (as Kafka's own sticky
    // partitioner, which moves on when a batch is full). Round-robin span by
    // span made every flush one record and one produce request on every
    // partition: 18 % more gateway CPU at 700-800k statsd lines/s.
    const sticky = (this.nextPartition = (this.nextPartition + 1) % n);
    const groups: RecordGroup[][] = Array.from({ length: n }, () => []);
    for (let k = 0; k < packs.length; k++) {
      const { ends, traces, requestId } = packs[k] as SpanPack;
      const keyed = requestId !== undefined;
      // Where this pack's own groups start in each partition's list (keyed packs never share a group).
      const from = keyed ? groups.map((g) => g.length) : undefined;
      let untraced = keyed ? Number.parseInt(requestId.slice(0, 8), 16) : 0;
      let start = 0;
      for (let i = 0; i < ends.length; i++) {
        const end = ends[i] as number;
        const lo = traces[2 * i] as number;
        const hi = traces[2 * i + 1] as number;
        const p = (lo | hi) !== 0 ? tracePartitionOf(lo, hi, n) : keyed ? untraced++ % n : sticky;
        const list = groups[p] as RecordGroup[];
        const size = batchEntrySize(end - start);
        let group = list[list.length - 1];
        const mine = group !== undefined && group.requestId === requestId && (!keyed || list.length > (from?.[p] ?? 0));
        if (group === undefined || !mine || (group.size + size > MAX_RECORD_BYTES && group.refs.length > 0)) {
          const chunk = keyed ? list.length - (from?.[p] ?? 0) : 0;
          list.push((group = { refs: [], size: 0, requestId, chunk }));
        }
        group.refs.push(k, start, end);
        group.size += size;
        start = end;
      }
    }
    const sources = packs.map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength));
    const messages: Message[] = [];
    if (this.seqs.length < n) for (let p = this.seqs.length; p < n; p++) this.seqs[p] = 0;
    for (let partition = 0; partition < n; partition++) {
      for (const g of groups[partition] as RecordGroup[]) {
        const value = Buffer.allocUnsafe(g.size);
        const refs = g.refs;
        let at = 0;
        for (let j = 0; j < refs.length; j += 3) {
          at = writeBatchEntry(value, at, sources[refs[j] as number] as Buffer, refs[j + 1] as number, refs[j + 2] as number);
        }
        const seq = (this.seqs[partition] as number) + 1;
        this.seqs[partition] = seq;
        const headers: Record<string, string> = {
          'ssf-format': BATCH_FORMAT,
          [PRODUCER_HEADER]: producerHeader({ producer: this.producerId, seq }),
        };
        if (g.requestId !== undefined) headers[IDEMPOTENCY_HEADER] = idempotencyHeader(g.requestId, g.chunk);
        messages.push({ partition, value, headers });
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
      // One send per partition. kafkajs (2.2.4) loses records when one send spans several
      // leaders: a retry after a leader dies skips every broker that answered the first
      // attempt, so a partition whose leadership moved to such a broker is never sent again,
      // and the send resolves as if it had been (sendMessages.js, responsePerBroker; seen in
      // the cluster's broker-kill test as whole records missing). A send to one partition
      // has one leader: its retry sends everything to the new one.
      // And at most MAX_RECORD_BYTES of records per send: kafkajs makes one send to a
      // partition one record batch, and Kafka refuses a batch past max.message.bytes
      // (1 MiB by default) whole, after compression, whatever its records' sizes (with
      // kafka.compression none, a flush of 1 MiB to one partition was refused, and with it
      // every request batched in it).
      const batches: Message[][] = [];
      /** Per partition: its last batch and the bytes of its records' values. */
      const open = new Map<number, { messages: Message[]; bytes: number }>();
      for (const m of this.records(packs)) {
        const p = m.partition as number;
        const size = (m.value as Buffer).length;
        let last = open.get(p);
        if (last === undefined || last.bytes + size > MAX_RECORD_BYTES) {
          last = { messages: [], bytes: 0 };
          open.set(p, last);
          batches.push(last.messages);
        }
        last.messages.push(m);
        last.bytes += size;
      }
      const compression = compressionOf(this.config);
      const sends = batches.map((messages) => this.producer.send({ topic: this.config.spansTopic, acks: -1, compression, messages }));
      // Every send settles before the answer: a failed flush is reported once all of it is known.
      const outcomes = await Promise.allSettled(sends);
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      this.breaker.succeeded();
      this.lastError = undefined;
      this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, spans, true);
    } catch (err) {
      this.breaker.failed();
      this.lastError = (err as Error).message;
      this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, spans, false);
      // A partition count change shows up as an error: look again before the next send.
      this.connected = false;
      throw sinkError(`Kafka did not acknowledge the records: ${this.lastError}`, 2);
    }
  }

  status(): SinkStatus {
    if (this.breaker.failing) return { ok: false, detail: `Kafka failing for ${this.breaker.failingForSeconds} s: ${this.lastError ?? ''}` };
    return { ok: true, detail: `Kafka ${this.config.brokers.join(',')} (${this.batcher.buffered} bytes buffered)` };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.batcher.drain();
    await this.producer.disconnect().catch(() => undefined);
  }
}
