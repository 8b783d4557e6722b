import { z } from 'zod';
import type { CodecErrorCode, Rejection } from './errors.js';
import { CodecErrors } from './errors.js';
import { longToBigInt } from './protobuf.js';
import type { RawSpan } from './protobuf.js';
import type { LogRecord, LogSeverity, MetricSample, MetricScope, MetricStatus, MetricType, SpanEvent } from './types.js';
import { isTraceSpan, spanEvent } from './span-event.js';

/** Size limits applied to every span. Generous: Veneur has none, a 60 KB span must pass. */
export const LIMITS = {
  /** Span, service, metric and unit names. */
  nameBytes: 1024,
  tagKeyBytes: 1024,
  tagValueBytes: 64 * 1024,
  tagsPerMap: 1024,
  /** A sample's message (set member, status check text). */
  messageBytes: 64 * 1024,
  logBodyBytes: 1024 * 1024,
  /** The smallest sample_rate (as a float32, what the wire carries): one sample stands for at most a million. */
  minSampleRate: Math.fround(1e-6),
} as const;

const METRIC_TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'set', 'status'];
const STATUSES: readonly MetricStatus[] = ['ok', 'warning', 'critical', 'unknown'];
const SCOPES: readonly MetricScope[] = ['default', 'local', 'global'];

/** OpenTelemetry SeverityNumber ranges: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL. */
export function severityName(n: number): LogSeverity {
  if (n <= 0) return 'unspecified';
  if (n <= 4) return 'trace';
  if (n <= 8) return 'debug';
  if (n <= 12) return 'info';
  if (n <= 16) return 'warn';
  if (n <= 20) return 'error';
  return 'fatal';
}

// Each check carries its stable code in `params`, so a zod issue maps to a Rejection.
function check(code: CodecErrorCode, reason?: string): { message: string; params: { ssfCode: CodecErrorCode } } {
  return { message: reason ?? CodecErrors.entries[code].text, params: { ssfCode: code } };
}

// z.number() refuses NaN and infinities with zod's own error; we want our code.
const anyNumber = z.custom<number>((v) => typeof v === 'number');

function boundedString(limit: number, what: string) {
  return z.string().refine((s) => s.length * 3 <= limit || Buffer.byteLength(s) <= limit, check('SSF_FIELD_TOO_LONG', `${what} is longer than ${limit} bytes`));
}

/** The decoded message's own map, or a fresh one instead of protobufjs's shared frozen empty default. */
function own(m: Record<string, string>): Record<string, string> {
  return Object.isFrozen(m) ? {} : m;
}

function isStringMap(m: unknown): m is Record<string, string> {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
  for (const k in m) if (typeof (m as Record<string, unknown>)[k] !== 'string') return false;
  return true;
}

// A custom check rather than z.record(): the same rules at a quarter of the cost
// (this runs for every span the gateway receives).
function tagMap(what: string) {
  return z
    .custom<Record<string, string>>(isStringMap, { message: `${what} must map strings to strings`, params: { ssfCode: 'SSF_DECODE_FAILED' } })
    .check((ctx) => {
      const m = ctx.value;
      let n = 0;
      for (const k in m) {
        n++;
        const v = m[k] as string;
        // Byte length only when the UTF-16 length could exceed the limit.
        if (
          (k.length * 3 > LIMITS.tagKeyBytes && Buffer.byteLength(k) > LIMITS.tagKeyBytes) ||
          (v.length * 3 > LIMITS.tagValueBytes && Buffer.byteLength(v) > LIMITS.tagValueBytes)
        ) {
          ctx.issues.push({
            code: 'custom',
            input: m,
            ...check('SSF_FIELD_TOO_LONG', `a key of ${what} is longer than ${LIMITS.tagKeyBytes} bytes or a value longer than ${LIMITS.tagValueBytes} bytes`),
          });
          return;
        }
      }
      if (n > LIMITS.tagsPerMap)
        ctx.issues.push({ code: 'custom', input: m, ...check('SSF_TOO_MANY_TAGS', `${what} has more than ${LIMITS.tagsPerMap} entries`) });
    });
}

/** SSFSample (as decoded) -> MetricSample, applying Veneur's rule sample_rate 0 => 1. */
export const sampleSchema = z.object({
  metric: z
    .number()
    .refine(
      (v) => Number.isInteger(v) && v >= 0 && v < METRIC_TYPES.length,
      check('SSF_METRIC_TYPE_UNKNOWN', 'metric must be COUNTER, GAUGE, HISTOGRAM, SET or STATUS'),
    ),
  name: z
    .string()
    .refine((s) => s.length > 0, check('SSF_METRIC_NAME_MISSING'))
    .pipe(boundedString(LIMITS.nameBytes, 'name')),
  // SSFSample.value is a float: a double past float32's range (3.4e38) would travel as Infinity.
  value: anyNumber.refine((v) => Number.isFinite(Math.fround(v)), check('SSF_METRIC_VALUE_NOT_FINITE')),
  message: boundedString(LIMITS.messageBytes, 'message'),
  status: z
    .number()
    .refine((v) => Number.isInteger(v) && v >= 0 && v < STATUSES.length, check('SSF_METRIC_ENUM_UNKNOWN', 'status must be OK, WARNING, CRITICAL or UNKNOWN')),
  sampleRate: anyNumber.refine((r) => r === 0 || (r >= LIMITS.minSampleRate && r <= 1), check('SSF_METRIC_SAMPLE_RATE_RANGE')),
  tags: tagMap('tags'),
  unit: boundedString(LIMITS.nameBytes, 'unit'),
  scope: z
    .number()
    .refine((v) => Number.isInteger(v) && v >= 0 && v < SCOPES.length, check('SSF_METRIC_ENUM_UNKNOWN', 'scope must be DEFAULT, LOCAL or GLOBAL')),
});

function toSample(s: z.infer<typeof sampleSchema>, timestamp: bigint): MetricSample {
  return {
    type: METRIC_TYPES[s.metric] ?? 'counter',
    name: s.name,
    value: s.value,
    timestamp,
    message: s.message,
    status: STATUSES[s.status] ?? 'ok',
    sampleRate: s.sampleRate === 0 ? 1 : s.sampleRate,
    tags: own(s.tags),
    unit: s.unit,
    scope: SCOPES[s.scope] ?? 'default',
  };
}

/** SSFLogRecord (as decoded) -> LogRecord. */
export const logRecordSchema = z
  .object({
    severity: z.number().refine((v) => Number.isInteger(v) && v >= 0 && v <= 24, check('SSF_LOG_SEVERITY_RANGE')),
    body: boundedString(LIMITS.logBodyBytes, 'body'),
    attributes: tagMap('attributes'),
  })
  .refine((l) => l.body.length > 0 || Object.keys(l.attributes).length > 0, check('SSF_LOG_EMPTY'));

function toLog(l: z.infer<typeof logRecordSchema>, timestamp: bigint): LogRecord {
  return { timestamp, severity: severityName(l.severity), severityNumber: l.severity, body: l.body, attributes: own(l.attributes) };
}

/** The span's own fields (samples and logs are validated one by one, see validateSpan). */
const spanFieldsSchema = z.object({
  version: z.number().int(),
  error: z.boolean(),
  service: boundedString(LIMITS.nameBytes, 'service'),
  name: boundedString(LIMITS.nameBytes, 'name'),
  indicator: z.boolean(),
  tags: tagMap('tags'),
  tenant: boundedString(LIMITS.nameBytes, 'tenant'),
});

export type SpanValidation = { ok: true; span: SpanEvent; rejections: Rejection[] } | { ok: false; rejections: Rejection[] };

const SNAKE: Record<string, string> = {
  traceId: 'trace_id',
  parentId: 'parent_id',
  startTimestamp: 'start_timestamp',
  endTimestamp: 'end_timestamp',
  rootStartTimestamp: 'root_start_timestamp',
  traceIdHigh: 'trace_id_high',
  sampleRate: 'sample_rate',
};

function rejectionsOf(error: z.ZodError, prefix: string): Rejection[] {
  return error.issues.map((issue) => {
    const params = (issue as { params?: { ssfCode?: CodecErrorCode } }).params;
    const field = issue.path.map((p) => SNAKE[String(p)] ?? String(p)).join('.');
    return {
      code: params?.ssfCode ?? 'SSF_DECODE_FAILED',
      field: prefix + (prefix && field ? '.' : '') + field,
      reason: issue.message,
    };
  });
}

/**
 * Turns a decoded SSFSpan into a validated SpanEvent, applying Veneur's
 * ingestion rules:
 * - an empty span name with a tag "name" takes the tag's value (the tag is removed);
 * - sample_rate 0 means 1;
 * - a sample is valid with a name (and, ours, a finite value and known enums);
 * - a trace span is valid with non-zero id, trace_id, start and end and a name
 *   (ours: and end >= start);
 * - a span that is neither a valid trace span nor carries a valid sample or
 *   log record is rejected (SSF_SPAN_EMPTY).
 * Invalid samples and log records are refused one by one (each with its own
 * Rejection); the rest of the span is kept.
 */
export function validateSpan(raw: RawSpan): SpanValidation {
  const fields = spanFieldsSchema.safeParse(raw);
  if (!fields.success) return { ok: false, rejections: rejectionsOf(fields.error, '') };
  // Explicit fields: spreading zod's output object is 30x slower (it is in dictionary mode).
  const d = fields.data;
  const f = {
    version: d.version,
    error: d.error,
    service: d.service,
    name: d.name,
    indicator: d.indicator,
    tags: d.tags,
    tenant: d.tenant,
    traceId: longToBigInt(raw.traceId),
    traceIdHigh: longToBigInt(raw.traceIdHigh),
    id: longToBigInt(raw.id),
    parentId: longToBigInt(raw.parentId),
    startTimestamp: longToBigInt(raw.startTimestamp),
    endTimestamp: longToBigInt(raw.endTimestamp),
    rootStartTimestamp: longToBigInt(raw.rootStartTimestamp),
    receivedTimestamp: longToBigInt(raw.receivedTimestamp),
  };
  const rejections: Rejection[] = [];

  let name = f.name;
  const tags = own(f.tags);
  if (name === '' && 'name' in tags) {
    name = tags['name'] ?? '';
    delete tags['name'];
  }

  const metrics: MetricSample[] = [];
  const rawMetrics = raw.metrics;
  for (let i = 0; i < rawMetrics.length; i++) {
    const rawSample = rawMetrics[i] as (typeof rawMetrics)[number];
    const r = sampleSchema.safeParse(rawSample);
    if (r.success) metrics.push(toSample(r.data, longToBigInt(rawSample.timestamp)));
    else rejections.push(...rejectionsOf(r.error, `metrics[${i}]`));
  }
  const logs: LogRecord[] = [];
  const rawLogs = raw.logs;
  for (let i = 0; i < rawLogs.length; i++) {
    const rawLog = rawLogs[i] as (typeof rawLogs)[number];
    const r = logRecordSchema.safeParse(rawLog);
    if (r.success) logs.push(toLog(r.data, longToBigInt(rawLog.timestamp)));
    else rejections.push(...rejectionsOf(r.error, `logs[${i}]`));
  }

  const isTrace = isTraceSpan({ ...f, name });
  if (!isTrace && f.id !== 0n && f.traceId !== 0n && f.startTimestamp !== 0n && f.endTimestamp !== 0n && name !== '') {
    // Every trace field is there: only the end before the start disqualifies it.
    rejections.push({
      code: 'SSF_SPAN_NEGATIVE_DURATION',
      field: 'end_timestamp',
      reason: `end_timestamp ${f.endTimestamp} is before start_timestamp ${f.startTimestamp}`,
    });
  }

  if (!isTrace && metrics.length === 0 && logs.length === 0) {
    const missing = missingTraceFields(f.id, f.traceId, f.startTimestamp, f.endTimestamp, name);
    const why = missing.length > 0 ? `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing` : 'it is not a valid trace span';
    rejections.push({
      code: 'SSF_SPAN_EMPTY',
      field: missing[0] ?? '',
      reason: `not a valid trace span (${why}) and it carries no valid metrics or logs`,
    });
    return { ok: false, rejections };
  }

  return {
    ok: true,
    rejections,
    span: spanEvent({
      version: f.version,
      traceId: f.traceId,
      traceIdHigh: f.traceIdHigh,
      id: f.id,
      parentId: f.parentId,
      startTimestamp: f.startTimestamp,
      endTimestamp: f.endTimestamp,
      rootStartTimestamp: f.rootStartTimestamp,
      error: f.error,
      service: f.service,
      name,
      indicator: f.indicator,
      tags,
      metrics,
      logs,
      tenant: f.tenant,
      receivedTimestamp: f.receivedTimestamp,
      isTrace,
    }),
  };
}

function missingTraceFields(id: bigint, traceId: bigint, start: bigint, end: bigint, name: string): string[] {
  const missing: string[] = [];
  if (id === 0n) missing.push('id');
  if (traceId === 0n) missing.push('trace_id');
  if (start === 0n) missing.push('start_timestamp');
  if (end === 0n) missing.push('end_timestamp');
  if (name === '') missing.push('name');
  return missing;
}
