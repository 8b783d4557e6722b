import { hexId, hexTraceId128 } from '../ids.js';
import { queryError } from '../query-errors.js';
import type { QueryRunner } from '../query-runner.js';
import { assembleTrace } from './assemble-trace.js';
import type { SpanRecord, TraceNode } from './assemble-trace.js';
import { nsToDateTime64Param, nsToMs, nsToRfc3339, tenMinutesFloor } from './trace-time.js';

/** What the answer adds to a log or sample row: its time, its offset from the trace's start, its span id in hex. */
interface Placed {
  timestamp: string;
  offset_ms: number;
  span_id_hex: string;
}

/** A log record of the trace. */
export type TraceLog = Omit<LogRow, 'ts_ns'> & Placed;

/** A metric sample sent with one of the trace's spans. */
export type TraceSample = Omit<SampleRow, 'ts_ns'> & Placed;

/** The answer of GET /v1/traces/:traceId (docs/query/traces.md). */
export interface TraceAnswer {
  trace_id: string;
  trace_id_hex: string;
  /** The 128-bit trace id, 32 hex digits (the high 64 bits are zero for Veneur's 64-bit ids). */
  trace_id_128: string;
  start: string;
  end: string;
  duration_ms: number;
  span_count: number;
  error_count: number;
  services: string[];
  root_span_ids: string[];
  spans: TraceNode[];
  critical_path: string[];
  logs: TraceLog[];
  samples: TraceSample[];
  /** True when more than `LOG_LIMIT` logs or samples matched and the rest were left out. */
  truncated: { logs: boolean; samples: boolean };
  /** `logs`: GET /v1/logs for this trace and time range; `sql`: a body for POST /v1/sql reading its span rows. */
  links: { logs: string; sql: { sql: string; params: Record<string, string> } };
}

/** Logs and samples within this many ns of the trace's range are its own (records sent with timestamp 0 take the gateway's receive time, a little after). */
const SLACK_NS = 60n * 1_000_000_000n;
/** Most logs, and most samples, one trace answer carries. */
export const LOG_LIMIT = 10_000;

interface IndexRow {
  high_bits: string;
  start_ns: string;
  end_ns: string;
  services: string[];
}

interface SpanRow {
  span_id: string;
  parent_id: string;
  service: string;
  name: string;
  start_ns: string;
  duration_ns: string;
  error: boolean;
  indicator: boolean;
  tags: Record<string, string>;
}

interface LogRow {
  ts_ns: string;
  service: string;
  severity: string;
  severity_number: number;
  body: string;
  span_id: string;
  attributes: Record<string, string>;
}

interface SampleRow {
  ts_ns: string;
  name: string;
  type: string;
  value: number;
  sample_rate: number;
  unit: string;
  message: string;
  status: string;
  tags: Record<string, string>;
  service: string;
  span_id: string;
}

/**
 * The trace's logs in GET /v1/logs, over the same time range. The hex id
 * takes `0x` when its digits are all decimal (it would read as a decimal id).
 */
function logsLink(hex: string, startNs: bigint, endNs: bigint): string {
  const from = (startNs - SLACK_NS) / 1_000_000n;
  const to = (endNs + SLACK_NS + 999_999n) / 1_000_000n;
  return `/v1/logs?trace_id=${/^\d+$/.test(hex) ? `0x${hex}` : hex}&from=${from}&to=${to}`;
}

/** Where to look: epoch ms; the trace must overlap [from, to]. */
export interface TraceHints {
  from?: number | undefined;
  to?: number | undefined;
  /** The high 64 bits of a 128-bit trace id (asked for by its 32 hex digits): only that trace's rows, and those of a trace stored with 64 bits (high 0): an SSF trace found by its W3C id. */
  high?: bigint | undefined;
}

const DAY_MS = 86_400_000;

/**
 * Reads one trace of `tenant` and assembles it: its time range from
 * `trace_index` (one small key range), then its spans by the key of `spans`
 * (tenant, ten-minute bucket, trace id), its logs by the key of `logs`
 * (tenant, its services, its time range) and its samples. Throws
 * QUERY_ERR_NOT_FOUND when the tenant has no such trace (in the hinted range).
 */
export async function fetchTrace(runner: QueryRunner, tenant: string, traceId: bigint, hints: TraceHints = {}): Promise<TraceAnswer> {
  // A hint prunes trace_index's daily partitions: a day either side, so a
  // trace crossing midnight (one index row per day) is still read whole.
  const hinted = hints.from !== undefined || hints.to !== undefined;
  const high = hints.high;
  const highClause = high === undefined ? '' : ' AND trace_id_high IN (0, {high:Int64})';
  const index = await runner.rows<IndexRow>(
    `SELECT toString(max(trace_id_high)) AS high_bits, toString(toUnixTimestamp64Nano(min(start))) AS start_ns, toString(toUnixTimestamp64Nano(max(end))) AS end_ns,
            groupUniqArrayArray(services) AS services
       FROM ${runner.table('trace_index')}
      WHERE tenant = {tenant:String} AND trace_id = {id:Int64}${highClause}
        ${hinted ? 'AND start >= fromUnixTimestamp64Milli({pruneFromMs:Int64}) AND start <= fromUnixTimestamp64Milli({pruneToMs:Int64})' : ''}
      GROUP BY tenant, trace_id
     ${hinted ? 'HAVING max(end) >= fromUnixTimestamp64Milli({fromMs:Int64}) AND min(start) <= fromUnixTimestamp64Milli({toMs:Int64})' : ''}`,
    tenant,
    {
      tenant,
      id: traceId,
      ...(high === undefined ? {} : { high }),
      ...(hinted
        ? {
            fromMs: hints.from ?? 0,
            toMs: hints.to ?? Date.now(),
            pruneFromMs: Math.max(0, (hints.from ?? 0) - DAY_MS),
            pruneToMs: (hints.to ?? Date.now()) + DAY_MS,
          }
        : {}),
    },
  );
  const found = index[0];
  if (!found) {
    throw queryError('QUERY_ERR_NOT_FOUND', `no trace ${traceId} (${hexId(traceId)})${hinted ? ' overlapping the given from/to' : ''} for this tenant`);
  }
  const startNs = BigInt(found.start_ns);
  const endNs = BigInt(found.end_ns);
  const traceIdHigh = BigInt(found.high_bits);
  const range = {
    tenant,
    id: traceId,
    high: traceIdHigh,
    lo: nsToDateTime64Param(tenMinutesFloor(startNs)),
    hi: nsToDateTime64Param(endNs),
  };
  const around = {
    tenant,
    id: traceId,
    high: traceIdHigh,
    services: found.services,
    lo: nsToDateTime64Param(startNs - SLACK_NS),
    hi: nsToDateTime64Param(endNs + SLACK_NS),
    limit: LOG_LIMIT + 1,
  };

  const [spanRows, logRows, sampleRows] = await Promise.all([
    runner.rows<SpanRow>(
      `SELECT span_id, parent_id, service, name, toString(toUnixTimestamp64Nano(start)) AS start_ns, duration_ns, error, indicator, tags
         FROM ${runner.table('spans')}
        WHERE tenant = {tenant:String} AND start >= {lo:DateTime64(9, 'UTC')} AND start <= {hi:DateTime64(9, 'UTC')} AND trace_id = {id:Int64} AND trace_id_high = {high:Int64}
        ORDER BY start, span_id`,
      tenant,
      range,
    ),
    runner.rows<LogRow>(
      `SELECT toString(toUnixTimestamp64Nano(timestamp)) AS ts_ns, service, toString(severity) AS severity, severity_number, body, span_id, attributes
         FROM ${runner.table('logs')}
        WHERE tenant = {tenant:String} AND service IN {services:Array(String)}
          AND timestamp >= {lo:DateTime64(9, 'UTC')} AND timestamp <= {hi:DateTime64(9, 'UTC')} AND trace_id = {id:Int64} AND trace_id_high = {high:Int64}
        ORDER BY timestamp, span_id, body
        LIMIT {limit:UInt32}`,
      tenant,
      around,
    ),
    runner.rows<SampleRow>(
      `SELECT toString(toUnixTimestamp64Nano(timestamp)) AS ts_ns, name, toString(type) AS type, value,
              toFloat64(toString(sample_rate)) AS sample_rate, unit, message, toString(status) AS status, tags, service, span_id
         FROM ${runner.table('samples')}
        WHERE tenant = {tenant:String} AND trace_id = {id:Int64} AND trace_id_high = {high:Int64}
          AND timestamp >= {lo:DateTime64(9, 'UTC')} AND timestamp <= {hi:DateTime64(9, 'UTC')}
        ORDER BY timestamp, span_id, name
        LIMIT {limit:UInt32}`,
      tenant,
      around,
    ),
  ]);

  const records: SpanRecord[] = spanRows.map((r) => ({
    spanId: BigInt(r.span_id),
    parentId: BigInt(r.parent_id),
    service: r.service,
    name: r.name,
    startNs: BigInt(r.start_ns),
    durationNs: BigInt(r.duration_ns),
    error: r.error,
    indicator: r.indicator,
    tags: r.tags,
  }));
  const tree = assembleTrace(records);
  // The index saw the trace but its spans are gone (TTL dropped a part in between): nothing to show.
  if (!tree) throw queryError('QUERY_ERR_NOT_FOUND', `no spans left for trace ${traceId} (${hexId(traceId)})`);

  const offset = (ns: bigint): number => nsToMs(ns - tree.startNs);
  return {
    trace_id: traceId.toString(),
    trace_id_hex: hexId(traceId),
    trace_id_128: hexTraceId128(traceId, traceIdHigh),
    start: nsToRfc3339(tree.startNs),
    end: nsToRfc3339(tree.endNs),
    duration_ms: nsToMs(tree.endNs - tree.startNs),
    span_count: tree.spanCount,
    error_count: tree.errorCount,
    services: tree.services,
    root_span_ids: tree.rootSpanIds,
    spans: tree.spans,
    critical_path: tree.criticalPath,
    logs: logRows.slice(0, LOG_LIMIT).map((l) => placed(l, offset)),
    samples: sampleRows.slice(0, LOG_LIMIT).map((r) => placed(r, offset)),
    truncated: { logs: logRows.length > LOG_LIMIT, samples: sampleRows.length > LOG_LIMIT },
    links: {
      logs: logsLink(traceIdHigh === 0n ? hexId(traceId) : hexTraceId128(traceId, traceIdHigh), startNs, endNs),
      sql: {
        sql: `SELECT * FROM spans WHERE tenant = {tenant:String} AND start >= {lo:DateTime64(9, 'UTC')} AND start <= {hi:DateTime64(9, 'UTC')} AND trace_id = {id:Int64} AND trace_id_high = {high:Int64} ORDER BY start`,
        params: { tenant, lo: range.lo, hi: range.hi, id: traceId.toString(), high: traceIdHigh.toString() },
      },
    },
  };
}

/** A log or sample row as the answer gives it (see Placed). */
function placed<R extends { ts_ns: string; span_id: string }>(row: R, offset: (ns: bigint) => number): Omit<R, 'ts_ns'> & Placed {
  const { ts_ns: ts, ...rest } = row;
  return { timestamp: nsToRfc3339(BigInt(ts)), offset_ms: offset(BigInt(ts)), ...rest, span_id_hex: hexId(row.span_id) };
}
