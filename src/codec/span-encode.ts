// SpanEvent -> SSFSpan bytes. Apart from decoding (span-codec.ts) because
// the emitter package ships this side alone: it must not reach validate.ts
// and its schema library (docs/emitter.md).
import { bigIntToLong, encodeRawSpan } from './protobuf.js';
import type { LogRecordFields, SampleFields, SpanFields } from './protobuf.js';
import type { LogRecord, LogSeverity, MetricSample, MetricScope, MetricStatus, MetricType, SpanEvent } from './types.js';

const METRIC_NUMBER: Record<MetricType, number> = { counter: 0, gauge: 1, histogram: 2, set: 3, status: 4 };
const STATUS_NUMBER: Record<MetricStatus, number> = { ok: 0, warning: 1, critical: 2, unknown: 3 };
const SCOPE_NUMBER: Record<MetricScope, number> = { default: 0, local: 1, global: 2 };
/** The base SeverityNumber of each severity name (OpenTelemetry). */
export const SEVERITY_NUMBER: Record<LogSeverity, number> = { unspecified: 0, trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

function hasKeys(m: Record<string, string>): boolean {
  for (const _ in m) return true;
  return false;
}

/** MetricSample -> message fields; zero values are left out, as proto3 encoders do. */
export function sampleToFields(s: MetricSample): SampleFields {
  const f: SampleFields = {};
  if (s.type !== 'counter') f.metric = METRIC_NUMBER[s.type];
  if (s.name !== '') f.name = s.name;
  // Like Veneur (gogo), -0 is left out too: it decodes as +0.
  if (s.value !== 0) f.value = s.value;
  if (s.timestamp !== 0n) f.timestamp = bigIntToLong(s.timestamp);
  if (s.message !== '') f.message = s.message;
  if (s.status !== 'ok') f.status = STATUS_NUMBER[s.status];
  if (s.sampleRate !== 0) f.sampleRate = s.sampleRate;
  if (hasKeys(s.tags)) f.tags = s.tags;
  if (s.unit !== '') f.unit = s.unit;
  if (s.scope !== 'default') f.scope = SCOPE_NUMBER[s.scope];
  return f;
}

export function logToFields(l: LogRecord): LogRecordFields {
  const f: LogRecordFields = {};
  if (l.timestamp !== 0n) f.timestamp = bigIntToLong(l.timestamp);
  if (l.severityNumber !== 0) f.severity = l.severityNumber;
  if (l.body !== '') f.body = l.body;
  if (hasKeys(l.attributes)) f.attributes = l.attributes;
  return f;
}

/** SpanEvent -> message fields in field order, zero values left out (as Go's proto3 encoder does). */
export function spanToFields(e: SpanEvent): SpanFields {
  const f: SpanFields = {};
  if (e.version !== 0) f.version = e.version;
  if (e.traceId !== 0n) f.traceId = bigIntToLong(e.traceId);
  if (e.id !== 0n) f.id = bigIntToLong(e.id);
  if (e.parentId !== 0n) f.parentId = bigIntToLong(e.parentId);
  if (e.startTimestamp !== 0n) f.startTimestamp = bigIntToLong(e.startTimestamp);
  if (e.endTimestamp !== 0n) f.endTimestamp = bigIntToLong(e.endTimestamp);
  if (e.error) f.error = true;
  if (e.service !== '') f.service = e.service;
  if (e.metrics.length > 0) f.metrics = e.metrics.map(sampleToFields);
  if (hasKeys(e.tags)) f.tags = e.tags;
  if (e.indicator) f.indicator = true;
  if (e.name !== '') f.name = e.name;
  if (e.rootStartTimestamp !== 0n) f.rootStartTimestamp = bigIntToLong(e.rootStartTimestamp);
  if (e.logs.length > 0) f.logs = e.logs.map(logToFields);
  if (e.tenant !== '') f.tenant = e.tenant;
  if (e.receivedTimestamp !== 0n) f.receivedTimestamp = bigIntToLong(e.receivedTimestamp);
  if (e.traceIdHigh !== 0n) f.traceIdHigh = bigIntToLong(e.traceIdHigh);
  return f;
}

/** Encodes a SpanEvent as SSFSpan protobuf bytes. */
export function encodeSpan(e: SpanEvent): Uint8Array {
  return encodeRawSpan(spanToFields(e));
}
