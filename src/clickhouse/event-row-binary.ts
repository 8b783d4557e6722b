import type { LogSeverity, MetricSample, MetricType, SpanEvent } from '../codec/types.js';
import { RowBinaryWriter } from './row-binary.js';
import type { EventBatch, EventTable } from './event-batch.js';

/**
 * The rows appendRows makes (event-rows.ts), written as RowBinary for the
 * column lists below: no row objects, no JSON text, no number formatting;
 * ClickHouse parses it with no conversion. Times are DateTime64(9) as Int64
 * nanoseconds (0 and before 1970 as 1970, as nsToDateTime64 writes them).
 */

/** The columns of each table, in the order the rows are written. */
export const ROW_BINARY_COLUMNS: Record<EventTable, string> = {
  spans: 'tenant, trace_id, span_id, parent_id, service, name, start, duration_ns, error, indicator, root_start, tags, trace_id_high',
  logs: 'tenant, service, timestamp, severity, severity_number, body, trace_id, span_id, attributes, trace_id_high',
  samples: 'tenant, name, type, timestamp, value, sample_rate, message, status, unit, scope, tags, service, trace_id, span_id, trace_id_high',
};

// Enum8 values of the columns (schema/clickhouse/000*.sql).
export const SEVERITY_ENUM: Record<LogSeverity, number> = { unspecified: 0, trace: 1, debug: 2, info: 3, warn: 4, error: 5, fatal: 6 };
export const TYPE_ENUM: Record<MetricType, number> = { counter: 0, gauge: 1, histogram: 2, set: 3, status: 4 };
export const STATUS_ENUM: Record<MetricSample['status'], number> = { ok: 0, warning: 1, critical: 2, unknown: 3 };
export const SCOPE_ENUM: Record<MetricSample['scope'], number> = { default: 0, local: 1, global: 2 };

/** Int64 nanoseconds (wrapped like Int64) as DateTime64(9): 0 and before 1970 as 1970. */
function time(ns: bigint): bigint {
  const v = BigInt.asIntN(64, ns);
  return v <= 0n ? 0n : v;
}

export class EventRowBinary implements EventBatch {
  readonly spans: RowBinaryWriter;
  readonly logs: RowBinaryWriter;
  readonly samples: RowBinaryWriter;

  /**
   * `chunkBytes`: the size of every chunk of the writers (RowBinaryWriter),
   * for the rows of one request (about the size of its SSF bytes: one chunk)
   * rather than the default's for a whole insert.
   */
  constructor(
    readonly defaultTenant = 'default',
    chunkBytes?: number,
  ) {
    this.spans = chunkBytes === undefined ? new RowBinaryWriter() : new RowBinaryWriter(chunkBytes, chunkBytes);
    this.logs = chunkBytes === undefined ? new RowBinaryWriter() : new RowBinaryWriter(chunkBytes, chunkBytes);
    this.samples = chunkBytes === undefined ? new RowBinaryWriter() : new RowBinaryWriter(chunkBytes, chunkBytes);
  }

  count(table: EventTable): number {
    return this[table].rows;
  }

  get total(): number {
    return this.spans.rows + this.logs.rows + this.samples.rows;
  }

  /** Appends the rows of `other` after these, table by table (its chunks, not copied: `other` is not written to again). */
  appendBatch(other: EventRowBinary): void {
    this.spans.append(other.spans);
    this.logs.append(other.logs);
    this.samples.append(other.samples);
  }

  /** The rows of one event, as appendRows. */
  append(e: SpanEvent): void {
    const tenant = e.tenant || this.defaultTenant;
    if (e.isTrace) {
      const w = this.spans;
      w.string(tenant);
      w.i64(e.traceId);
      w.i64(e.id);
      w.i64(e.parentId);
      w.string(e.service);
      w.string(e.name);
      w.i64(time(e.startTimestamp));
      w.i64(e.endTimestamp - e.startTimestamp);
      w.bool(e.error);
      w.bool(e.indicator);
      w.i64(time(e.rootStartTimestamp));
      w.stringMap(e.tags);
      w.i64(e.traceIdHigh);
      w.rows++;
    }
    for (const l of e.logs) {
      const w = this.logs;
      w.string(tenant);
      w.string(e.service);
      w.i64(time(l.timestamp === 0n ? e.receivedTimestamp : l.timestamp));
      w.u8(SEVERITY_ENUM[l.severity]);
      w.u8(l.severityNumber);
      w.string(l.body);
      w.i64(e.traceId);
      w.i64(e.id);
      w.stringMap(l.attributes);
      w.i64(e.traceIdHigh);
      w.rows++;
    }
    for (const s of e.metrics) {
      const w = this.samples;
      w.string(tenant);
      w.string(s.name);
      w.u8(TYPE_ENUM[s.type]);
      w.i64(time(s.timestamp === 0n ? e.receivedTimestamp : s.timestamp));
      // +0 for -0, as JSONEachRow stores it (JSON.stringify(-0) is "0").
      w.f64(s.value === 0 ? 0 : s.value);
      w.f32(s.sampleRate);
      w.string(s.message);
      w.u8(STATUS_ENUM[s.status]);
      w.string(s.unit);
      w.u8(SCOPE_ENUM[s.scope]);
      w.stringMap(s.tags);
      w.string(e.service);
      w.i64(e.traceId);
      w.i64(e.id);
      w.i64(e.traceIdHigh);
      w.rows++;
    }
  }
}
