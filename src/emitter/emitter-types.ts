import type { LogSeverity, MetricSample, MetricScope, MetricType } from '../codec/types.js';
import type { TimeInput } from './span.js';
import type { Span } from './span.js';

export interface MetricOptions {
  tags?: Record<string, string>;
  /** Client-side sampling in (0, 1]: the sample is sent with this probability and carries the rate. */
  sampleRate?: number;
  unit?: string;
  /** Veneur's aggregation scope: `local`, `global` or `default`. */
  scope?: MetricScope;
  timestamp?: TimeInput;
}

/** Log fields become string attributes (objects as JSON). */
export type LogFields = Record<string, unknown>;

/** What a Span needs from its emitter (kept narrow so Span does not depend on Emitter). */
export interface SpanSink {
  sample(type: MetricType, name: string, value: number, message: string, options: MetricOptions | undefined): MetricSample | undefined;
  log(level: LogSeverity, message: string, fields: LogFields | undefined, span: Span | undefined): void;
  finished(span: Span): void;
}
