import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../../src/config/config-schema.js';
import { FailureBreaker } from './failure-breaker.js';
import { sinkError, SinkErrors, sinkFull, sinkTooLarge } from './sink-errors.js';
import type { SinkErrorCode } from './sink-errors.js';
import type { SinkObserver, SinkStatus, SpanPack, SpanSink } from './span-sink.js';
import type { ToMain, ToWorker } from './kafka-thread-worker.js';
import { packSize, packTransfer } from './span-pack.js';

interface Waiting {
  resolve: () => void;
  reject: (err: unknown) => void;
  bytes: number;
}

/**
 * The Kafka sink on its own thread. kafkajs (record encoding, compression,
 * the protocol) costs the gateway as much CPU as validating the spans does;
 * on the event loop it would stall UDP reads and lose datagrams. Here the
 * main thread validates and hands each batch's span bytes to a worker that
 * runs KafkaSink; publish() settles when the worker reports Kafka's answer.
 * The same bound, circuit breaker and errors as KafkaSink.
 */
export class KafkaThreadSink implements SpanSink {
  readonly name = 'kafka';
  observer?: SinkObserver | undefined;
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private outstandingBytes = 0;
  private lastStatus: SinkStatus = { ok: true, detail: 'Kafka (starting)' };
  private readonly breaker = new FailureBreaker();
  private closed = false;
  private ready: Promise<void>;

  constructor(
    private readonly config: Config['kafka'],
    options: { quiet?: boolean } = {},
  ) {
    const workerData = { config, quiet: options.quiet ?? false };
    // The worker is this file's sibling, in the same language: built JavaScript,
    // or TypeScript where a loader for it runs (the tests; workers inherit execArgv).
    // A young generation of 6 MB: kafkajs's garbage per request is short-lived, and V8's
    // default lets it grow to tens of MB of RSS under full load (the gateway bench). Small,
    // because the garbage that weighs is not on the heap: the Buffers of each request
    // (records, kafkajs's encoders, the compressed copy) are freed only when a scavenge finds
    // their handles dead, and a young generation that fills less often let them pile up (the
    // bench: 44 MB of ArrayBuffers after its HTTP phase at 16 MB, 34 MB at 6 MB).
    this.worker = new Worker(new URL(`./kafka-thread-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url), {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 6 },
    });
    this.worker.unref();
    let failStart: (err: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      failStart = reject;
      const onMessage = (m: ToMain): void => {
        if (m.type === 'connected') {
          this.worker.off('message', onMessage);
          resolve();
        } else if (m.type === 'connect-failed') {
          this.worker.off('message', onMessage);
          reject(new Error(m.reason));
        }
      };
      this.worker.on('message', onMessage);
    });
    this.worker.on('message', (m: ToMain) => this.onMessage(m));
    this.worker.on('error', (err) => {
      failStart(err);
      this.lastStatus = { ok: false, detail: `the Kafka thread failed: ${err.message}` };
      this.breaker.failed();
      for (const w of this.waiting.values()) w.reject(sinkError(this.lastStatus.detail, 2));
      this.waiting.clear();
      this.outstandingBytes = 0;
    });
  }

  /** Connects the worker's producer (and reads the topic's partition count). */
  async connect(): Promise<void> {
    this.post({ type: 'connect' });
    await this.ready;
  }

  get accepting(): boolean {
    if (this.closed || this.outstandingBytes >= this.config.bufferBytes) return false;
    return this.breaker.accepting;
  }

  publish(pack: SpanPack): Promise<void> {
    if (pack.ends.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(sinkError('the gateway is shutting down', 1));
    const bytes = packSize(pack);
    // More than the whole buffer can never fit: refused for good, not "retry later" (a retry would fail the same way).
    if (bytes > this.config.bufferBytes) return Promise.reject(sinkTooLarge(bytes, this.config.bufferBytes, 'bytes', 'kafka.bufferBytes'));
    if (this.outstandingBytes + bytes > this.config.bufferBytes) {
      return Promise.reject(sinkFull(`the Kafka produce buffer is full (${this.config.bufferBytes} bytes)`));
    }
    // The pack's memory moves to the worker (transferred, not cloned).
    // (`bytes` is the pack's size: packSize() cannot be asked once its memory has moved.)
    const id = this.nextId++;
    this.outstandingBytes += bytes;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, bytes });
      this.post({ type: 'publish', id, pack }, packTransfer(pack));
    });
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private onMessage(m: ToMain): void {
    if (m.type === 'published') {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      this.outstandingBytes -= w.bytes;
      if (m.error) {
        this.breaker.failed();
        const code = (SinkErrors.codes as readonly string[]).includes(m.error.code) ? (m.error.code as SinkErrorCode) : 'SINK_ERR_UNAVAILABLE';
        w.reject(SinkErrors.error(code, m.error.reason, { retryAfterSeconds: m.error.retryAfterSeconds }));
      } else {
        this.breaker.succeeded();
        w.resolve();
      }
    } else if (m.type === 'observed') {
      this.observer?.observeSink('kafka', m.seconds, m.records, m.ok);
    } else if (m.type === 'status') {
      this.lastStatus = m.status;
    }
  }

  status(): SinkStatus {
    this.post({ type: 'status' });
    return this.breaker.failing ? { ok: false, detail: this.lastStatus.detail } : this.lastStatus;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const done = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Keep the process alive until the worker has flushed what it holds.
    this.worker.ref();
    this.post({ type: 'close' });
    await done;
    for (const w of this.waiting.values()) w.reject(sinkError('the gateway shut down', 1));
    this.waiting.clear();
  }
}
