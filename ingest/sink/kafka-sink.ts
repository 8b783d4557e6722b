import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import type { Message, Producer, SASLOptions } from 'kafkajs';
import type { Config } from '../../src/config/config-schema.js';
import { GatewayError } from '../gateway/gateway-errors.js';
import type { AcceptedSpan, SinkObserver, SinkStatus, SpanSink } from './span-sink.js';

/** Kafka record format version (header `ssf-format`); docs/architecture.md. */
export const RECORD_FORMAT = '1';

interface Pending {
  messages: Message[];
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

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

/**
 * Publishes spans to the spans topic, one record per span keyed by trace id,
 * acks=all, compressed. kafkajs has no linger of its own, so this batches:
 * records wait at most `kafka.lingerMs` or until `kafka.batchBytes` are
 * pending, then go in one sendBatch. The buffer is bounded
 * (`kafka.bufferBytes`): past it publish() fails at once with 503, and
 * while Kafka is failing it is not `accepting` (UDP drops are counted).
 */
export class KafkaSink implements SpanSink {
  readonly name = 'kafka';
  private readonly producer: Producer;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private inFlightBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private lastError: string | undefined;
  private failingSince = 0;
  private lastFailureAt = 0;
  private connected = false;
  private closed = false;

  observer?: SinkObserver | undefined;

  constructor(private readonly config: Config['kafka'], options: { quiet?: boolean } = {}) {
    this.producer = kafkaClient(config, 'gateway', options.quiet ? logLevel.NOTHING : logLevel.ERROR).producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Not kafkajs's experimental idempotent mode: duplicates from a retried
      // send are removed downstream (insert deduplication in the materializer).
      idempotent: false,
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /**
   * A circuit breaker for UDP: closed while Kafka answers; open for 2 s after
   * a failed send (datagrams are dropped and counted), then half-open: the
   * next datagrams are tried again and their send decides.
   */
  get accepting(): boolean {
    if (this.closed || this.bufferedBytes() >= this.config.bufferBytes) return false;
    return this.failingSince === 0 || Date.now() - this.lastFailureAt > 2_000;
  }

  private bufferedBytes(): number {
    return this.pendingBytes + this.inFlightBytes;
  }

  publish(spans: AcceptedSpan[], receivedNs: bigint): Promise<void> {
    if (spans.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', 'the gateway is shutting down', 1));
    const received = receivedNs.toString();
    const timestamp = (receivedNs / 1_000_000n).toString();
    let bytes = 0;
    const messages: Message[] = spans.map((s) => {
      bytes += s.bytes.length + 64;
      return {
        key: s.key,
        value: Buffer.from(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength),
        timestamp,
        headers: { 'ssf-format': RECORD_FORMAT, 'ssf-received-ns': received },
      };
    });
    if (this.bufferedBytes() + bytes > this.config.bufferBytes) {
      return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', `the Kafka produce buffer is full (${this.config.bufferBytes} bytes)${this.lastError ? `; last Kafka error: ${this.lastError}` : ''}`, 1));
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ messages, bytes, resolve, reject });
      this.pendingBytes += bytes;
      if (this.pendingBytes >= this.config.batchBytes) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.config.lingerMs);
    });
  }

  /** Sends everything pending as one batch. */
  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlightBytes += bytes;
    const messages = batch.flatMap((p) => p.messages);
    const started = process.hrtime.bigint();
    const send = (async () => {
      try {
        if (!this.connected) await this.connect();
        await this.producer.send({
          topic: this.config.spansTopic,
          acks: -1,
          compression: this.config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
          messages,
        });
        this.failingSince = 0;
        this.lastError = undefined;
        this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, messages.length, true);
        for (const p of batch) p.resolve();
      } catch (err) {
        this.failingSince ||= Date.now();
        this.lastError = (err as Error).message;
        this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, messages.length, false);
        const error = GatewayError.of('GW_ERR_UNAVAILABLE', `Kafka did not acknowledge the records: ${this.lastError}`, 2);
        this.lastFailureAt = Date.now();
        for (const p of batch) p.reject(error);
      } finally {
        this.inFlightBytes -= bytes;
      }
    })();
    this.inFlight.add(send);
    void send.finally(() => this.inFlight.delete(send));
  }

  status(): SinkStatus {
    if (this.failingSince) return { ok: false, detail: `Kafka failing for ${Math.round((Date.now() - this.failingSince) / 1000)} s: ${this.lastError ?? ''}` };
    return { ok: true, detail: `Kafka ${this.config.brokers.join(',')} (${this.bufferedBytes()} bytes buffered)` };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    await Promise.allSettled([...this.inFlight]);
    await this.producer.disconnect().catch(() => undefined);
  }
}
