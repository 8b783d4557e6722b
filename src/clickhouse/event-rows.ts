import type { SpanEvent } from '../codec/types.js';

/**
 * SpanEvents -> rows of ssf.spans, ssf.logs and ssf.samples (JSONEachRow
 * objects; 64-bit integers as decimal strings and DateTime64(9) values as
 * `seconds.nanoseconds` strings, which ClickHouse reads exactly).
 * docs/tables.md describes every column. The readable reference: the
 * pipeline inserts the same rows as RowBinary (event-row-binary.ts), and
 * tests check the two byte for byte.
 */

/**
 * Unix ns -> exact DateTime64(9, 'UTC') text. Times from 2001 on are
 * `seconds.fraction` (fast, unambiguous at 10 digits); earlier ones (0 means
 * "unset") are written as a UTC date-time, because ClickHouse would read a
 * short number as a date. Before 1970 clamps to 1970.
 */
const EPOCH = '1970-01-01 00:00:00.000000000';

export function nsToDateTime64(ns: bigint): string {
  // 0 ("unset", e.g. root_start) is common: no Date formatting for it.
  if (ns <= 0n) return EPOCH;
  const clamped = ns < 0n ? 0n : ns;
  const s = clamped / 1_000_000_000n;
  const frac = (clamped % 1_000_000_000n).toString().padStart(9, '0');
  if (s >= 1_000_000_000n) return `${s}.${frac}`;
  return `${new Date(Number(s) * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${frac}`;
}
export interface SpanRow {
  tenant: string;
  trace_id: string;
  span_id: string;
  parent_id: string;
  service: string;
  name: string;
  start: string;
  duration_ns: string;
  error: boolean;
  indicator: boolean;
  root_start: string;
  tags: Record<string, string>;
  trace_id_high: string;
}

export interface LogRow {
  tenant: string;
  service: string;
  timestamp: string;
  severity: string;
  severity_number: number;
  body: string;
  trace_id: string;
  span_id: string;
  attributes: Record<string, string>;
  trace_id_high: string;
}

export interface SampleRow {
  tenant: string;
  name: string;
  type: string;
  timestamp: string;
  value: number;
  sample_rate: number;
  message: string;
  status: string;
  unit: string;
  scope: string;
  tags: Record<string, string>;
  service: string;
  trace_id: string;
  span_id: string;
  trace_id_high: string;
}

export interface EventRows {
  spans: SpanRow[];
  logs: LogRow[];
  samples: SampleRow[];
}

export function emptyRows(): EventRows {
  return { spans: [], logs: [], samples: [] };
}

/**
 * Appends the rows of one event. The span's received time (stamped by the
 * gateway) stands in for a zero sample or log timestamp ("when received").
 * A span that is not a valid trace span contributes only its samples and logs.
 */
export function appendRows(rows: EventRows, e: SpanEvent, defaultTenant = 'default'): void {
  const tenant = e.tenant || defaultTenant;
  const receivedNs = e.receivedTimestamp;
  const traceId = e.traceId.toString();
  const spanId = e.id.toString();
  const traceIdHigh = e.traceIdHigh.toString();
  if (e.isTrace) {
    rows.spans.push({
      tenant,
      trace_id: traceId,
      span_id: spanId,
      parent_id: e.parentId.toString(),
      service: e.service,
      name: e.name,
      start: nsToDateTime64(e.startTimestamp),
      duration_ns: (e.endTimestamp - e.startTimestamp).toString(),
      error: e.error,
      indicator: e.indicator,
      root_start: nsToDateTime64(e.rootStartTimestamp),
      tags: e.tags,
      trace_id_high: traceIdHigh,
    });
  }
  for (const l of e.logs) {
    rows.logs.push({
      tenant,
      service: e.service,
      timestamp: nsToDateTime64(l.timestamp === 0n ? receivedNs : l.timestamp),
      severity: l.severity,
      severity_number: l.severityNumber,
      body: l.body,
      trace_id: traceId,
      span_id: spanId,
      attributes: l.attributes,
      trace_id_high: traceIdHigh,
    });
  }
  for (const s of e.metrics) {
    rows.samples.push({
      tenant,
      name: s.name,
      type: s.type,
      timestamp: nsToDateTime64(s.timestamp === 0n ? receivedNs : s.timestamp),
      value: s.value,
      sample_rate: s.sampleRate,
      message: s.message,
      status: s.status,
      unit: s.unit,
      scope: s.scope,
      tags: s.tags,
      service: e.service,
      trace_id: traceId,
      span_id: spanId,
      trace_id_high: traceIdHigh,
    });
  }
}
