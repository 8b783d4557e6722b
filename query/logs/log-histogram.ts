import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseId, traceIdHighOf } from '../ids.js';
import type { QueryContext } from '../query-context.js';
import type { QueryRunner } from '../query-runner.js';
import { checkRange } from '../time-range.js';
import { typedRoute } from '../typed-route.js';
import { LogsQuery } from './log-routes.js';
import { parseLogQuery, SEVERITIES } from './log-query.js';
import type { Severity } from './log-query.js';
import { searchCondition, SqlParams } from './log-sql.js';

/** Bucket widths a histogram picks from: the smallest giving at most `buckets` buckets. */
const STEPS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

export function histogramStep(fromMs: number, toMs: number, buckets: number): number {
  // Whole seconds: `now-1h` and `now` are read a few ms apart, and an hour must still fit 120 buckets of 30 s.
  const span = Math.max(1000, Math.round((toMs - fromMs) / 1000) * 1000);
  for (const step of STEPS_MS) if (span / step <= buckets) return step;
  return Math.ceil(span / buckets / 86_400_000) * 86_400_000;
}

export interface LogHistogramRequest {
  q?: string | undefined;
  services: string[];
  minSeverity?: Severity | undefined;
  traceId?: bigint | undefined;
  /** With a 32-hex-digit trace id: its high 64 bits (as GET /v1/logs). */
  traceIdHigh?: bigint | undefined;
  fromMs: number;
  toMs: number;
  buckets: number;
}

export interface LogHistogram {
  from: number;
  to: number;
  step_ms: number;
  total: number;
  /** `[bucket_start_ms, matches, of which error or fatal]`, buckets with matches only, in time order. */
  buckets: Array<[number, number, number]>;
  services: Array<{ service: string; count: number }>;
  severities: Array<{ severity: string; count: number }>;
}

/**
 * How many logs a search of `GET /v1/logs` matches per time bucket, service
 * and severity: the same filters and search, written by the same
 * `searchCondition`, counted in one GROUP BY.
 */
export async function logHistogram(runner: QueryRunner, tenant: string, request: LogHistogramRequest): Promise<LogHistogram> {
  const query = request.q === undefined ? undefined : parseLogQuery(request.q);
  const fromMs = Math.floor(request.fromMs);
  const toMs = Math.ceil(request.toMs);
  const stepMs = histogramStep(fromMs, toMs, request.buckets);
  const params = new SqlParams();
  const named: Record<string, unknown> = { tenant, fromMs, toMs, stepMs };
  const where = ['tenant = {tenant:String}', 'timestamp >= fromUnixTimestamp64Milli({fromMs:Int64})', 'timestamp <= fromUnixTimestamp64Milli({toMs:Int64})'];
  if (request.services.length > 0) {
    where.push('service IN {services:Array(String)}');
    named['services'] = request.services;
  }
  if (request.minSeverity !== undefined) {
    where.push(`CAST(severity, 'Int8') >= {minSeverity:Int8}`);
    named['minSeverity'] = SEVERITIES.indexOf(request.minSeverity);
  }
  if (request.traceId !== undefined) {
    where.push('trace_id = {traceId:Int64}');
    named['traceId'] = request.traceId.toString();
  }
  if (request.traceIdHigh !== undefined) {
    // As log-sql.ts: a log stored with 64 bits (high 0) is the trace's too.
    where.push('trace_id_high IN (0, {traceIdHigh:Int64})');
    named['traceIdHigh'] = request.traceIdHigh.toString();
  }
  if (query) where.push(searchCondition(query, params));
  const sql = [
    // `sev`, not `severity`: an alias named like the column would replace it in WHERE (ClickHouse lets WHERE see aliases).
    'SELECT intDiv(toUnixTimestamp64Milli(timestamp), {stepMs:Int64}) * {stepMs:Int64} AS t, service, toString(severity) AS sev, count() AS n',
    `FROM ${runner.table('logs')}`,
    `WHERE ${where.join('\n  AND ')}`,
    'GROUP BY t, service, sev',
  ].join('\n');
  const rows = await runner.rows<{ t: string; service: string; sev: string; n: string }>(sql, tenant, { ...params.values, ...named });

  const buckets = new Map<number, [number, number, number]>();
  const services = new Map<string, number>();
  const severities = new Map<string, number>();
  let total = 0;
  for (const r of rows) {
    const t = Number(r.t);
    const n = Number(r.n);
    const b = buckets.get(t) ?? [t, 0, 0];
    b[1] += n;
    if (r.sev === 'error' || r.sev === 'fatal') b[2] += n;
    buckets.set(t, b);
    services.set(r.service, (services.get(r.service) ?? 0) + n);
    severities.set(r.sev, (severities.get(r.sev) ?? 0) + n);
    total += n;
  }
  const byCount = <K extends string>(m: Map<string, number>, key: K): Array<Record<K, string> & { count: number }> =>
    [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, count]) => ({ [key]: k, count }) as Record<K, string> & { count: number });
  return {
    from: fromMs,
    to: toMs,
    step_ms: stepMs,
    total,
    buckets: [...buckets.values()].sort((a, b) => a[0] - b[0]),
    services: byCount(services, 'service'),
    severities: byCount(severities, 'severity'),
  };
}

const HistogramQuery = LogsQuery.pick({ q: true, service: true, severity: true, trace_id: true, from: true, to: true }).extend({
  buckets: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(120)
    .describe('Most buckets (1-1000, default 120): the step is the smallest of 1s, 2s, 5s, ... 1d that fits.'),
});

/** GET /v1/logs/histogram: matches of a log search per time bucket, with service and severity counts. */
export function registerLogHistogramRoutes(app: FastifyInstance, ctx: QueryContext): void {
  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/logs/histogram',
      tag: 'logs',
      summary: 'Count log matches over time',
      description:
        "The same search and filters as GET /v1/logs, counted per time bucket (with the error and fatal ones apart), per service and per severity: the console's histogram and facets.",
      query: HistogramQuery,
      responses: {
        200: { description: '{ from, to, step_ms, total, buckets: [[ms, count, errors]], services: [{ service, count }], severities: [{ severity, count }] }' },
      },
    },
    async ({ query, tenant }) => {
      checkRange(query.from, query.to);
      return logHistogram(ctx.runner, tenant, {
        q: query.q,
        services: query.service === undefined ? [] : [query.service].flat(),
        minSeverity: query.severity,
        traceId: query.trace_id === undefined ? undefined : parseId(query.trace_id, 'trace_id'),
        traceIdHigh: query.trace_id === undefined ? undefined : traceIdHighOf(query.trace_id),
        fromMs: query.from,
        toMs: query.to,
        buckets: query.buckets,
      });
    },
  );
}
