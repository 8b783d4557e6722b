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
  /**
   * True when more than `SPAN_LIMIT` span rows, or `LOG_LIMIT` logs or
   * samples, matched and the rest were left out (the tree and the counts are
   * then those of the spans read); all three when the rows read passed
   * `query.maxBufferedBytes`.
   */
  truncated: { spans: boolean; logs: boolean; samples: boolean };
  /** `logs`: GET /v1/logs for this trace and time range; `sql`: a body for POST /v1/sql reading its span rows. */
  links: { logs: string; sql: { sql: string; params: Record<string, string> } };
}

/** Logs and samples within this many seconds of the trace's range are its own (records sent with timestamp 0 take the gateway's receive time, a little after). */
const SLACK_S = 60;
const SLACK_NS = BigInt(SLACK_S) * 1_000_000_000n;
/** Most logs, and most samples, one trace answer carries. */
export const LOG_LIMIT = 10_000;
/**
 * Most span rows one trace answer is built from: a trace of a million spans
 * (a tenant can send one) would otherwise be read whole into the API's memory.
 * Which ones is the order ClickHouse reads them in (no ORDER BY: a sort would
 * cost every trace, and a trace this big is not read whole anyway).
 */
export const SPAN_LIMIT = LOG_LIMIT;

/**
 * One row of the trace's rows statement: `part` says which read it comes
 * from (1 a span, 2 a log, 3 a sample); the other columns are those of its
 * part, the rest default. 64-bit integers arrive as strings.
 */
interface TraceQueryRow {
  part: number;
  /** The span's start, the log's or the sample's time: Unix ns. */
  ts_ns: string;
  /** The high 64 bits of the trace id (the same in every row: all parts read the index's). */
  trace_id_high: string;
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
  ['trace_id_high', 'Int64', '0'],
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

/**
 * The SELECT list of one part: its own expressions as they are, every other
 * column its default cast to the column's type (UNION ALL gives each
 * column the common type of its parts; casting the parts' own columns too
 * cost 2.5 ms of 28 on the 10M bench).
 */
function selectList(part: number, own: Partial<Record<Column, string>>): string {
  return [`${part} AS part`, ...COLUMNS.map(([name, type, none]) => `${own[name] ?? `CAST(${none} AS ${type})`} AS ${name}`)].join(', ');
}

/**
 * Where the trace is, as the scalar `r` every part of traceRowsQuery reads:
 * (its high 64 bits, first start, last end, whether it was found), from
 * `trace_index` (one small key range per daily partition). A hint prunes
 * the partitions: a day either side, so a trace crossing midnight (one
 * index row per day) is still read whole; the trace is then found only
 * when its whole range overlaps the hint's. Always one row (an aggregate
 * without GROUP BY: the WHERE holds one trace): a trace not found gives
 * `r.4 = 0`, and every part then reads nothing. One aggregation, not a
 * GROUP BY under an outer one: 1.5-2 ms less analysis per trace.
 */
function traceIndexScalar(database: string, options: { hinted: boolean; high: boolean }): string {
  const found = options.hinted
    ? 'count() > 0 AND max(end) >= fromUnixTimestamp64Milli({fromMs:Int64}) AND min(start) <= fromUnixTimestamp64Milli({toMs:Int64})'
    : 'count() > 0';
  return `WITH (SELECT (max(trace_id_high), min(start), max(end), ${found})
      FROM ${database}.trace_index
     WHERE tenant = {tenant:String} AND trace_id = {id:Int64}${options.high ? ' AND trace_id_high IN (0, {high:Int64})' : ''}${
       options.hinted ? ' AND start >= fromUnixTimestamp64Milli({pruneFromMs:Int64}) AND start <= fromUnixTimestamp64Milli({pruneToMs:Int64})' : ''
     }) AS r`;
}

/**
 * How ClickHouse plans traceRowsQuery: of the ~45 ms ClickHouse spent on a
 * trace of the 10M-span bench, ~26 ms was analysing and planning the
 * statement, for reads of a few granules. These settings skip what does
 * nothing for it, never changing its answer: the query-plan optimization
 * passes (filter push-down, read in order, lazy materialization... the
 * parts are single reads with their own LIMIT; the primary key and the
 * skip indexes are used without them), projections (the tables have none,
 * trace_index's implicit min-max one does not answer a WHERE on the key),
 * the query condition cache (each trace id is asked once: a cache entry per
 * trace, never hit). The PREWHERE that pass made is written in the
 * statement. Measured on 2M spans + 2M logs, taking turns with the previous
 * statement: planning 24.7 -> 19.2 ms, ClickHouse's time 36.5 -> 32.5 ms
 * (p50), with the single-aggregation scalar.
 */
export const TRACE_PLANNING = {
  query_plan_enable_optimizations: 0,
  optimize_use_projections: 0,
  optimize_use_implicit_projections: 0,
  use_query_condition_cache: 0,
} as const;

/**
 * All the rows of a trace in one statement (one round trip; ClickHouse
 * reads the index once, its scalar cache serving the other parts, then the
 * three parts in parallel): its spans by the key of `spans` (tenant,
 * ten-minute bucket, trace id), its logs from any service (the trace-id
 * bloom filter of `logs` within the trace's time range and slack) and its
 * samples, at most `limit` of each (logs and samples: the first by time,
 * span id, then body or name; spans: the first read). The parts come in no order and the spans unsorted: fetchTrace
 * sorts (an outer ORDER BY cost 2.3 ms of 28 on the 10M bench). The trace
 * id is each part's PREWHERE, written out: TRACE_PLANNING turns off the
 * optimization pass that would move it there (without it every column of
 * the granules read was read: 1.95 -> 2.9 MB a trace; with it 2.06 MB).
 */
export function traceRowsQuery(database: string, options: { hinted: boolean; high: boolean; samples?: boolean }): string {
  const r = traceIndexScalar(database, options);
  const ofTrace = 'r.4 > 0 AND trace_id_high = r.1';
  const around = (column: string): string => `${column} >= r.2 - INTERVAL {slackS:UInt32} SECOND AND ${column} <= r.3 + INTERVAL {slackS:UInt32} SECOND`;
  return `${r}
SELECT ${selectList(1, {
    ts_ns: 'toUnixTimestamp64Nano(start)',
    trace_id_high: 'trace_id_high',
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
 PREWHERE trace_id = {id:Int64}
 WHERE tenant = {tenant:String} AND start >= toStartOfTenMinutes(r.2) AND start <= r.3 AND ${ofTrace}
 LIMIT {limit:UInt32}
UNION ALL
(
  ${r}
  SELECT ${selectList(2, {
    ts_ns: 'toUnixTimestamp64Nano(timestamp)',
    trace_id_high: 'trace_id_high',
    service: 'service',
    severity: 'toString(severity)',
    severity_number: 'severity_number',
    body: 'body',
    span_id: 'span_id',
    fields: 'attributes',
  })}
    FROM ${database}.logs
   PREWHERE trace_id = {id:Int64}
   WHERE tenant = {tenant:String} AND ${around('timestamp')} AND ${ofTrace}
   ORDER BY ts_ns, span_id, body
   LIMIT {limit:UInt32})${options.samples === false ? '' : samplesPart(database, r, ofTrace, around)}`;
}

/**
 * The samples part of traceRowsQuery. Left out for a tenant with no sample
 * sent with a trace id (tracedSamplesSql): planning it cost ClickHouse 4-5 ms
 * of ~22 per trace on the 10M bench even when it read nothing.
 */
function samplesPart(database: string, r: string, ofTrace: string, around: (column: string) => string): string {
  return `
UNION ALL
(
  ${r}
  SELECT ${selectList(3, {
    ts_ns: 'toUnixTimestamp64Nano(timestamp)',
    trace_id_high: 'trace_id_high',
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
   PREWHERE trace_id = {id:Int64}
   WHERE tenant = {tenant:String} AND ${ofTrace} AND ${around('timestamp')}
   ORDER BY ts_ns, span_id, name
   LIMIT {limit:UInt32})`;
}

/**
 * Whether `tenant` has a metric sample sent with a trace id (a row means
 * yes). The min-max index `idx_traced` of `samples` (migration 0019) answers
 * it without reading a row where none has one: a granule of statsd samples
 * has trace ids 0 to 0.
 */
export function tracedSamplesSql(database: string): string {
  return `SELECT 1 AS traced FROM ${database}.samples WHERE tenant = {tenant:String} AND trace_id != 0 LIMIT 1`;
}

/**
 * Reads one trace of `tenant` and assembles it, in one round trip
 * (traceRowsQuery): its spans, its logs whichever service wrote them, and
 * its samples (unless `options.samples` is false: the caller knows the
 * tenant has none with a trace id). Throws QUERY_ERR_NOT_FOUND when the
 * tenant has no such trace (in the hinted range).
 */
export async function fetchTrace(
  runner: QueryRunner,
  tenant: string,
  traceId: bigint,
  hints: TraceHints = {},
  options: { samples?: boolean } = {},
): Promise<TraceAnswer> {
  const hinted = hints.from !== undefined || hints.to !== undefined;
  const high = hints.high;
  const { rows, cut } = await runner.rowsWithin<TraceQueryRow>(
    traceRowsQuery(runner.database, { hinted, high: high !== undefined, samples: options.samples ?? true }),
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
      slackS: SLACK_S,
      // One more than kept, to know whether any was left out (SPAN_LIMIT is LOG_LIMIT).
      limit: LOG_LIMIT + 1,
    },
    TRACE_PLANNING,
  );
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

  const records: SpanRecord[] = spanRows.slice(0, SPAN_LIMIT).map((r) => ({
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
  if (!tree) {
    // No row: the index has no such trace. Logs or samples alone: the index saw the trace but its spans are gone (TTL dropped a part in between).
    if (rows.length === 0) {
      // Asked for by 128 bits: name all of them (a trace with the same low 64 bits and other high bits may exist, and is not this one).
      const asked = high === undefined ? `${traceId} (${hexId(traceId)})` : hexTraceId128(traceId, high);
      throw queryError('QUERY_ERR_NOT_FOUND', `no trace ${asked}${hinted ? ' overlapping the given from/to' : ''} for this tenant`);
    }
    if (cut) {
      throw queryError('QUERY_ERR_TOO_LARGE', `the trace's logs and samples passed query.maxBufferedBytes before any of its spans was read`);
    }
    throw queryError('QUERY_ERR_NOT_FOUND', `no spans left for trace ${traceId} (${hexId(traceId)})`);
  }
  const traceIdHigh = BigInt((rows[0] as TraceQueryRow).trace_id_high);
  const range = { lo: nsToDateTime64Param(tenMinutesFloor(tree.startNs)), hi: nsToDateTime64Param(tree.endNs) };
  logRows.sort(byTimeThenSpan((l) => l.body));
  sampleRows.sort(byTimeThenSpan((s) => s.name));

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
    // Cut at query.maxBufferedBytes, any part may miss rows (they arrive in no set order): all three say so.
    truncated: { spans: cut || spanRows.length > SPAN_LIMIT, logs: cut || logRows.length > LOG_LIMIT, samples: cut || sampleRows.length > LOG_LIMIT },
    links: {
      logs: logsLink(traceIdHigh === 0n ? hexId(traceId) : hexTraceId128(traceId, traceIdHigh), tree.startNs, tree.endNs),
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

/** The order of a trace's logs (then by body) and samples (then by name): time, then span id, as the query's own ORDER BY. */
function byTimeThenSpan<R extends { ts_ns: string; span_id: string }>(last: (row: R) => string): (a: R, b: R) => number {
  const compare = (x: bigint | string, y: bigint | string): number => (x < y ? -1 : x > y ? 1 : 0);
  return (a, b) => compare(BigInt(a.ts_ns), BigInt(b.ts_ns)) || compare(BigInt(a.span_id), BigInt(b.span_id)) || compare(last(a), last(b));
}
