import { hexId, hexTraceId128 } from '../ids.js';
import type { QueryRunner } from '../query-runner.js';
import { nsToDateTime64Param, nsToMs, nsToRfc3339, tenMinutesFloor } from './trace-time.js';

/** What GET /v1/traces looks for: traces with one span that matches every given filter. */
export interface TraceSearch {
  /** Epoch ms: the matching span starts in [from, to]. */
  from: number;
  to: number;
  service?: string | undefined;
  name?: string | undefined;
  minDurationMs?: number | undefined;
  maxDurationMs?: number | undefined;
  error?: boolean | undefined;
  /** [key, value] pairs the same span must all have. */
  tags: ReadonlyArray<readonly [string, string]>;
  limit: number;
}

/** One trace found. */
export interface TraceSummary {
  trace_id: string;
  trace_id_hex: string;
  /** All 128 bits (`trace_id_high` then `trace_id`) as 32 hex digits: the id an OTLP or W3C sender printed. */
  trace_id_128: string;
  start: string;
  duration_ms: number;
  root_service: string;
  root_name: string;
  /** From trace_index: every stored span row (a span stored twice counts twice). */
  span_count: number;
  error_count: number;
  services: string[];
  /** The trace's most recent span that matched. */
  matched_span: { span_id: string; span_id_hex: string; service: string; name: string; duration_ms: number };
}

interface MatchRow {
  trace_id: string;
  trace_id_high: string;
  span_id: string;
  service: string;
  name: string;
  duration_ns: string;
}

interface IndexRow {
  trace_id: string;
  start_ns: string;
  end_ns: string;
  spans: string;
  errors: string;
  services: string[];
}

interface RootRow {
  trace_id: string;
  service: string;
  name: string;
}

/**
 * Finds traces in three small reads: the matching spans in `spans`
 * (newest first, one per trace: `LIMIT 1 BY trace_id`, so `limit` traces
 * with the most recent matches), their summaries from `trace_index`, and
 * their root spans (parent 0; the earliest span when the root is missing).
 * Answered newest trace first.
 */
export async function searchTraces(runner: QueryRunner, tenant: string, search: TraceSearch): Promise<TraceSummary[]> {
  const where = ['tenant = {tenant:String}', 'start >= fromUnixTimestamp64Milli({fromMs:Int64})', 'start <= fromUnixTimestamp64Milli({toMs:Int64})'];
  const params: Record<string, unknown> = { tenant, fromMs: Math.floor(search.from), toMs: Math.ceil(search.to), limit: search.limit };
  if (search.service !== undefined) {
    where.push('service = {service:String}');
    params['service'] = search.service;
  }
  if (search.name !== undefined) {
    where.push('name = {name:String}');
    params['name'] = search.name;
  }
  if (search.minDurationMs !== undefined) {
    where.push('duration_ns >= {minNs:Int64}');
    params['minNs'] = BigInt(Math.round(search.minDurationMs * 1e6));
  }
  if (search.maxDurationMs !== undefined) {
    where.push('duration_ns <= {maxNs:Int64}');
    params['maxNs'] = BigInt(Math.round(search.maxDurationMs * 1e6));
  }
  if (search.error !== undefined) {
    where.push('error = {error:Bool}');
    params['error'] = search.error;
  }
  search.tags.forEach(([key, value], i) => {
    // tags[k] = v: the bloom-filter indexes on the map's keys and values skip granules.
    where.push(`tags[{tagKey${i}:String}] = {tagValue${i}:String}`);
    params[`tagKey${i}`] = key;
    params[`tagValue${i}`] = value;
  });

  const matches = await runner.rows<MatchRow>(
    `SELECT trace_id, trace_id_high, span_id, service, name, duration_ns
       FROM ${runner.table('spans')}
      WHERE ${where.join('\n        AND ')}
      ORDER BY start DESC, trace_id, span_id
      LIMIT 1 BY trace_id
      LIMIT {limit:UInt32}`,
    tenant,
    params,
  );
  if (matches.length === 0) return [];
  const ids = matches.map((m) => BigInt(m.trace_id));

  const index = await runner.rows<IndexRow>(
    `SELECT trace_id, toString(toUnixTimestamp64Nano(min(start))) AS start_ns, toString(toUnixTimestamp64Nano(max(end))) AS end_ns,
            sum(spans) AS spans, sum(errors) AS errors, groupUniqArrayArray(services) AS services
       FROM ${runner.table('trace_index')}
      WHERE tenant = {tenant:String} AND trace_id IN {ids:Array(Int64)}
      GROUP BY tenant, trace_id`,
    tenant,
    { tenant, ids },
  );
  if (index.length === 0) return [];
  const starts = index.map((r) => BigInt(r.start_ns));
  const ends = index.map((r) => BigInt(r.end_ns));
  const lo = starts.reduce((m, v) => (v < m ? v : m));
  const hi = ends.reduce((m, v) => (v > m ? v : m));
  const roots = await runner.rows<RootRow>(
    `SELECT trace_id, service, name
       FROM ${runner.table('spans')}
      WHERE tenant = {tenant:String} AND start >= {lo:DateTime64(9, 'UTC')} AND start <= {hi:DateTime64(9, 'UTC')}
        AND trace_id IN {ids:Array(Int64)}
      ORDER BY trace_id, parent_id != 0, start, span_id
      LIMIT 1 BY trace_id`,
    tenant,
    { tenant, ids, lo: nsToDateTime64Param(tenMinutesFloor(lo)), hi: nsToDateTime64Param(hi) },
  );

  const matchOf = new Map(matches.map((m) => [m.trace_id, m]));
  const rootOf = new Map(roots.map((r) => [r.trace_id, r]));
  const found = index.map((r) => {
    const m = matchOf.get(r.trace_id) as MatchRow;
    const root = rootOf.get(r.trace_id);
    const startNs = BigInt(r.start_ns);
    return {
      startNs,
      summary: {
        trace_id: r.trace_id,
        trace_id_hex: hexId(r.trace_id),
        trace_id_128: hexTraceId128(r.trace_id, m.trace_id_high),
        start: nsToRfc3339(startNs),
        duration_ms: nsToMs(BigInt(r.end_ns) - startNs),
        root_service: root?.service ?? '',
        root_name: root?.name ?? '',
        span_count: Number(r.spans),
        error_count: Number(r.errors),
        services: [...r.services].sort(),
        matched_span: { span_id: m.span_id, span_id_hex: hexId(m.span_id), service: m.service, name: m.name, duration_ms: nsToMs(BigInt(m.duration_ns)) },
      },
    };
  });
  found.sort((a, b) => (a.startNs !== b.startNs ? (a.startNs > b.startNs ? -1 : 1) : BigInt(a.summary.trace_id) < BigInt(b.summary.trace_id) ? -1 : 1));
  return found.map((f) => f.summary);
}
