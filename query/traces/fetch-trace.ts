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
}

/**
 * One row of the trace's rows statement: `part` says which read it comes
 * from (1 a span, 2 a log, 3 a sample); the other columns are those of its
 * part, the rest default. 64-bit integers arrive as strings.
 */
interface TraceQueryRow {
  part: number;
  /** The span's start, the log's or the sample's time: Unix ns. */
  ts_ns: string;
  span_id: string;
  parent_id: string;
  service: string;
  name: string;
  duration_ns: string;
  error: boolean;
  indicator: boolean;
  /** A span's or a sample's tags, a log's attributes. */
  fields: Record<string, string>;
  severity: string;
  severity_number: number;
  body: string;
  type: string;
  value: number;
  sample_rate: number;
  unit: string;
  message: string;
  status: string;
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

/** The columns of the trace query's rows (TraceQueryRow), each with its type and the value of the parts that have none. */
const COLUMNS = [
  ['ts_ns', 'Int64', '0'],
  ['span_id', 'Int64', '0'],
  ['parent_id', 'Int64', '0'],
  ['service', 'String', "''"],
  ['name', 'String', "''"],
  ['duration_ns', 'Int64', '0'],
  ['error', 'Bool', 'false'],
  ['indicator', 'Bool', 'false'],
  ['fields', 'Map(String, String)', 'map()'],
  ['severity', 'String', "''"],
  ['severity_number', 'UInt8', '0'],
  ['body', 'String', "''"],
  ['type', 'String', "''"],
  ['value', 'Float64', '0'],
  ['sample_rate', 'Float64', '0'],
  ['unit', 'String', "''"],
  ['message', 'String', "''"],
  ['status', 'String', "''"],
] as const;
type Column = (typeof COLUMNS)[number][0];

/** The SELECT list of one part: its own expressions, every other column at its default, all cast to the common types. */
function selectList(part: number, own: Partial<Record<Column, string>>): string {
  return [`${part} AS part`, ...COLUMNS.map(([name, type, none]) => `CAST(${own[name] ?? none} AS ${type}) AS ${name}`)].join(', ');
}

/**
 * Where the trace is: its high 64 bits, first start and last end, from
 * `trace_index` (one small key range per daily partition). A hint prunes
 * the partitions: a day either side, so a trace crossing midnight (one
 * index row per day) is still read whole.
 */
export function traceIndexQuery(database: string, options: { hinted: boolean; high: boolean }): string {
  return `SELECT toString(max(trace_id_high)) AS high_bits, toString(toUnixTimestamp64Nano(min(start))) AS start_ns, toString(toUnixTimestamp64Nano(max(end))) AS end_ns
  FROM ${database}.trace_index
 WHERE tenant = {tenant:String} AND trace_id = {id:Int64}${options.high ? ' AND trace_id_high IN (0, {high:Int64})' : ''}${
   options.hinted ? ' AND start >= fromUnixTimestamp64Milli({pruneFromMs:Int64}) AND start <= fromUnixTimestamp64Milli({pruneToMs:Int64})' : ''
 }
 GROUP BY tenant, trace_id${options.hinted ? '\nHAVING max(end) >= fromUnixTimestamp64Milli({fromMs:Int64}) AND min(start) <= fromUnixTimestamp64Milli({toMs:Int64})' : ''}`;
}

/**
 * All the rows of a trace whose place traceIndexQuery found, in one
 * statement (one round trip; ClickHouse reads the three parts in parallel):
 * its spans by the key of `spans` (tenant, ten-minute bucket, trace id), its
 * logs from any service (the trace-id bloom filter of `logs` within the
 * trace's time range and slack) and its samples. Ordered by part, then time.
 */
export function traceRowsQuery(database: string): string {
  const ofTrace = 'trace_id = {id:Int64} AND trace_id_high = {high:Int64}';
  const around = (column: string): string => `${column} >= {aroundLo:DateTime64(9, 'UTC')} AND ${column} <= {aroundHi:DateTime64(9, 'UTC')}`;
  return `SELECT * FROM (
  SELECT ${selectList(1, {
    ts_ns: 'toUnixTimestamp64Nano(start)',
    span_id: 'span_id',
    parent_id: 'parent_id',
    service: 'service',
    name: 'name',
    duration_ns: 'duration_ns',
    error: 'error',
    indicator: 'indicator',
    fields: 'tags',
  })}
    FROM ${database}.spans
   WHERE tenant = {tenant:String} AND start >= {lo:DateTime64(9, 'UTC')} AND start <= {hi:DateTime64(9, 'UTC')} AND ${ofTrace}
  UNION ALL
  SELECT * FROM (
    SELECT ${selectList(2, {
      ts_ns: 'toUnixTimestamp64Nano(timestamp)',
      service: 'service',
      severity: 'toString(severity)',
      severity_number: 'severity_number',
      body: 'body',
      span_id: 'span_id',
      fields: 'attributes',
    })}
      FROM ${database}.logs
     WHERE tenant = {tenant:String} AND ${around('timestamp')} AND ${ofTrace}
     ORDER BY ts_ns, span_id, body
     LIMIT {limit:UInt32})
  UNION ALL
  SELECT * FROM (
    SELECT ${selectList(3, {
      ts_ns: 'toUnixTimestamp64Nano(timestamp)',
      name: 'name',
      type: 'toString(type)',
      value: 'value',
      sample_rate: 'toFloat64(toString(sample_rate))',
      unit: 'unit',
      message: 'message',
      status: 'toString(status)',
      fields: 'tags',
      service: 'service',
      span_id: 'span_id',
    })}
      FROM ${database}.samples
     WHERE tenant = {tenant:String} AND ${ofTrace} AND ${around('timestamp')}
     ORDER BY ts_ns, span_id, name
     LIMIT {limit:UInt32})
)
ORDER BY part, ts_ns, span_id, body, name`;
}

/**
 * Reads one trace of `tenant` and assembles it in two round trips: where
 * it is (traceIndexQuery), then its spans, its logs whichever service wrote
 * them, and its samples (traceRowsQuery). Throws QUERY_ERR_NOT_FOUND when
 * the tenant has no such trace (in the hinted range).
 */
export async function fetchTrace(runner: QueryRunner, tenant: string, traceId: bigint, hints: TraceHints = {}): Promise<TraceAnswer> {
  const hinted = hints.from !== undefined || hints.to !== undefined;
  const high = hints.high;
  const index = await runner.rows<IndexRow>(traceIndexQuery(runner.database, { hinted, high: high !== undefined }), tenant, {
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
  });
  const found = index[0];
  if (!found) {
    throw queryError('QUERY_ERR_NOT_FOUND', `no trace ${traceId} (${hexId(traceId)})${hinted ? ' overlapping the given from/to' : ''} for this tenant`);
  }
  const startNs = BigInt(found.start_ns);
  const endNs = BigInt(found.end_ns);
  const traceIdHigh = BigInt(found.high_bits);
  const range = { lo: nsToDateTime64Param(tenMinutesFloor(startNs)), hi: nsToDateTime64Param(endNs) };
  const rows = await runner.rows<TraceQueryRow>(traceRowsQuery(runner.database), tenant, {
    tenant,
    id: traceId,
    high: traceIdHigh,
    ...range,
    aroundLo: nsToDateTime64Param(startNs - SLACK_NS),
    aroundHi: nsToDateTime64Param(endNs + SLACK_NS),
    limit: LOG_LIMIT + 1,
  });
  const spanRows: TraceQueryRow[] = [];
  const logRows: LogRow[] = [];
  const sampleRows: SampleRow[] = [];
  for (const r of rows) {
    if (r.part === 1) spanRows.push(r);
    else if (r.part === 2) {
      logRows.push({
        ts_ns: r.ts_ns,
        service: r.service,
        severity: r.severity,
        severity_number: r.severity_number,
        body: r.body,
        span_id: r.span_id,
        attributes: r.fields,
      });
    } else {
      sampleRows.push({
        ts_ns: r.ts_ns,
        name: r.name,
        type: r.type,
        value: r.value,
        sample_rate: r.sample_rate,
        unit: r.unit,
        message: r.message,
        status: r.status,
        tags: r.fields,
        service: r.service,
        span_id: r.span_id,
      });
    }
  }

  const records: SpanRecord[] = spanRows.map((r) => ({
    spanId: BigInt(r.span_id),
    parentId: BigInt(r.parent_id),
    service: r.service,
    name: r.name,
    startNs: BigInt(r.ts_ns),
    durationNs: BigInt(r.duration_ns),
    error: r.error,
    indicator: r.indicator,
    tags: r.fields,
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
