import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { queryError } from '../query-errors.js';
import type { QueryContext } from '../query-context.js';
import { MAX_DURATION_MS, timeParam, timeRangeShape } from '../time-range.js';
import { typedRoute } from '../typed-route.js';
import { serviceGraph } from './service-graph.js';
import { computeSlos } from './slo.js';
import { DEFAULT_SLO_WINDOWS, parseWindows } from './slo-windows.js';

const DAY_MS = 86_400_000;
const serviceName = z.string().min(1).max(256);

export const ServicesQuery = z.strictObject({
  ...timeRangeShape,
  service: serviceName.optional().describe('Focus: only this service, the edges touching it and its neighbours.'),
  operations: z.coerce.number().int().min(0).max(100).default(10).describe('Operations listed per service, busiest first (default 10).'),
});

export const SloQuery = z.strictObject({
  service: z
    .union([serviceName, z.array(serviceName)])
    .optional()
    .describe('Only these services (repeatable); default all with indicator spans.'),
  objective: z.coerce.number().gt(0).lt(1).default(0.999).describe('Availability target in (0, 1) (default 0.999).'),
  latency_ms: z.coerce
    .number()
    .positive()
    .max(MAX_DURATION_MS)
    .optional()
    .describe('Latency threshold: a slower indicator span is bad too; counted exactly from the raw spans.'),
  windows: z.string().default(DEFAULT_SLO_WINDOWS).describe('Comma list of windows ending at `to`, whole minutes (default 1h,6h,24h,30d).'),
  to: timeParam('now', 'End of every window (default now); rounded up to the minute.'),
});

/**
 * GET /v1/services (the service dependency graph) and GET /v1/slo (SLIs,
 * error budgets and burn alerts of indicator spans). The numbers are
 * computed by service-graph.ts and slo.ts, which batch analytics reuses.
 */
export function registerServiceRoutes(app: FastifyInstance, ctx: QueryContext): void {
  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/services',
      tag: 'services',
      summary: 'The service dependency graph of a time range',
      description:
        'Per service: spans, rate, errors, p50/p90/p99 latency and top operations (from the ssf.span.duration rollup, whole minutes, ±1 %). Per edge A -> B (a span of B whose parent span is of A): calls, errors and exact p50/p99 of the child spans, from a join of the raw spans of [from, to) with themselves.',
      query: ServicesQuery,
      responses: { 200: { description: '{ from, to, services, edges }' } },
    },
    async ({ query, tenant }) => {
      if (query.from >= query.to) throw queryError('QUERY_ERR_BAD_REQUEST', 'query parameter from: must be before to');
      return serviceGraph(ctx.runner, tenant, { from: query.from, to: query.to, service: query.service, operations: query.operations });
    },
  );

  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/slo',
      tag: 'services',
      summary: 'SLIs, error budgets and burn-rate alerts of indicator spans',
      description:
        'Per service, objective (span name) and window: total, good, bad, availability, p50/p99, error budget, budget consumed and remaining, burn rate; and the multi-window burn-rate alerts of the SRE workbook (1h/5m > 14.4, 6h/30m > 6: page; 24h/2h > 3, 3d/6h > 1: ticket).',
      query: SloQuery,
      responses: { 200: { description: '{ to, objective, latency_ms, counts_from, windows, services, alerts }' } },
    },
    async ({ query, tenant }) => {
      const retention = ctx.config.retention;
      const keptDays = query.latency_ms === undefined ? retention.rollup1mDays : Math.min(retention.rollup1mDays, retention.spansDays);
      const windows = parseWindows(query.windows, keptDays * DAY_MS);
      const services = query.service === undefined ? undefined : Array.isArray(query.service) ? query.service : [query.service];
      return computeSlos(ctx.runner, tenant, { to: query.to, services, objective: query.objective, latencyMs: query.latency_ms, windows });
    },
  );
}
