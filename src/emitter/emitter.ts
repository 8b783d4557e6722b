import { AsyncLocalStorage } from 'node:async_hooks';
import { channel } from 'node:diagnostics_channel';
import { basename } from 'node:path';
import { encodeSpan } from '../codec/span-codec.js';
import type { LogRecord, LogSeverity, MetricSample, MetricStatus, MetricType, SpanEvent } from '../codec/types.js';
import { SEVERITY_NUMBER } from '../codec/span-codec.js';
import { BoundedQueue } from './bounded-queue.js';
import type { LogFields, MetricOptions } from './emitter-types.js';
import { consoleLogger } from './logger.js';
import type { EmitterLogger } from './logger.js';
import { timeToNs } from './clock.js';
import type { TimeInput } from './clock.js';
import { Span } from './span.js';
import type { SpanSink } from './span.js';
import { extractTraceparent, injectTraceparent } from './traceparent.js';
import type { SpanContext } from './traceparent.js';
import { createTransport } from './transports/create-transport.js';
import { DROP_REASONS } from './transports/transport.js';
import type { DropReason, Outcome, Transport } from './transports/transport.js';

export interface EmitterOptions {
  /** Where to send: `udp://`, `unix://`, `tcp://`, `http(s)://` (see createTransport). Default `$SSF_ADDRESS` or `udp://127.0.0.1:8128`. */
  address?: string;
  /** The service name on every span. Default `$SSF_SERVICE` or the script's file name. */
  service?: string;
  /** Tags added to every span, sample and log record (explicit tags win). */
  tags?: Record<string, string>;
  /** Fraction of traces kept, decided at the root span and inherited by its children. Default 1. */
  traceSampleRate?: number;
  /** Log records below this level are not sent. Default `trace` (all). */
  minLogLevel?: LogSeverity;
  /** Capacity of the in-memory queue, in events (spans, samples, log records). Default 10,000. */
  maxQueueSize?: number;
  /** A flush starts as soon as this many events are queued. Default 512. */
  flushItems?: number;
  /** And at least this often. Default 1,000 ms. The timer never keeps the process alive. */
  flushIntervalMs?: number;
  /** Standalone samples (or logs) are grouped into carrier spans of at most this many. Default 50. */
  maxEventsPerCarrier?: number;
  /** UDP: largest datagram. Default 65,507. */
  maxDatagramBytes?: number;
  /** HTTP: bearer token. */
  token?: string;
  /** HTTP: largest request body. Default 1 MiB. */
  maxBatchBytes?: number;
  /** HTTP: request timeout. Default 10,000 ms. */
  timeoutMs?: number;
  /** HTTP: retries of a batch on a retriable failure. Default 3. */
  maxRetries?: number;
  logger?: EmitterLogger;
  /** A transport of your own instead of one made from `address`. */
  transport?: Transport;
}

export interface EmitterStats {
  /** Events (spans, samples, log records) accepted into the queue. */
  emitted: number;
  /** Events handed to the transport successfully (for HTTP: acknowledged by the server). */
  sent: number;
  /**
   * Events dropped, by reason. Every emitted event ends up once in `sent` or
   * in one of too_large, send_failed, rejected, internal_error, closed;
   * queue_full and invalid count events that were never emitted.
   */
  dropped: Record<DropReason, number>;
  /** Queue entries now (a span and its samples are one entry). */
  queued: number;
  /** Metric samples skipped by client-side sampling and spans of unsampled traces (not drops). */
  sampledOut: number;
}

/** Published on `ssf:emitter:drop` (node:diagnostics_channel) for every drop: `{ reason, count }`. Free when nobody subscribes. */
export const dropChannel = channel('ssf:emitter:drop');

type Item = { kind: 'span'; span: Span } | { kind: 'sample'; sample: MetricSample } | { kind: 'log'; log: LogRecord; traceId: bigint; spanId: bigint };

const LEVELS: Record<LogSeverity, number> = SEVERITY_NUMBER;
const ZERO_DROPS = (): Record<DropReason, number> => Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;

/**
 * Emits logs, metrics and traces as SSF spans. It never blocks and never
 * throws into the application: events go into a bounded queue (dropped and
 * counted when full, with one warning), flushed by size or interval on the
 * event loop, off the calling code's path.
 */
export class Emitter implements SpanSink {
  readonly service: string;
  private readonly transport: Transport;
  private readonly logger: EmitterLogger;
  private readonly queue: BoundedQueue<Item>;
  private readonly context = new AsyncLocalStorage<Span>();
  private readonly defaultTags: Record<string, string> | undefined;
  private readonly traceSampleRate: number;
  private readonly minLogLevel: number;
  private readonly flushItems: number;
  private readonly maxEventsPerCarrier: number;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly counts: EmitterStats = { emitted: 0, sent: 0, dropped: ZERO_DROPS(), queued: 0, sampledOut: 0 };
  private readonly warned = new Set<DropReason>();
  private flushScheduled = false;
  private flushing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: EmitterOptions = {}) {
    this.logger = options.logger ?? consoleLogger;
    this.service = options.service ?? process.env['SSF_SERVICE'] ?? (process.argv[1] ? basename(process.argv[1]).replace(/\.[cm]?[jt]s$/, '') : 'unknown');
    this.defaultTags = options.tags && Object.keys(options.tags).length > 0 ? { ...options.tags } : undefined;
    this.traceSampleRate = clamp01(options.traceSampleRate ?? 1);
    this.minLogLevel = LEVELS[options.minLogLevel ?? 'trace'] ?? 0;
    this.queue = new BoundedQueue(Math.max(1, options.maxQueueSize ?? 10_000));
    this.flushItems = Math.max(1, options.flushItems ?? 512);
    this.maxEventsPerCarrier = Math.max(1, options.maxEventsPerCarrier ?? 50);
    this.transport = options.transport ?? this.makeTransport(options);
    this.flushTimer = setInterval(() => this.scheduleFlush(), Math.max(10, options.flushIntervalMs ?? 1000));
    this.flushTimer.unref();
  }

  private makeTransport(options: EmitterOptions): Transport {
    const address = options.address ?? process.env['SSF_ADDRESS'] ?? 'udp://127.0.0.1:8128';
    try {
      return createTransport(address, {
        logger: this.logger,
        maxDatagramBytes: options.maxDatagramBytes,
        token: options.token,
        maxBatchBytes: options.maxBatchBytes,
        timeoutMs: options.timeoutMs,
        maxRetries: options.maxRetries,
      });
    } catch (err) {
      this.logger.warn(`${(err as Error).message}; events will be dropped and counted`);
      return deadTransport;
    }
  }

  // ---- traces ---------------------------------------------------------------

  /**
   * Starts a span. Its parent is `options.parent` when given (a Span, a
   * SpanContext from extract(), or null for a new trace), else the active span.
   */
  startSpan(name: string, options: StartSpanOptions = {}): Span {
    try {
      const parent =
        options.parent === null
          ? undefined
          : options.parent instanceof Span
            ? options.parent.context()
            : (options.parent ?? this.context.getStore()?.context());
      const sampled = parent ? parent.sampled : this.traceSampleRate >= 1 || Math.random() < this.traceSampleRate;
      return new Span(this, {
        name: String(name),
        service: options.service ?? this.service,
        parent,
        tags: options.tags,
        indicator: options.indicator ?? false,
        startTime: options.startTime,
        sampled,
      });
    } catch (err) {
      this.internalError(err);
      return new Span(this, {
        name: 'invalid',
        service: this.service,
        parent: undefined,
        tags: undefined,
        indicator: false,
        startTime: undefined,
        sampled: false,
      });
    }
  }

  /**
   * Runs `fn` inside a new span that is the active span for everything `fn`
   * does (including async work). The span finishes when `fn` returns or its
   * promise settles; a throw or rejection marks it as an error and is passed
   * on unchanged (it is the application's own error).
   */
  withSpan<T>(name: string, fn: (span: Span) => T, options: StartSpanOptions = {}): T {
    const span = this.startSpan(name, options);
    let result: T;
    try {
      result = this.context.run(span, fn, span);
    } catch (err) {
      span.setError(err);
      span.finish();
      throw err;
    }
    if (isPromiseLike(result)) {
      result.then(
        () => span.finish(),
        (err: unknown) => {
          span.setError(err);
          span.finish();
        },
      );
      return result;
    }
    span.finish();
    return result;
  }

  /** Runs `fn` with `span` as the active span (for spans started with startSpan). */
  runWithSpan<T>(span: Span, fn: () => T): T {
    return this.context.run(span, fn);
  }

  activeSpan(): Span | undefined {
    return this.context.getStore();
  }

  /** Writes the W3C `traceparent` of the active (or given) span into `headers`. */
  inject(headers: Record<string, string>, span: Span | undefined = this.activeSpan()): Record<string, string> {
    if (span) headers['traceparent'] = injectTraceparent(span.context());
    return headers;
  }

  /** Reads a W3C `traceparent` from headers, to pass as `parent` to startSpan/withSpan. */
  extract(headers: Record<string, string | string[] | undefined>): SpanContext | undefined {
    return extractTraceparent(headers['traceparent']);
  }

  // ---- metrics (standalone: they are not attached to the active span) ----------

  counter(name: string, value = 1, options?: MetricOptions): void {
    this.enqueueSample(this.sample('counter', name, value, '', options));
  }

  gauge(name: string, value: number, options?: MetricOptions): void {
    this.enqueueSample(this.sample('gauge', name, value, '', options));
  }

  histogram(name: string, value: number, options?: MetricOptions): void {
    this.enqueueSample(this.sample('histogram', name, value, '', options));
  }

  /** A duration in milliseconds, as a histogram with unit `ms` (Veneur's timer). */
  timer(name: string, milliseconds: number, options?: MetricOptions): void {
    this.enqueueSample(this.sample('histogram', name, milliseconds, '', { unit: 'ms', ...options }));
  }

  /** Counts `member` towards the number of distinct members of set `name`. */
  set(name: string, member: string, options?: MetricOptions): void {
    this.enqueueSample(this.sample('set', name, 0, String(member), options));
  }

  /** A service check (Veneur's STATUS sample): ok, warning, critical or unknown, with an optional message. */
  status(name: string, status: MetricStatus, options?: MetricOptions & { message?: string }): void {
    const s = this.sample('status', name, 0, options?.message ?? '', options);
    if (s) s.status = status;
    this.enqueueSample(s);
  }

  /** @internal Builds a sample (undefined when sampled out or invalid). */
  sample(type: MetricType, name: string, value: number, message: string, options: MetricOptions | undefined): MetricSample | undefined {
    try {
      if (typeof name !== 'string' || name === '' || typeof value !== 'number' || !Number.isFinite(value)) {
        this.drop('invalid', 1, `metric "${String(name)}" was dropped: it needs a name and a finite value`);
        return undefined;
      }
      let sampleRate = 1;
      if (options?.sampleRate !== undefined) {
        sampleRate = clamp01(options.sampleRate);
        if (sampleRate <= 0 || Math.random() >= sampleRate) {
          this.counts.sampledOut++;
          return undefined;
        }
      }
      return {
        type,
        name,
        value,
        timestamp: options?.timestamp === undefined ? timeToNs(undefined) : timeToNs(options.timestamp),
        message,
        status: 'ok',
        sampleRate,
        tags: options?.tags ?? {},
        unit: options?.unit ?? '',
        scope: options?.scope ?? 'default',
      };
    } catch (err) {
      this.internalError(err);
      return undefined;
    }
  }

  private enqueueSample(sample: MetricSample | undefined): void {
    if (sample) this.enqueue({ kind: 'sample', sample });
  }

  // ---- logs -------------------------------------------------------------------

  /** A log record, correlated with the active span if there is one. Sent at once, never held until a span ends. */
  log(level: LogSeverity, message: string, fields?: LogFields, span: Span | undefined = this.activeSpan()): void {
    try {
      const severityNumber = LEVELS[level];
      if (severityNumber === undefined) {
        this.drop('invalid', 1, `log level "${String(level)}" is not one of trace, debug, info, warn, error, fatal`);
        return;
      }
      if (severityNumber < this.minLogLevel) return;
      this.enqueue({
        kind: 'log',
        log: { timestamp: timeToNs(undefined), severity: level, severityNumber, body: String(message), attributes: fields ? stringifyFields(fields) : {} },
        traceId: span ? span.traceId : 0n,
        spanId: span ? span.id : 0n,
      });
    } catch (err) {
      this.internalError(err);
    }
  }

  // ---- queue and flushing -------------------------------------------------------

  /** @internal Called by Span.finish(). */
  finished(span: Span): void {
    if (!span.sampled) {
      this.counts.sampledOut++;
      if (span.metrics.length === 0) return;
    }
    this.enqueue({ kind: 'span', span });
  }

  private enqueue(item: Item): void {
    if (this.closing) {
      this.drop('closed', 1, 'events emitted after close() are dropped');
      return;
    }
    if (!this.queue.push(item)) {
      this.drop('queue_full', weightOf(item), `the SSF queue is full (${this.queue.capacity} events); events are dropped and counted until it drains`);
      return;
    }
    this.counts.emitted += weightOf(item);
    if (this.queue.length >= this.flushItems) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.queue.length === 0) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    }).unref();
  }

  /**
   * Sends everything queued now. Resolves when the transport has taken it (or
   * dropped it); never rejects. Concurrent calls share the work.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.queue.length > 0 && this.transport.ready ? this.flush() : undefined));
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.transport.ready) {
        const items = this.queue.take(this.flushItems);
        const { encoded, weights } = this.encode(items);
        if (encoded.length === 0) continue;
        const outcomes = await this.transport.send(encoded);
        this.account(outcomes, weights);
      }
    } catch (err) {
      this.internalError(err);
    }
  }

  private account(outcomes: Outcome[], weights: number[]): void {
    for (let i = 0; i < weights.length; i++) {
      const outcome = outcomes[i] ?? null;
      const w = weights[i] ?? 0;
      if (outcome === null) this.counts.sent += w;
      else this.drop(outcome, w, dropMessage(outcome));
    }
  }

  /** Items -> encoded spans. Standalone samples and logs of the same trace context share carrier spans. */
  private encode(items: Item[]): { encoded: Uint8Array[]; weights: number[] } {
    const encoded: Uint8Array[] = [];
    const weights: number[] = [];
    const push = (event: SpanEvent, weight: number): void => {
      try {
        encoded.push(encodeSpan(event));
        weights.push(weight);
      } catch (err) {
        this.internalError(err, weight);
      }
    };
    let samples: MetricSample[] = [];
    const logGroups = new Map<string, { traceId: bigint; spanId: bigint; logs: LogRecord[] }>();
    for (const item of items) {
      if (item.kind === 'span') {
        if (this.defaultTags) for (const m of item.span.metrics) m.tags = { ...this.defaultTags, ...m.tags };
        push(item.span.toEvent(this.defaultTags), weightOf(item));
      } else if (item.kind === 'sample') {
        if (this.defaultTags) item.sample.tags = { ...this.defaultTags, ...item.sample.tags };
        samples.push(item.sample);
        if (samples.length >= this.maxEventsPerCarrier) {
          push(this.carrier(0n, 0n, samples, []), samples.length);
          samples = [];
        }
      } else {
        if (this.defaultTags) item.log.attributes = { ...this.defaultTags, ...item.log.attributes };
        const key = `${item.traceId}:${item.spanId}`;
        let group = logGroups.get(key);
        if (!group) {
          group = { traceId: item.traceId, spanId: item.spanId, logs: [] };
          logGroups.set(key, group);
        }
        group.logs.push(item.log);
        if (group.logs.length >= this.maxEventsPerCarrier) {
          push(this.carrier(group.traceId, group.spanId, [], group.logs), group.logs.length);
          group.logs = [];
        }
      }
    }
    if (samples.length > 0) push(this.carrier(0n, 0n, samples, []), samples.length);
    for (const g of logGroups.values()) if (g.logs.length > 0) push(this.carrier(g.traceId, g.spanId, [], g.logs), g.logs.length);
    return { encoded, weights };
  }

  /** A span that only carries samples or logs (not a valid trace span: no timestamps, no name). */
  private carrier(traceId: bigint, spanId: bigint, metrics: MetricSample[], logs: LogRecord[]): SpanEvent {
    return {
      version: 0,
      traceId,
      traceIdHigh: 0n,
      id: spanId,
      parentId: 0n,
      startTimestamp: 0n,
      endTimestamp: 0n,
      rootStartTimestamp: 0n,
      error: false,
      service: this.service,
      name: '',
      indicator: false,
      tags: {},
      metrics,
      logs,
      tenant: '',
      receivedTimestamp: 0n,
      isTrace: false,
    };
  }

  private drop(reason: DropReason, count: number, message: string): void {
    if (count <= 0) return;
    this.counts.dropped[reason] += count;
    if (dropChannel.hasSubscribers) dropChannel.publish({ reason, count });
    if (!this.warned.has(reason)) {
      this.warned.add(reason);
      this.logger.warn(message, { reason });
    }
  }

  private internalError(err: unknown, count = 1): void {
    this.drop('internal_error', count, `internal error in the SSF emitter: ${err instanceof Error ? err.message : String(err)}`);
  }

  stats(): EmitterStats {
    return { ...this.counts, dropped: { ...this.counts.dropped }, queued: this.queue.length };
  }

  /**
   * Flushes what is queued (waiting at most `timeoutMs`), then closes the
   * transport. Idempotent: every call returns the same promise. Events
   * emitted afterwards are dropped and counted as `closed`.
   */
  close(timeoutMs = 5000): Promise<void> {
    if (this.closing) return this.closing;
    clearInterval(this.flushTimer);
    this.closing = (async () => {
      let deadlineTimer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        deadlineTimer = setTimeout(resolve, timeoutMs);
        deadlineTimer.unref();
      });
      await Promise.race([this.flushUntilEmpty(), deadline]);
      if (deadlineTimer) clearTimeout(deadlineTimer);
      const left = this.queue.take(this.queue.length);
      let weight = 0;
      for (const item of left) weight += weightOf(item);
      this.drop('closed', weight, 'events still queued at close() were dropped');
      await this.transport.close();
    })().catch((err: unknown) => this.internalError(err));
    return this.closing;
  }

  private async flushUntilEmpty(): Promise<void> {
    for (let i = 0; i < 1000 && this.queue.length > 0; i++) {
      if (!this.transport.ready) await new Promise((r) => setTimeout(r, 20).unref());
      await this.flush();
    }
    await this.flushing;
  }
}

export interface StartSpanOptions {
  /** The parent: a Span, a remote SpanContext (from extract()), or null to start a new trace. Default: the active span. */
  parent?: Span | SpanContext | null | undefined;
  service?: string;
  tags?: Record<string, string>;
  /** The span counts towards its service's SLIs. */
  indicator?: boolean;
  startTime?: TimeInput;
}

/** A transport for an unusable address: everything is dropped and counted. */
const deadTransport: Transport = {
  protocol: 'none',
  ready: true,
  send: (spans) => Promise.resolve(spans.map((): Outcome => 'send_failed')),
  close: () => Promise.resolve(),
};

/** How many events an item stands for: a sampled span counts itself and its samples. */
function weightOf(item: Item): number {
  return item.kind === 'span' ? (item.span.sampled ? 1 : 0) + item.span.metrics.length : 1;
}

function dropMessage(reason: DropReason): string {
  switch (reason) {
    case 'too_large':
      return 'an SSF span was too large for the transport and was dropped (use a unix://, tcp:// or http:// address for large spans)';
    case 'rejected':
      return 'the SSF endpoint refused events';
    case 'send_failed':
      return 'sending SSF events failed; they were dropped and counted';
    default:
      return `SSF events dropped: ${reason}`;
  }
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 1;
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function stringifyFields(fields: LogFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in fields) {
    const v = fields[k];
    if (typeof v === 'string') out[k] = v;
    else if (v === undefined) continue;
    else if (v instanceof Error) out[k] = `${v.name}: ${v.message}`;
    else if (typeof v === 'object' && v !== null) {
      try {
        out[k] = JSON.stringify(v, (_key, val: unknown) => (typeof val === 'bigint' ? val.toString() : val));
      } catch {
        out[k] = String(v);
      }
    } else out[k] = String(v);
  }
  return out;
}
