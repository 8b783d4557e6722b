import { AsyncLocalStorage } from 'node:async_hooks';
import { basename } from 'node:path';
import type { LogSeverity, MetricSample, MetricStatus, MetricType } from '../codec/types.js';
import { setTag } from '../codec/tag-map.js';
import { DropAccounting } from './drop-accounting.js';
import type { EmitterStats } from './drop-accounting.js';
import type { EmitterOptions, StartSpanOptions } from './emitter-options.js';
import type { LogFields, MetricOptions } from './emitter-types.js';
import { EventEncoder } from './event-encoder.js';
import { FlushLoop } from './flush-loop.js';
import { buildLogRecord, severityOf } from './log-records.js';
import { consoleLogger } from './logger.js';
import type { EmitterLogger } from './logger.js';
import { buildSample, clamp01 } from './metric-samples.js';
import { Span } from './span.js';
import type { SpanOwner } from './span.js';
import { extractTraceparent, injectTraceparent } from './traceparent.js';
import type { SpanContext } from './traceparent.js';
import { createTransport } from './transports/create-transport.js';
import { deadTransport } from './transports/dead-transport.js';
import type { Transport } from './transports/transport.js';

/**
 * Emits logs, metrics and traces as SSF spans. It never blocks and never
 * throws into the application: events go into a bounded queue (dropped and
 * counted when full, with one warning), flushed by size or interval on the
 * event loop, off the calling code's path. This class is the API and the
 * trace context; the queue and its flushing are FlushLoop's, the encoding
 * EventEncoder's, the books DropAccounting's.
 */
export class Emitter implements SpanOwner {
  readonly service: string;
  private readonly logger: EmitterLogger;
  private readonly context = new AsyncLocalStorage<Span>();
  private readonly traceSampleRate: number;
  private readonly minLogLevel: number;
  private readonly accounting: DropAccounting;
  private readonly loop: FlushLoop;

  constructor(options: EmitterOptions = {}) {
    this.logger = options.logger ?? consoleLogger;
    this.accounting = new DropAccounting(this.logger);
    this.service = options.service ?? process.env['SSF_SERVICE'] ?? (process.argv[1] ? basename(process.argv[1]).replace(/\.[cm]?[jt]s$/, '') : 'unknown');
    this.traceSampleRate = clamp01(options.traceSampleRate ?? 1);
    this.minLogLevel = severityOf(options.minLogLevel ?? 'trace') ?? 0;
    const flushItems = Math.max(1, options.flushItems ?? 512);
    this.loop = new FlushLoop({
      transport: options.transport ?? this.makeTransport(options),
      encoder: new EventEncoder(
        { service: this.service, defaultTags: textTags(options.tags), maxEventsPerCarrier: Math.max(1, options.maxEventsPerCarrier ?? 50) },
        this.accounting,
      ),
      accounting: this.accounting,
      maxQueueSize: Math.max(1, options.maxQueueSize ?? 10_000),
      flushItems,
      flushIntervalMs: Math.max(10, options.flushIntervalMs ?? 1000),
    });
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
      this.accounting.internalError(err);
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
    try {
      this.enqueueSample(buildSample(this.accounting, 'status', name, 0, options?.message ?? '', { ...options, status }));
    } catch (err) {
      this.accounting.internalError(err);
    }
  }

  /** @internal Builds a sample (undefined when sampled out or invalid, counted). */
  sample(type: MetricType, name: string, value: number, message: string, options: MetricOptions | undefined): MetricSample | undefined {
    try {
      return buildSample(this.accounting, type, name, value, message, options);
    } catch (err) {
      this.accounting.internalError(err);
      return undefined;
    }
  }

  private enqueueSample(sample: MetricSample | undefined): void {
    if (sample) this.loop.enqueue({ kind: 'sample', sample });
  }

  // ---- logs -------------------------------------------------------------------

  /** A log record, correlated with the active span if there is one. Sent at once, never held until a span ends. */
  log(level: LogSeverity, message: string, fields?: LogFields, span: Span | undefined = this.activeSpan()): void {
    try {
      const severityNumber = severityOf(level);
      if (severityNumber === undefined) {
        this.accounting.drop('invalid', 1, `log level "${String(level)}" is not one of trace, debug, info, warn, error, fatal`);
        return;
      }
      if (severityNumber < this.minLogLevel) return;
      this.loop.enqueue({
        kind: 'log',
        log: buildLogRecord(level, severityNumber, message, fields),
        traceId: span ? span.traceId : 0n,
        spanId: span ? span.id : 0n,
      });
    } catch (err) {
      this.accounting.internalError(err);
    }
  }

  // ---- delivery -----------------------------------------------------------------

  /** @internal Called by Span.finish(). */
  finished(span: Span): void {
    if (!span.sampled) {
      this.accounting.sampledOut++;
      if (span.metrics.length === 0) return;
    }
    this.loop.enqueue({ kind: 'span', span });
  }

  /**
   * Sends everything queued now. Resolves when the transport has taken it (or
   * dropped it); never rejects. Concurrent calls share the work.
   */
  flush(): Promise<void> {
    return this.loop.flush();
  }

  stats(): EmitterStats {
    return this.accounting.stats(this.loop.queued);
  }

  /**
   * Flushes what is queued, then closes the transport, and settles within
   * `timeoutMs` whatever the target does (down, hung, reconnecting): what is
   * still queued or in flight then is dropped and counted as `closed`, so
   * every emitted event ends up sent or dropped. While it runs it keeps the
   * process alive (for at most `timeoutMs`). Idempotent: every call returns
   * the same promise; events emitted afterwards are dropped as `closed`.
   */
  close(timeoutMs = 5000): Promise<void> {
    return this.loop.close(timeoutMs);
  }
}

/** Default tags as text: a JavaScript caller's number would otherwise fail every event it is added to. */
function textTags(tags: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!tags || typeof tags !== 'object' || Object.keys(tags).length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const k in tags) setTag(out, k, String(tags[k]));
  return out;
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
