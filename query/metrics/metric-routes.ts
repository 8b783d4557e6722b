import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { MetricType } from '../../src/codec/index.js';
import type { QueryContext } from '../query-context.js';
import { checkRange, durationParam, timeRangeShape } from '../time-range.js';
import { typedRoute } from '../typed-route.js';
import { catalogSource, metricListSql, metricTagsSql, similarNames } from './metric-catalog.js';
import type { MetricListRow, MetricTagRow } from './metric-catalog.js';
import {
  chooseAgg,
  coarserSeries,
  firstBucketsAndTypesSql,
  firstBucketsSql,
  METRIC_AGGS,
  SECOND,
  metricQuerySql,
  metricTypesSql,
  parseTagFilter,
  planMetricQuery,
  rowsToSeries,
} from './metric-query.js';
import type { MetricAgg, MetricPointRow } from './metric-query.js';
import { MetadataCache } from './metadata-cache.js';

/** A query-string parameter that may be repeated (`tag=a:1&tag=b:2`): always a list. */
const repeated = (what: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
    .describe(what);

const MetricQueryParams = z.strictObject({
  name: z.string().min(1).describe('Metric name (exact).'),
  tag: repeated('Tag filter, repeatable (all must hold): `key:value` (equals) or `key!=value` (differs; a series without the key counts as value "").'),
  group_by: repeated('Tag key to split series by, repeatable. Without it, all matching series are aggregated into one.'),
  agg: z
    .enum(METRIC_AGGS)
    .optional()
    .describe(
      "sum, count, rate (sum per second of step), avg (sum / count), min, max, p50, p90, p99 (histograms, ±1 %), uniq (sets), last. Default by the metric's type: counter sum, gauge last, histogram p50, set uniq, status last.",
    ),
  step: durationParam(
    'Bucket width, whole seconds (10s, 1m, 5m, 1h, 1d). Whole hours read metrics_1h, whole minutes metrics_1m, anything finer the raw samples. Default: a round step giving about 300 points.',
  ).optional(),
  ...timeRangeShape,
});

const MetricListParams = z.strictObject({
  prefix: z.string().default('').describe('Only names starting with this.'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1_000).describe('Most names listed (default 1000).'),
  ...timeRangeShape,
});

const MetricTagsParams = z.strictObject({
  name: z.string().min(1).describe('Metric name (exact).'),
  limit: z.coerce.number().int().min(1).max(1_000).default(10).describe('Most values listed per key, most common first (default 10).'),
  ...timeRangeShape,
});

/** How many metadata answers of the metric query are kept (metadata-cache.ts), for `query.metricMetadataTtlMs`. */
const METADATA_ENTRIES = 10_000;
/** Metric names read to suggest one for a name with no data (a 404 only); past it, the first in name order. */
const SIMILAR_NAMES_READ = 10_000;

/** GET /v1/metrics/query (a metric as time series), GET /v1/metrics (names) and GET /v1/metrics/tags (tag keys and values). */
export function registerMetricRoutes(app: FastifyInstance, ctx: QueryContext): void {
  const metadata = new MetadataCache(ctx.config.query.metricMetadataTtlMs, METADATA_ENTRIES);
  const metadataRows = <T>(sql: string, tenant: string, params: Record<string, unknown>, complete: (rows: T[]) => boolean): Promise<T[]> =>
    metadata.rows(
      tenant,
      sql,
      params,
      () => ctx.runner.rows<T>(sql, tenant, params),
      complete,
      (hit) => ctx.metrics.metadata(hit),
    );
  /** For a 404 only: the metric names of the range (as GET /v1/metrics lists them) that a typo of `name` could have meant. */
  const similarMetricNames = async (name: string, tenant: string, fromMs: number, toMs: number): Promise<string[]> => {
    const { source, bucketMs } = catalogSource(fromMs, toMs);
    const { sql, params } = metricListSql(tenant, fromMs, toMs, '', SIMILAR_NAMES_READ, ctx.runner.table(source), bucketMs);
    const rows = await ctx.runner.rows<MetricListRow>(sql, tenant, params);
    return similarNames(
      name,
      rows.map((r) => r.name),
    );
  };
  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/metrics/query',
      tag: 'metrics',
      summary: 'A metric as time series: aggregated per step, filtered by tags, split by tag keys',
      description:
        'Reads metrics_1h for steps of whole hours, metrics_1m for whole minutes, raw samples for finer steps (answered as `source`). Buckets are multiples of the step since the epoch; the range is widened to whole buckets. At most 11000 points.',
      query: MetricQueryParams,
      responses: { 200: { description: '{ name, agg, step_ms, from, to, source, series: [{ tags, points: [[bucket_start_ms, value]] }] }' } },
    },
    async ({ query, tenant }) => {
      const tags = query.tag.map(parseTagFilter);
      const groupBy = [...new Set(query.group_by)];
      const plan = planMetricQuery(query.name, query.from, query.to, query.step);
      const typesSql = metricTypesSql(query.name, tenant, plan, ctx.runner.table('metrics_1h'));
      const readTypes = async (): Promise<MetricType[]> =>
        (await metadataRows<{ type: MetricType }>(typesSql.sql, tenant, typesSql.params, (rows) => rows.length > 0)).map((r) => r.type);
      const coarse = coarserSeries(query.name, tags, groupBy, plan.source);
      // The coarser series answers when it covers the range: it started no later
      // than the metric itself, or before the range (data written before its
      // view existed is only in the finer series).
      const covers = (first: Map<string, number>, fine: string, coarser: string): boolean => {
        const coarseFirst = first.get(coarser);
        const fineFirst = first.get(fine);
        return coarseFirst !== undefined && (fineFirst === undefined || coarseFirst <= fineFirst || coarseFirst * SECOND < plan.startMs);
      };
      const readName = async (): Promise<string> => {
        if (coarse === undefined) return query.name;
        const { sql, params } = firstBucketsSql([query.name, coarse], tenant, ctx.runner.table(plan.source));
        const found = await metadataRows<{ name: string; first_s: number }>(sql, tenant, params, (rows) => rows.length === 2);
        const first = new Map(found.map((r) => [r.name, Number(r.first_s)]));
        return covers(first, query.name, coarse) ? coarse : query.name;
      };
      // Both from metrics_1h (whole-hour steps): one query instead of two.
      const readTypesAndName = async (coarser: string): Promise<[MetricType[], string]> => {
        const { sql, params } = firstBucketsAndTypesSql([query.name, coarser], tenant, plan, ctx.runner.table('metrics_1h'));
        const found = await metadataRows<{ name: string; first_s: number; types: MetricType[] }>(
          sql,
          tenant,
          params,
          (rows) => rows.length === 2 && rows.every((r) => r.types.length > 0),
        );
        const first = new Map(found.map((r) => [r.name, Number(r.first_s)]));
        return [found.find((r) => r.name === query.name)?.types ?? [], covers(first, query.name, coarser) ? coarser : query.name];
      };
      const pointsOf = (name: string, agg: MetricAgg, lastIsStatus: boolean, cumulative = false): Promise<MetricPointRow[]> => {
        const { sql, params } = metricQuerySql({ name, agg, tags, groupBy, lastIsStatus, plan, cumulative }, tenant, (t) => ctx.runner.table(t));
        return ctx.runner.rows<MetricPointRow>(sql, tenant, params);
      };
      const readTypesAndSeries = (): Promise<[MetricType[], string]> =>
        coarse !== undefined && plan.source === 'metrics_1h' ? readTypesAndName(coarse) : Promise.all([readTypes(), readName()]);
      // The metric's types choose the default agg and what `rate`, `increase`
      // and `last` read. Any other agg asked for only needs them checked: its
      // points are read at the same time, from the series that usually answers
      // (one round trip instead of two: 35 -> 22 ms on the 10M bench), and
      // read again in the rare case the other one must (read_as).
      const asked = query.agg;
      let rows: MetricPointRow[];
      let name: string;
      let agg: MetricAgg;
      if (asked !== undefined && asked !== 'rate' && asked !== 'increase' && asked !== 'last') {
        const guess = coarse ?? query.name;
        const [meta, points] = await Promise.allSettled([readTypesAndSeries(), pointsOf(guess, asked, false)]);
        if (meta.status === 'rejected') throw meta.reason;
        const [types, series] = meta.value;
        agg = chooseAgg(query.name, asked, types);
        if (points.status === 'rejected') throw points.reason;
        name = series;
        rows = series === guess ? points.value : await pointsOf(series, agg, false);
      } else {
        const [types, series] = await readTypesAndSeries();
        name = series;
        agg = chooseAgg(
          query.name,
          asked,
          types,
          asked === undefined && types.length === 0 ? await similarMetricNames(query.name, tenant, query.from, query.to) : [],
        );
        // A gauge-typed series asked for its rate or increase is a cumulative counter (OTLP, docs/otlp.md).
        const cumulative = (agg === 'rate' || agg === 'increase') && types.length > 0 && types.every((t) => t === 'gauge');
        rows = await pointsOf(name, agg, agg === 'last' && types.length > 0 && types.every((t) => t === 'status'), cumulative);
      }
      return {
        name: query.name,
        read_as: name,
        agg,
        step_ms: plan.stepMs,
        from: plan.startMs,
        to: plan.endMs,
        source: plan.source,
        series: rowsToSeries(rows, groupBy),
      };
    },
  );

  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/metrics',
      tag: 'metrics',
      summary: 'Metric names seen in a time range, with their types, series count and last bucket seen',
      query: MetricListParams,
      responses: { 200: { description: '{ from, to, source, truncated, metrics: [{ name, types, series, last_seen }] }' } },
    },
    async ({ query, tenant }) => {
      checkRange(query.from, query.to);
      const { source, bucketMs } = catalogSource(query.from, query.to);
      const { sql, params } = metricListSql(tenant, query.from, query.to, query.prefix, query.limit, ctx.runner.table(source), bucketMs);
      const rows = await ctx.runner.rows<MetricListRow>(sql, tenant, params);
      return {
        from: query.from,
        to: query.to,
        source,
        truncated: rows.length > query.limit,
        metrics: rows.slice(0, query.limit).map((r) => ({ name: r.name, types: r.types, series: Number(r.series), last_seen: Number(r.last_seen_ms) })),
      };
    },
  );

  typedRoute(
    app,
    ctx,
    {
      method: 'GET',
      url: '/v1/metrics/tags',
      tag: 'metrics',
      summary: 'The tag keys of a metric and their most common values',
      query: MetricTagsParams,
      responses: { 200: { description: '{ name, from, to, source, series, keys: [{ key, series, values_count, values: [{ value, series }] }] }' } },
    },
    async ({ query, tenant }) => {
      checkRange(query.from, query.to);
      const { source, bucketMs } = catalogSource(query.from, query.to);
      const { sql, params } = metricTagsSql(tenant, query.name, query.from, query.to, query.limit, ctx.runner.table(source), bucketMs);
      const rows = await ctx.runner.rows<MetricTagRow>(sql, tenant, params);
      const keys: Array<{ key: string; series: number; values_count: number; values: Array<{ value: string; series: number }> }> = [];
      for (const r of rows) {
        if (r.key === '') continue; // a series without tags (LEFT ARRAY JOIN keeps it for the total)
        let last = keys[keys.length - 1];
        if (last?.key !== r.key) {
          last = { key: r.key, series: Number(r.key_series), values_count: Number(r.key_values), values: [] };
          keys.push(last);
        }
        last.values.push({ value: r.value, series: Number(r.series) });
      }
      return { name: query.name, from: query.from, to: query.to, source, series: Number(rows[0]?.total_series ?? 0), keys };
    },
  );
}
