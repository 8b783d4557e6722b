import type { SpanEvent } from '../codec/types.js';

/**
 * SpanEvents -> rows of ssf.spans, ssf.logs and ssf.samples (JSONEachRow
 * objects; 64-bit integers as decimal strings and DateTime64(9) values as
 * `seconds.nanoseconds` strings, which ClickHouse reads exactly).
 * docs/tables.md describes every column.
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
/**
 * The rows of each table as JSONEachRow lines, built as text directly: no row
 * object per row and no generic stringify of it (the materializer spent more
 * CPU in those than in decoding the spans). Column by column, the lines hold
 * what docs/tables.md describes.
 */
export interface EventRows {
  spans: string[];
  logs: string[];
  samples: string[];
}

export function emptyRows(): EventRows {
  return { spans: [], logs: [], samples: [] };
}

const q = JSON.stringify;

/**
 * Appends the rows of one event. The span's received time (stamped by the
 * gateway) stands in for a zero sample or log timestamp ("when received").
 * A span that is not a valid trace span contributes only its samples and logs.
 */
export function appendRows(rows: EventRows, e: SpanEvent, defaultTenant = 'default'): void {
  const tenant = q(e.tenant || defaultTenant);
  const service = q(e.service);
  const receivedNs = e.receivedTimestamp;
  const ids = `"trace_id":"${e.traceId}","span_id":"${e.id}"`;
  if (e.isTrace) {
    rows.spans.push(
      `{"tenant":${tenant},${ids},"parent_id":"${e.parentId}","service":${service},"name":${q(e.name)},` +
      `"start":"${nsToDateTime64(e.startTimestamp)}","duration_ns":"${e.endTimestamp - e.startTimestamp}",` +
      `"error":${e.error},"indicator":${e.indicator},"root_start":"${nsToDateTime64(e.rootStartTimestamp)}","tags":${q(e.tags)}}`,
    );
  }
  for (const l of e.logs) {
    rows.logs.push(
      `{"tenant":${tenant},"service":${service},"timestamp":"${nsToDateTime64(l.timestamp === 0n ? receivedNs : l.timestamp)}",` +
      `"severity":"${l.severity}","severity_number":${l.severityNumber},"body":${q(l.body)},${ids},"attributes":${q(l.attributes)}}`,
    );
  }
  for (const m of e.metrics) {
    rows.samples.push(
      `{"tenant":${tenant},"name":${q(m.name)},"type":"${m.type}","timestamp":"${nsToDateTime64(m.timestamp === 0n ? receivedNs : m.timestamp)}",` +
      `"value":${m.value},"sample_rate":${m.sampleRate},"message":${q(m.message)},"status":"${m.status}","unit":${q(m.unit)},` +
      `"scope":"${m.scope}","tags":${q(m.tags)},"service":${service},${ids}}`,
    );
  }
}
