import type { MetricScope, MetricStatus, MetricType, SpanEvent } from '../../src/codec/index.js';
import { severityName } from '../../src/codec/index.js';
import { spanEvent } from '../../src/codec/span-event.js';

/** Which event table an exported file holds, known from its columns. */
export type EventTableKind = 'spans' | 'logs' | 'samples';

/** The table whose columns these are, or undefined (rollups, trace index, anything else). */
export function tableOfColumns(columns: readonly string[]): EventTableKind | undefined {
  const has = (c: string): boolean => columns.includes(c);
  if (has('span_id') && has('duration_ns') && has('start')) return 'spans';
  if (has('severity_number') && has('body') && has('timestamp')) return 'logs';
  if (has('sample_rate') && has('value') && has('timestamp')) return 'samples';
  return undefined;
}

/**
 * The SELECT list that reads an exported table back as JSON this module
 * turns into spans: ids and nanosecond times as decimal text (exact), enums
 * as names.
 */
export const READ_COLUMNS: Record<EventTableKind, string> = {
  spans: `toString(trace_id) AS trace_id, toString(span_id) AS span_id, toString(parent_id) AS parent_id, toString(service) AS service,
          toString(name) AS name, toString(toUnixTimestamp64Nano(start)) AS start_ns, toString(duration_ns) AS duration_ns,
          toUInt8(error) AS error, toUInt8(indicator) AS indicator, toString(toUnixTimestamp64Nano(root_start)) AS root_start_ns, tags`,
  logs: `toString(service) AS service, toString(toUnixTimestamp64Nano(timestamp)) AS timestamp_ns, toUInt8(severity_number) AS severity_number,
         body, toString(trace_id) AS trace_id, toString(span_id) AS span_id, attributes`,
  samples: `toString(name) AS name, toString(type) AS type, toString(toUnixTimestamp64Nano(timestamp)) AS timestamp_ns, value,
            toFloat64(toString(sample_rate)) AS sample_rate, message, toString(status) AS status, toString(unit) AS unit,
            toString(scope) AS scope, tags, toString(service) AS service, toString(trace_id) AS trace_id, toString(span_id) AS span_id`,
};

/** Read as well when the export has it (exports from before migration 0007 do not). */
export const TRACE_ID_HIGH_COLUMN = ', toString(trace_id_high) AS trace_id_high';

type Row = Record<string, unknown>;

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const big = (v: unknown): bigint => (v === null || v === undefined || v === '' ? 0n : BigInt(String(v)));
const map = (v: unknown): Record<string, string> =>
  v && typeof v === 'object' ? Object.fromEntries(Object.entries(v as Row).map(([k, x]) => [k, str(x)])) : {};

function carrier(service: string, traceId: bigint, traceIdHigh: bigint, spanId: bigint): SpanEvent {
  return spanEvent({ traceId, traceIdHigh, id: spanId, service, isTrace: false });
}

/**
 * One row of an exported table as the SSF span that produces that row again
 * when sent through the gateway: a trace span for `spans`; for `logs` and
 * `samples`, a carrier (not a trace span) holding the one record, with the
 * trace and span ids and the service it was written with.
 */
export function rowToSpan(kind: EventTableKind, row: Row): SpanEvent {
  if (kind === 'spans') {
    const start = big(row['start_ns']);
    return spanEvent(
      spanEvent({
        traceId: big(row['trace_id']),
        traceIdHigh: big(row['trace_id_high']),
        id: big(row['span_id']),
        parentId: big(row['parent_id']),
        startTimestamp: start,
        endTimestamp: start + big(row['duration_ns']),
        rootStartTimestamp: big(row['root_start_ns']),
        error: Number(row['error']) === 1,
        service: str(row['service']),
        name: str(row['name']),
        indicator: Number(row['indicator']) === 1,
        tags: map(row['tags']),
        isTrace: true,
      }),
    );
  }
  const span = carrier(str(row['service']), big(row['trace_id']), big(row['trace_id_high']), big(row['span_id']));
  if (kind === 'logs') {
    const severityNumber = Number(row['severity_number']);
    span.logs.push({
      timestamp: big(row['timestamp_ns']),
      severity: severityName(severityNumber),
      severityNumber,
      body: str(row['body']),
      attributes: map(row['attributes']),
    });
    return span;
  }
  span.metrics.push({
    type: str(row['type']) as MetricType,
    name: str(row['name']),
    value: Number(row['value']),
    timestamp: big(row['timestamp_ns']),
    message: str(row['message']),
    status: str(row['status']) as MetricStatus,
    sampleRate: Number(row['sample_rate']),
    tags: map(row['tags']),
    unit: str(row['unit']),
    scope: str(row['scope']) as MetricScope,
  });
  return span;
}
