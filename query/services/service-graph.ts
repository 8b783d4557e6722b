import type { QueryRunner } from '../query-runner.js';
import { serviceStats } from './service-stats.js';
import type { ServiceStats } from './service-stats.js';

/** Calls from one service to another: child spans of `to` whose parent span is of `from`. */
export interface ServiceEdge {
  from: string;
  to: string;
  calls: number;
  /** Calls whose child span failed. */
  errors: number;
  error_rate: number;
  /** Latency of the child spans, exact (from the raw spans). */
  p50_ms: number;
  p99_ms: number;
}

/** `GET /v1/services`: the dependency graph of a time range. */
export interface ServiceGraph {
  /** RFC 3339. */
  from: string;
  to: string;
  services: ServiceStats[];
  edges: ServiceEdge[];
}

export interface ServiceGraphOptions {
  /** Epoch ms, [from, to). */
  from: number;
  to: number;
  /** Focus: only this service, the edges touching it and the services at their other end. */
  service?: string | undefined;
  /** Operations listed per service (default 10). */
  operations?: number | undefined;
}

interface EdgeRow {
  parent: string;
  child: string;
  calls: string;
  errors: string;
  q: [number, number];
}

/**
 * The edges between services in [from, to): a span of service B whose
 * parent span (same trace, parent_id = the parent's span_id) is of service
 * A != B is one call A -> B. Both sides of the join read only the spans that
 * start in the range, so each is one key range per ten minutes of the
 * primary key (tenant, toStartOfTenMinutes(start), ...); the parent side is
 * held in memory (a few tens of bytes per span of the range). A call whose parent
 * started before `from` is not counted. Percentiles are exact
 * (quantilesExact: the value at rank floor(q * n)).
 */
export async function serviceEdges(runner: QueryRunner, tenant: string, options: ServiceGraphOptions): Promise<ServiceEdge[]> {
  const spans = runner.table('spans');
  const range = `tenant = {tenant:String}
          AND start >= fromUnixTimestamp64Milli({fromMs:Int64}) AND start < fromUnixTimestamp64Milli({toMs:Int64})`;
  const rows = await runner.rows<EdgeRow>(
    `SELECT p.service AS parent, c.service AS child, count() AS calls, countIf(c.error) AS errors,
            arrayMap(x -> x / 1e6, quantilesExact(0.5, 0.99)(c.duration_ns)) AS q
     FROM (
       SELECT trace_id, parent_id, service, error, duration_ns FROM ${spans}
       WHERE ${range} AND parent_id != 0
     ) AS c
     INNER JOIN (
       SELECT trace_id, span_id, service FROM ${spans}
       WHERE ${range}
     ) AS p ON c.trace_id = p.trace_id AND c.parent_id = p.span_id
     WHERE p.service != c.service
       AND ({all:Bool} OR p.service = {focus:String} OR c.service = {focus:String})
     GROUP BY parent, child
     ORDER BY parent, child`,
    tenant,
    { tenant, fromMs: options.from, toMs: options.to, all: options.service === undefined, focus: options.service ?? '' },
  );
  return rows.map((r) => {
    const calls = Number(r.calls);
    const errors = Number(r.errors);
    return { from: r.parent, to: r.child, calls, errors, error_rate: calls > 0 ? errors / calls : 0, p50_ms: r.q[0], p99_ms: r.q[1] };
  });
}

/**
 * The service dependency graph of [from, to): per-service numbers from the
 * rollup (serviceStats) and the edges from the raw spans (serviceEdges).
 * With a focus service, only it and its neighbours are listed.
 */
export async function serviceGraph(runner: QueryRunner, tenant: string, options: ServiceGraphOptions): Promise<ServiceGraph> {
  const edges = await serviceEdges(runner, tenant, options);
  let only: string[] | undefined;
  if (options.service !== undefined) {
    only = [...new Set([options.service, ...edges.flatMap((e) => [e.from, e.to])])];
  }
  const services = await serviceStats(runner, tenant, { from: options.from, to: options.to, services: only, operations: options.operations });
  return { from: new Date(options.from).toISOString(), to: new Date(options.to).toISOString(), services, edges };
}
