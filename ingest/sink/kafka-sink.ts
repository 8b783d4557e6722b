import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import type { Message, Producer, SASLOptions } from 'kafkajs';
import type { Config } from '../../src/config/config-schema.js';
import { GatewayError } from '../gateway/gateway-errors.js';
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

/**
 * Publishes spans to the spans topic, one record per span keyed by trace id,
 * acks=all, compressed. kafkajs has no linger of its own, so records wait at
 * most `kafka.lingerMs` or until `kafka.batchBytes` are pending, then go in
 * one send. The buffer is bounded (`kafka.bufferBytes`): past it publish()
 * fails at once with 503. After a failed send the sink stops accepting UDP
 * for 2 s (a circuit breaker), then tries again.
 */
export class KafkaSink implements SpanSink {
  readonly name = 'kafka';
  observer?: SinkObserver | undefined;
  private readonly producer: Producer;
  private readonly batcher: AckBatcher<Message>;
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
    this.batcher = new AckBatcher<Message>({
      flushAt: config.batchBytes,
      lingerMs: config.lingerMs,
      limit: config.bufferBytes,
      send: (messages) => this.send(messages),
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  get accepting(): boolean {
    if (this.closed || !this.batcher.fits(1)) return false;
    return this.failingSince === 0 || Date.now() - this.lastFailureAt > 2_000;
  }

  publish(spans: AcceptedSpan[]): Promise<void> {
    if (spans.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', 'the gateway is shutting down', 1));
    let bytes = 0;
    // No per-record headers: the record is self-describing (field 102 holds
    // the received time), and headers cost the producer more than the span.
    const messages: Message[] = spans.map((s) => {
      bytes += s.bytes.length + 24;
      return { key: s.key, value: Buffer.from(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength) };
    });
    if (!this.batcher.fits(bytes)) {
      return Promise.reject(GatewayError.of('GW_ERR_UNAVAILABLE', `the Kafka produce buffer is full (${this.config.bufferBytes} bytes)${this.lastError ? `; last Kafka error: ${this.lastError}` : ''}`, 1));
    }
    return this.batcher.add(messages, bytes);
  }

  private async send(messages: Message[]): Promise<void> {
    const started = process.hrtime.bigint();
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
    } catch (err) {
      this.failingSince ||= Date.now();
      this.lastFailureAt = Date.now();
      this.lastError = (err as Error).message;
      this.observer?.observeSink('kafka', Number(process.hrtime.bigint() - started) / 1e9, messages.length, false);
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
