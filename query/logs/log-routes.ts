import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseId, traceIdHighOf } from '../ids.js';
import type { QueryContext } from '../query-context.js';
import { checkRange, timeRangeShape } from '../time-range.js';
import { TtlMap } from '../ttl-map.js';
import { typedRoute } from '../typed-route.js';
import { QUERY_LIMITS } from './log-query.js';
import { searchLogs } from './search-logs.js';
import type { LogDensities } from './search-logs.js';

const repeatable = z.union([z.string(), z.array(z.string())]);

export const LogsQuery = z.strictObject({
  q: z
    .string()
    .max(QUERY_LIMITS.maxLength)
    .optional()
    .describe(
      'The search (docs/query/logs.md): words, "phrases", AND, OR, NOT or -word, parentheses, service:x, severity:>=warn, attr.key:value. Leave out to list every log.',
    ),
  service: repeatable.optional().describe('Only these services (repeat the parameter for several).'),
  severity: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).optional().describe('Minimum severity.'),
  trace_id: z.string().optional().describe('Only the logs of this trace: decimal, 16 hex digits or a 32-hex-digit W3C trace id.'),
  ...timeRangeShape,
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('Logs per page (1-1000, default 100).'),
  cursor: z.string().max(1024).optional().describe('next_cursor of the previous page, to read the next one.'),
  order: z.enum(['desc', 'asc']).default('desc').describe('desc: newest first (default); asc: oldest first.'),
});

/** How many searches' densities are kept (search-logs.ts `LogDensities`), for `query.logDensityTtlMs`. */
const DENSITY_ENTRIES = 10_000;

/** GET /v1/logs: full-text search of log records with highlights and cursor pagination. */
export function registerLogRoutes(app: FastifyInstance, ctx: QueryContext): void {
  const densities: LogDensities = {
    kept: new TtlMap(ctx.config.query.logDensityTtlMs, DENSITY_ENTRIES),
    counted: (hit) => ctx.metrics.logDensity(hit),
  };
  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/logs',
      tag: 'logs',
      summary: 'Search log records',
      description:
        'Case-insensitive full-text search over log bodies (the full-text index on the case-folded logs.body), with field filters, highlights (UTF-16 offsets into each body) and keyset cursor pagination. A malformed search is a QUERY_ERR_BAD_REQUEST naming the position.',
      query: LogsQuery,
      responses: { 200: { description: '{ logs: [...], next_cursor, query: { terms, phrases } }' } },
    },
    async ({ query, tenant }) => {
      checkRange(query.from, query.to);
      const services = query.service === undefined ? [] : [query.service].flat();
      return searchLogs(
        ctx.runner,
        tenant,
        {
          q: query.q,
          services,
          minSeverity: query.severity,
          traceId: query.trace_id === undefined ? undefined : parseId(query.trace_id, 'trace_id'),
          traceIdHigh: query.trace_id === undefined ? undefined : traceIdHighOf(query.trace_id),
          fromMs: query.from,
          toMs: query.to,
          limit: query.limit,
          cursor: query.cursor,
          order: query.order,
        },
        densities,
      );
    },
  );
}
