import type { LogSeverity, MetricSample, MetricType, SpanEvent } from '../codec/types.js';
import { setTag } from '../codec/tag-map.js';
import { timeToNs } from './clock.js';
import type { TimeInput } from './clock.js';
import type { LogFields, MetricOptions } from './emitter-types.js';
import { newId } from './ids.js';
import type { SpanContext } from './traceparent.js';

/** What a Span needs from the emitter that owns it (kept narrow so Span does not depend on Emitter). */
export interface SpanOwner {
  sample(type: MetricType, name: string, value: number, message: string, options: MetricOptions | undefined): MetricSample | undefined;
  log(level: LogSeverity, message: string, fields: LogFields | undefined, span: Span | undefined): void;
  finished(span: Span): void;
}

export interface SpanInit {
  name: string;
  service: string;
  parent: SpanContext | undefined;
  tags: Record<string, string> | undefined;
  indicator: boolean;
  startTime: TimeInput | undefined;
  sampled: boolean;
}

/**
 * A trace span. Create it with `emitter.startSpan()` or `emitter.withSpan()`;
 * finish it exactly once (later calls are ignored). Metrics added through
 * the span travel with it (Veneur's model) and share its trace id. No method
 * throws.
 */
export class Span {
  readonly traceId: bigint;
  readonly id: bigint;
  readonly parentId: bigint;
  /** High 64 bits of a 128-bit W3C trace id this trace was continued from (0n otherwise). */
  readonly traceIdHigh: bigint;
  readonly sampled: boolean;
  readonly service: string;
  readonly startNs: bigint;
  name: string;
  endNs = 0n;
  error = false;
  indicator: boolean;
  tags: Record<string, string>;
  readonly metrics: MetricSample[] = [];
  private done = false;

  constructor(
    private readonly owner: SpanOwner,
    init: SpanInit,
  ) {
    this.id = newId();
    const parent = init.parent;
    this.traceId = parent ? parent.traceId : this.id;
    this.parentId = parent ? parent.spanId : 0n;
    this.traceIdHigh = parent ? parent.traceIdHigh : 0n;
    this.sampled = init.sampled;
    this.name = init.name;
    this.service = init.service;
    this.indicator = init.indicator;
    // As setTags: a JavaScript caller's number or boolean becomes its text, so it cannot fail the span's encoding.
    this.tags = {};
    if (init.tags) for (const k in init.tags) setTag(this.tags, k, String(init.tags[k]));
    if (parent?.remote && this.traceIdHigh !== 0n) {
      this.tags['w3c.trace_id_high'] = BigInt.asUintN(64, this.traceIdHigh).toString(16).padStart(16, '0');
    }
    this.startNs = timeToNs(init.startTime);
  }

  get finished(): boolean {
    return this.done;
  }

  /** The context to propagate (e.g. with injectTraceparent). */
  context(): SpanContext {
    return { traceId: this.traceId, spanId: this.id, traceIdHigh: this.traceIdHigh, sampled: this.sampled, remote: false };
  }

  setTag(key: string, value: string | number | boolean): this {
    if (!this.done) setTag(this.tags, String(key), String(value));
    return this;
  }

  setTags(tags: Record<string, string | number | boolean>): this {
    if (!this.done) for (const k in tags) setTag(this.tags, k, String(tags[k]));
    return this;
  }

  /** Marks the span as failed. An Error's class and message become tags `error.type` and `error.message`. */
  setError(error: unknown = true): this {
    if (this.done) return this;
    this.error = error !== false;
    if (error instanceof Error) {
      this.tags['error.type'] = error.name;
      this.tags['error.message'] = error.message.slice(0, 1024);
    }
    return this;
  }

  setIndicator(indicator = true): this {
    if (!this.done) this.indicator = indicator;
    return this;
  }

  counter(name: string, value = 1, options?: MetricOptions): this {
    this.attach(this.owner.sample('counter', name, value, '', options));
    return this;
  }

  gauge(name: string, value: number, options?: MetricOptions): this {
    this.attach(this.owner.sample('gauge', name, value, '', options));
    return this;
  }

  histogram(name: string, value: number, options?: MetricOptions): this {
    this.attach(this.owner.sample('histogram', name, value, '', options));
    return this;
  }

  /** A duration in milliseconds, as a histogram with unit `ms`. */
  timer(name: string, milliseconds: number, options?: MetricOptions): this {
    this.attach(this.owner.sample('histogram', name, milliseconds, '', { unit: 'ms', ...options }));
    return this;
  }

  set(name: string, member: string, options?: MetricOptions): this {
    this.attach(this.owner.sample('set', name, 0, String(member), options));
    return this;
  }

  /** A log record correlated with this span; sent at once, not held until finish. */
  log(level: LogSeverity, message: string, fields?: LogFields): this {
    this.owner.log(level, message, fields, this);
    return this;
  }

  private attach(sample: MetricSample | undefined): void {
    if (sample && !this.done) this.metrics.push(sample);
  }

  /** Ends the span and queues it for sending. Idempotent. */
  finish(endTime?: TimeInput): void {
    if (this.done) return;
    this.done = true;
    this.endNs = timeToNs(endTime);
    if (this.endNs < this.startNs) this.endNs = this.startNs;
    this.owner.finished(this);
  }

  /** The span as a domain event (service and default tags filled in by the emitter). */
  toEvent(defaultTags: Record<string, string> | undefined): SpanEvent {
    return {
      version: 0,
      traceId: this.sampled ? this.traceId : 0n,
      traceIdHigh: this.sampled ? this.traceIdHigh : 0n,
      id: this.sampled ? this.id : 0n,
      parentId: this.sampled ? this.parentId : 0n,
      startTimestamp: this.sampled ? this.startNs : 0n,
      endTimestamp: this.sampled ? this.endNs : 0n,
      rootStartTimestamp: 0n,
      error: this.sampled && this.error,
      service: this.service,
      name: this.sampled ? this.name : '',
      indicator: this.sampled && this.indicator,
      tags: this.sampled ? (defaultTags ? { ...defaultTags, ...this.tags } : this.tags) : {},
      metrics: this.metrics,
      logs: [],
      tenant: '',
      receivedTimestamp: 0n,
      isTrace: this.sampled,
    };
  }
}
