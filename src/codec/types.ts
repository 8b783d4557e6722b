/**
 * The validated domain events. Every part of the pipeline past the codec
 * works with these, never with raw protobuf messages. int64 values are
 * bigint so that ids and nanosecond timestamps stay exact.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'set' | 'status';
export type MetricStatus = 'ok' | 'warning' | 'critical' | 'unknown';
export type MetricScope = 'default' | 'local' | 'global';
export type LogSeverity = 'unspecified' | 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** One metric sample (SSFSample). */
export interface MetricSample {
  type: MetricType;
  name: string;
  value: number;
  /** Unix ns; 0n means "when received" until the gateway stamps it. */
  timestamp: bigint;
  /** For sets: the member. For status checks: the check's message. */
  message: string;
  status: MetricStatus;
  /** In (0, 1]; 0 on the wire has been normalised to 1. */
  sampleRate: number;
  tags: Record<string, string>;
  unit: string;
  scope: MetricScope;
}

/** One log record (our extension, SSFSpan field 100). */
export interface LogRecord {
  /** Unix ns; 0n means "when received" until the gateway stamps it. */
  timestamp: bigint;
  severity: LogSeverity;
  /** OpenTelemetry SeverityNumber, 0-24. */
  severityNumber: number;
  body: string;
  attributes: Record<string, string>;
}

/** A validated SSF span: a trace span, a carrier of samples and logs, or both. */
export interface SpanEvent {
  version: number;
  /** The trace id (the low 64 bits of a 128-bit one). */
  traceId: bigint;
  /** The high 64 bits of a 128-bit trace id (OTLP, W3C; our field 103); 0n for Veneur's 64-bit ids. */
  traceIdHigh: bigint;
  id: bigint;
  parentId: bigint;
  startTimestamp: bigint;
  endTimestamp: bigint;
  rootStartTimestamp: bigint;
  error: boolean;
  service: string;
  name: string;
  indicator: boolean;
  tags: Record<string, string>;
  metrics: MetricSample[];
  logs: LogRecord[];
  tenant: string;
  /** When the gateway received it (Unix ns; our field 102), 0n before it did. */
  receivedTimestamp: bigint;
  /** True when the span passes Veneur's trace-span criteria (and ends after it starts). */
  isTrace: boolean;
}
