import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { idReadings, traceIdHighOf } from '../ids.js';
import type { QueryContext } from '../query-context.js';
import { queryError, QueryErrors } from '../query-errors.js';
import { checkRange, durationParam, optionalTimeParam, timeRangeShape } from '../time-range.js';
import { typedRoute } from '../typed-route.js';
import { TtlMap } from '../ttl-map.js';
import { fetchTrace, tracedSamplesSql } from './fetch-trace.js';
import { searchTraces } from './search-traces.js';
import { traceTimeline } from './trace-timeline.js';

const TraceQuery = z.strictObject({
  format: z.enum(['json', 'text']).default('json').describe('json: the assembled trace. text: a plain-text timeline for a terminal.'),
  from: optionalTimeParam('Optional hint: the trace overlaps [from, to]. Narrows the search; a trace outside it is not found.'),
  to: optionalTimeParam('Optional hint, with from.'),
});

const TraceParams = z.strictObject({
  traceId: z.string().describe('The trace id: decimal (may be negative), 16 hex digits, or a 32-hex-digit W3C trace id.'),
});

const SearchQuery = z.strictObject({
  service: z.string().min(1).optional().describe('A span of this service.'),
  name: z.string().min(1).optional().describe('A span with this name (operation).'),
  min_duration: durationParam('A span at least this long: 250ms, 1.5s, 2m (a bare number is ms).').optional(),
  max_duration: durationParam('A span at most this long.').optional(),
  error: z.enum(['true', 'false']).optional().describe('A failed span (true) or a successful one (false).'),
  tag: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe('key:value, repeatable: a span with all these tags.'),
  limit: z.coerce.number().int().min(1).max(1000).default(20).describe('Most traces answered (default 20, at most 1000).'),
  ...timeRangeShape,
});

/** `key:value` pairs of the repeatable `tag` parameter. */
function parseTags(tag: string | string[] | undefined): Array<[string, string]> {
  const list = tag === undefined ? [] : Array.isArray(tag) ? tag : [tag];
  return list.map((t) => {
    const colon = t.indexOf(':');
    if (colon <= 0) throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter tag: "${t.slice(0, 200)}" is not key:value`);
    return [t.slice(0, colon), t.slice(colon + 1)];
  });
}

/** How many tenants' answers of `readsSamples` are kept. */
const TRACED_ENTRIES = 10_000;
/**
 * Most rows the check may read: none with migration 0019's index built; until
 * its mutation is done, a tenant's samples without it. A limit stricter than
 * the runner's, passed where a statement's own settings go: it can only make
 * the check fail, and a failed check answers yes.
 */
const TRACED_CHECK_LIMITS = { max_rows_to_read: '10000000', read_overflow_mode: 'throw' } as const;

/**
 * GET /v1/traces/:traceId (one assembled trace, JSON or a text timeline) and
 * GET /v1/traces (search). docs/query/traces.md documents both.
 */
export function registerTraceRoutes(app: FastifyInstance, ctx: QueryContext): void {
  // Per tenant: whether it has samples with a trace id (query.traceSamplesTtlMs).
  const traced = new TtlMap<boolean>(ctx.config.query.traceSamplesTtlMs, TRACED_ENTRIES);
  /**
   * Whether the trace statement must read the samples. The check only saves
   * time, so it never fails a request: on any error (a ClickHouse hiccup, or
   * past TRACED_CHECK_LIMITS before migration 0019's index is built)
   * the answer is yes, kept as a no would be. An answer is kept from the
   * moment its query started (what it saw is at least that old).
   */
  const readsSamples = async (tenant: string): Promise<boolean> => {
    if (ctx.config.query.traceSamplesTtlMs === 0) return true;
    const kept = traced.get(tenant);
    if (kept !== undefined) {
      ctx.metrics.traceSamplesCheck('hit');
      return kept;
    }
    const asked = Date.now();
    let yes = true;
    try {
      const rows = await ctx.runner.rows<{ traced: number }>(tracedSamplesSql(ctx.runner.database), tenant, { tenant }, TRACED_CHECK_LIMITS);
      yes = rows.length > 0;
      ctx.metrics.traceSamplesCheck('miss');
    } catch {
      ctx.metrics.traceSamplesCheck('error');
    }
    traced.set(tenant, yes, asked);
    return yes;
  };
  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/traces/:traceId',
      tag: 'traces',
      summary: 'One trace: its span tree, critical path, logs and samples',
      description:
        'Spans as a tree (children by start; orphans as extra roots flagged orphan), with self time, offset from the trace start and the critical path; the logs and metric samples sent with the trace. format=text gives a plain-text timeline.',
      params: TraceParams,
      query: TraceQuery,
      responses: {
        200: { description: 'The trace', contentTypes: ['application/json', 'text/plain'] },
        404: { description: 'QUERY_ERR_NOT_FOUND: the tenant has no trace with this id (overlapping from/to when given)' },
      },
    },
    async ({ params, query, tenant, reply }) => {
      const readings = idReadings(params.traceId, 'trace id');
      if (query.from !== undefined && query.to !== undefined) checkRange(query.from, query.to);
      const samples = await readsSamples(tenant);
      const trace = await fetchFirst(readings, (traceId) =>
        fetchTrace(ctx.runner, tenant, traceId, { from: query.from, to: query.to, high: traceIdHighOf(params.traceId) }, { samples }),
      );
      if (query.format === 'text') return reply.type('text/plain; charset=utf-8').send(traceTimeline(trace));
      return trace;
    },
  );

  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/traces',
      tag: 'traces',
      summary: "Search traces by a span's service, name, duration, error and tags",
      description:
        'A trace matches when one of its spans, starting in [from, to], matches every given filter. Answers the `limit` traces with the most recent matching spans, newest trace first, each with its summary from trace_index and its root span.',
      query: SearchQuery,
      responses: {
        200: { description: '{ traces: [...], from, to }' },
      },
    },
    async ({ query, tenant }) => {
      checkRange(query.from, query.to);
      if (query.min_duration !== undefined && query.max_duration !== undefined && query.min_duration > query.max_duration) {
        throw queryError('QUERY_ERR_BAD_REQUEST', 'query parameter min_duration: longer than max_duration');
      }
      const traces = await searchTraces(ctx.runner, tenant, {
        from: query.from,
        to: query.to,
        service: query.service,
        name: query.name,
        minDurationMs: query.min_duration,
        maxDurationMs: query.max_duration,
        error: query.error === undefined ? undefined : query.error === 'true',
        tags: parseTags(query.tag),
        limit: query.limit,
      });
      return { traces, from: new Date(query.from).toISOString(), to: new Date(query.to).toISOString() };
    },
  );
}

/** The trace of the first reading of an ambiguous id that exists (idReadings), or the first reading's 404. */
async function fetchFirst<T>(readings: bigint[], fetch: (id: bigint) => Promise<T>): Promise<T> {
  let notFound: unknown;
  for (const id of readings) {
    try {
      return await fetch(id);
    } catch (err) {
      if (!QueryErrors.has(err) || err.code !== 'QUERY_ERR_NOT_FOUND') throw err;
      notFound ??= err;
    }
  }
  throw notFound;
}
