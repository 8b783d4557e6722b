import type { QueryRunner } from '../query-runner.js';

/** One operation (span name) of a service, from the `ssf.span.duration` rollup. */
export interface OperationStats {
  name: string;
  count: number;
  errors: number;
  /** ±1 % (DDSketch). */
  p99_ms: number;
}

/** A service's numbers over a time range, from the `ssf.span.duration` rollup. */
export interface ServiceStats {
  service: string;
  spans: number;
  /** spans / length of the range in seconds. */
  rate_per_s: number;
  errors: number;
  error_rate: number;
  /** Latency of the service's spans, ±1 % (DDSketch). */
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  /** The busiest operations, by span count. */
  operations: OperationStats[];
}

export interface ServiceStatsOptions {
  /** Epoch ms; the rollup is read by whole minutes: buckets from the minute of `from` up to `to`. */
  from: number;
  to: number;
  /** Only these services (all when absent). */
  services?: readonly string[] | undefined;
  /** Operations listed per service (default 10). */
  operations?: number | undefined;
}

interface ServiceRow {
  service: string;
  spans: number;
  errors: number;
  q: [number, number, number];
}

interface OperationRow {
  service: string;
  operation: string;
  spans: number;
  errors: number;
  p99: number;
}

/** The WHERE clause every read of the span-duration rollup shares. */
const ROLLUP_WHERE = `tenant = {tenant:String}
      AND name = 'ssf.span.duration' AND type = 'histogram'
      AND bucket >= toStartOfMinute(fromUnixTimestamp64Milli({fromMs:Int64}))
      AND bucket < fromUnixTimestamp64Milli({toMs:Int64})
      AND ({all:Bool} OR tags['service'] IN {services:Array(String)})`;

/**
 * Per-service spans, rate, errors and latency over [from, to), read from
 * the `ssf.span.duration` rollup (metrics_1m): cheap at any range, since a
 * minute of a busy operation is one row. Latency percentiles merge the
 * DDSketches of every series of the service (1 % relative error). Sorted by
 * service name.
 */
export async function serviceStats(runner: QueryRunner, tenant: string, options: ServiceStatsOptions): Promise<ServiceStats[]> {
  const params = {
    tenant,
    fromMs: options.from,
    toMs: options.to,
    all: options.services === undefined,
    services: options.services ?? [],
    top: options.operations ?? 10,
  };
  const table = runner.table('metrics_1m');
  const [services, operations] = await Promise.all([
    runner.rows<ServiceRow>(
      `SELECT tags['service'] AS service, sum(count) AS spans, sumIf(count, tags['error'] = 'true') AS errors,
              quantilesDDMerge(0.01, 0.5, 0.9, 0.99)(quantiles) AS q
       FROM ${table}
       WHERE ${ROLLUP_WHERE}
       GROUP BY service
       ORDER BY service`,
      tenant,
      params,
    ),
    runner.rows<OperationRow>(
      `SELECT tags['service'] AS service, tags['name'] AS operation, sum(count) AS spans,
              sumIf(count, tags['error'] = 'true') AS errors,
              quantileDDMerge(0.01, 0.99)(quantiles) AS p99
       FROM ${table}
       WHERE ${ROLLUP_WHERE}
       GROUP BY service, operation
       ORDER BY service, spans DESC, operation
       LIMIT {top:UInt32} BY service`,
      tenant,
      params,
    ),
  ]);
  const seconds = Math.max(options.to - options.from, 1) / 1000;
  return services.map((s) => ({
    service: s.service,
    spans: s.spans,
    rate_per_s: s.spans / seconds,
    errors: s.errors,
    error_rate: s.spans > 0 ? s.errors / s.spans : 0,
    p50_ms: s.q[0],
    p90_ms: s.q[1],
    p99_ms: s.q[2],
    operations: operations.filter((o) => o.service === s.service).map((o) => ({ name: o.operation, count: o.spans, errors: o.errors, p99_ms: o.p99 })),
  }));
}
