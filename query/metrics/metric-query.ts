import type { MetricType } from '../../src/codec/index.js';
import { queryError } from '../query-errors.js';
import type { QueryParams } from '../query-runner.js';
import { bucketSeconds } from './metric-catalog.js';

/** The aggregations of `GET /v1/metrics/query` (docs/query/metrics.md says what each one reads). */
export const METRIC_AGGS = ['sum', 'count', 'rate', 'increase', 'avg', 'min', 'max', 'p50', 'p90', 'p99', 'uniq', 'last'] as const;
export type MetricAgg = (typeof METRIC_AGGS)[number];

/** Where the points are read from: the hourly or minutely rollup, or every raw sample. */
export type MetricSource = 'metrics_1h' | 'metrics_1m' | 'samples';

/** The aggregation used when none is given, by the metric's type. */
export const DEFAULT_AGG: Record<MetricType, MetricAgg> = {
  counter: 'sum',
  gauge: 'last',
  histogram: 'p50',
  set: 'uniq',
  status: 'last',
};

/**
 * Metrics the rollups derive from trace spans (`span_metrics_1m_mv`, migrations
 * 0004 and 0015): they have no raw samples. A test checks this list against
 * the names the migrations write.
 */
export const SPAN_METRICS: readonly string[] = ['ssf.span.duration', 'ssf.service.duration', 'ssf.indicator.duration', 'ssf.objective.duration'];

/** More points than this in one answer is refused: a bigger step is needed. */
export const MAX_POINTS = 11_000;
/** The default step gives about this many points over the range. */
export const TARGET_POINTS = 300;

export const SECOND = 1_000;
/** The longest step: its seconds are a UInt32 parameter of the statements. */
const MAX_STEP_MS = 4_294_967_295 * SECOND;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Round steps the default is picked from (the smallest that gives at most TARGET_POINTS). */
const NICE_STEPS = [1, 2, 5, 10, 15, 30]
  .map((s) => s * SECOND)
  .concat([1, 2, 5, 10, 15, 30].map((m) => m * MINUTE))
  .concat([1, 2, 3, 6, 12].map((h) => h * HOUR))
  .concat([1, 2, 7].map((d) => d * DAY));

/** One `tag` parameter: `key:value` (equals) or `key!=value` (differs; a series without the key has value ''). */
export interface TagFilter {
  key: string;
  op: '=' | '!=';
  value: string;
}

/** Reads a `tag` parameter; the first `:` or `!=` separates the key from the value. */
export function parseTagFilter(text: string): TagFilter {
  const colon = text.indexOf(':');
  const differs = text.indexOf('!=');
  const isDiffers = differs !== -1 && (colon === -1 || differs < colon);
  const at = isDiffers ? differs : colon;
  const key = at === -1 ? '' : text.slice(0, at);
  if (at === -1 || key === '') throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter tag: "${text}" is not key:value or key!=value`);
  return { key, op: isDiffers ? '!=' : '=', value: text.slice(at + (isDiffers ? 2 : 1)) };
}

/** The step when none is given: the smallest round step that gives at most ~300 points over the range. */
export function defaultStepMs(rangeMs: number, minimumMs = SECOND): number {
  const wanted = Math.max(rangeMs / TARGET_POINTS, minimumMs);
  return NICE_STEPS.find((s) => s >= wanted) ?? Math.ceil(wanted / DAY) * DAY;
}

/** The table a step reads: whole hours from metrics_1h, whole minutes from metrics_1m, anything finer from samples. */
export function sourceForStep(stepMs: number): MetricSource {
  if (stepMs % HOUR === 0) return 'metrics_1h';
  if (stepMs % MINUTE === 0) return 'metrics_1m';
  return 'samples';
}

/** The time grid of an answer: which table, the step, and the range widened to whole steps. */
export interface MetricPlan {
  source: MetricSource;
  stepMs: number;
  /** `from` rounded down to a multiple of the step (epoch ms): the first bucket's start. */
  startMs: number;
  /** `to` rounded up to a multiple of the step: the end of the last bucket (exclusive). */
  endMs: number;
  /** Buckets in [startMs, endMs). */
  buckets: number;
}

/**
 * The time grid of a query. Buckets are multiples of the step since the
 * epoch (so every hour-multiple step starts on whole hours in UTC), and the
 * range is widened to whole buckets: each point covers its whole step, and a
 * rollup holds exactly the samples of the buckets it is asked for. Refuses a
 * step that is not whole seconds and a grid of more than MAX_POINTS buckets.
 * `stepMs` undefined picks the default; span-derived metrics exist only in
 * the rollups, so their step is at least a minute.
 */
export function planMetricQuery(name: string, fromMs: number, toMs: number, stepMs: number | undefined): MetricPlan {
  if (!(toMs > fromMs)) throw queryError('QUERY_ERR_BAD_REQUEST', 'query parameter to: must be after from');
  const rollupOnly = SPAN_METRICS.includes(name);
  const step = stepMs ?? defaultStepMs(toMs - fromMs, rollupOnly ? MINUTE : SECOND);
  if (!Number.isInteger(step / SECOND) || step < SECOND) {
    throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter step: must be a whole number of seconds, at least 1s (got ${step} ms)`);
  }
  if (step > MAX_STEP_MS) {
    throw queryError(
      'QUERY_ERR_BAD_REQUEST',
      `query parameter step: at most ${MAX_STEP_MS / SECOND}s (about 136 years; the step is counted in UInt32 seconds)`,
    );
  }
  const source = sourceForStep(step);
  if (rollupOnly && source === 'samples') {
    throw queryError(
      'QUERY_ERR_BAD_REQUEST',
      `query parameter step: ${name} is derived from spans into the minute and hour rollups only; give a step of whole minutes`,
    );
  }
  const startMs = Math.floor(fromMs / step) * step;
  const endMs = Math.ceil(toMs / step) * step;
  const buckets = (endMs - startMs) / step;
  if (buckets > MAX_POINTS) {
    throw queryError(
      'QUERY_ERR_BAD_REQUEST',
      `query parameter step: ${buckets} points over the range, more than ${MAX_POINTS}; give a step of at least ${Math.ceil((toMs - fromMs) / MAX_POINTS / SECOND)}s`,
    );
  }
  return { source, stepMs: step, startMs, endMs, buckets };
}

/**
 * The aggregation to run: the one asked, checked against the metric's types
 * seen in the range (quantiles need a histogram, uniq a set), or the
 * default of its one type. `types` empty: nothing in the range, so only an
 * explicit agg can be answered (with no series); the 404 names `similar`.
 */
export function chooseAgg(name: string, asked: MetricAgg | undefined, types: readonly MetricType[], similar: readonly string[] = []): MetricAgg {
  if (asked === undefined) {
    const [only] = types;
    if (only === undefined) {
      // `similar`: names in the range close to this one, for a typo (similarMetricNames).
      const hint = similar.length > 0 ? ` (did you mean ${similar.map((s) => `"${s}"`).join(', ')}?)` : '';
      throw queryError('QUERY_ERR_NOT_FOUND', `no samples of metric "${name}" in the time range${hint}, so no default agg; give agg to query it anyway`);
    }
    if (types.length > 1) throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter agg: metric "${name}" has several types (${types.join(', ')}); give agg`);
    return DEFAULT_AGG[only];
  }
  if (types.length === 0) return asked;
  if ((asked === 'p50' || asked === 'p90' || asked === 'p99') && !types.includes('histogram')) {
    throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter agg: ${asked} needs a histogram; metric "${name}" is ${types.join(', ')}`);
  }
  if (asked === 'uniq' && !types.includes('set')) {
    throw queryError('QUERY_ERR_BAD_REQUEST', `query parameter agg: uniq needs a set; metric "${name}" is ${types.join(', ')}`);
  }
  return asked;
}

/** Everything the SQL of one metric query depends on. */
export interface MetricQuery {
  name: string;
  agg: MetricAgg;
  tags: readonly TagFilter[];
  groupBy: readonly string[];
  /** A status check's `last` is its last status (0 ok, 1 warning, 2 critical, 3 unknown), not its value. */
  lastIsStatus: boolean;
  plan: MetricPlan;
  /**
   * The metric is a cumulative series (OTLP cumulative Sum, docs/otlp.md):
   * `increase` and `rate` are taken sample to sample, resets included.
   */
  cumulative?: boolean;
}

// 1 / sample_rate with the rate read back as the decimal sent, as metrics_1m_mv computes it.
const WEIGHT = '(1 / toFloat64(toString(sample_rate)))';
const QUANTILE: Partial<Record<MetricAgg, string>> = { p50: '0.5', p90: '0.9', p99: '0.99' };

/** The value of one bucket: rollup states merged with their combinators, or raw samples aggregated as the rollup views do. */
function valueExpression(agg: MetricAgg, source: MetricSource, lastIsStatus: boolean): string {
  const rollup = source !== 'samples';
  const sum = rollup ? 'sum(sum)' : `sum(value * ${WEIGHT})`;
  const count = rollup ? 'sum(count)' : `sum(${WEIGHT})`;
  switch (agg) {
    case 'sum':
      return sum;
    case 'count':
      return count;
    case 'rate':
      return `${sum} / {step_s:UInt32}`;
    case 'increase':
      return sum;
    case 'avg':
      return `${sum} / ${count}`;
    case 'min':
      return rollup ? 'min(min)' : 'min(value)';
    case 'max':
      return rollup ? 'max(max)' : 'max(value)';
    case 'p50':
    case 'p90':
    case 'p99': {
      const q = QUANTILE[agg] as string;
      return rollup ? `quantileDDMerge(0.01, ${q})(quantiles)` : `quantileDDIf(0.01, ${q})(value, type = 'histogram')`;
    }
    case 'uniq':
      return rollup ? 'uniqHLL12Merge(uniq)' : `uniqHLL12If(message, type = 'set')`;
    case 'last':
      if (lastIsStatus) return rollup ? 'argMaxMerge(last_status)' : 'argMax(toUInt8(status), timestamp)';
      return rollup ? 'argMaxMerge(last)' : 'argMax(value, timestamp)';
  }
}

/** One row of the generated SQL: a bucket of a group. */
export interface MetricPointRow {
  point_ms: number | string;
  point_value: number | null;
  [group: `group_${number}`]: string;
}

/**
 * The SELECT of a metric query and its parameters (values are always bound,
 * never spliced). `table` qualifies a table name (QueryRunner.table).
 * Rows: one per (group, bucket) that has samples, ordered by group then time.
 */
/**
 * A coarser series that answers the same question exactly (same values,
 * fewer series): ssf.service.duration is ssf.span.duration summarized by
 * service and error (migration 0005), so a question that neither filters nor
 * groups by the name tag can read it. Rollups only (span metrics have no raw
 * samples).
 */
export function coarserSeries(name: string, tags: readonly TagFilter[], groupBy: readonly string[], source: MetricSource): string | undefined {
  if (name !== 'ssf.span.duration' || source === 'samples') return undefined;
  const coarse = (key: string): boolean => key === 'service' || key === 'error';
  return tags.every((t) => coarse(t.key)) && groupBy.every(coarse) ? 'ssf.service.duration' : undefined;
}

/**
 * The first bucket of each of two series of the tenant in `table` (a
 * rollup): the coarser series only answers for ranges it covers, which
 * excludes data written before its view existed.
 */
export function firstBucketsSql(names: readonly [string, string], tenant: string, table: string): { sql: string; params: QueryParams } {
  return {
    sql: `SELECT name, toUInt32(min(bucket)) AS first_s FROM ${table} WHERE tenant = {tenant:String} AND name IN {names:Array(String)} GROUP BY name`,
    params: { tenant, names: [...names] },
  };
}

/**
 * firstBucketsSql and metricTypesSql in one query, for when both read
 * metrics_1h (a step of whole hours): per name, its first bucket and, in the
 * range, its types (sorted, as metricTypesSql gives them). One query of the
 * same rows instead of two.
 */
export function firstBucketsAndTypesSql(
  names: readonly [string, string],
  tenant: string,
  plan: MetricPlan,
  table: string,
): { sql: string; params: QueryParams } {
  const types = metricTypesSql(names[0], tenant, plan, table).params;
  return {
    sql: `SELECT name, toUInt32(min(bucket)) AS first_s,
  arraySort(groupUniqArrayIf(toString(type), bucket >= toDateTime({start_s:UInt32}, 'UTC') AND bucket < toDateTime({end_s:UInt32}, 'UTC'))) AS types
FROM ${table}
WHERE tenant = {tenant:String} AND name IN {names:Array(String)}
GROUP BY name`,
    params: { tenant, names: [...names], start_s: types['start_s'], end_s: types['end_s'] },
  };
}

/** How far before the range a cumulative series' previous sample is looked for (its first increase in the range needs it). */
export const CUMULATIVE_LOOKBACK_MS = 60 * MINUTE;

/**
 * `increase` and `rate` of a cumulative series, at query time from the raw
 * samples (no state in any gateway, so a series may move between them):
 * per series in time order, each sample adds `value - previous` when the
 * value did not go down and its start time (in `message`) did not change,
 * else (a reset: the process restarted) its whole value; the first sample
 * of a series adds its value only when the series started inside the range.
 */
function cumulativeSql(q: MetricQuery, tenant: string, table: (name: MetricSource) => string): { sql: string; params: QueryParams } {
  const { plan } = q;
  const params: QueryParams = {
    tenant,
    name: q.name,
    step_ms: plan.stepMs,
    step_s: plan.stepMs / SECOND,
    start_ms: plan.startMs,
    end_ms: plan.endMs,
    lookback_ms: plan.startMs - CUMULATIVE_LOOKBACK_MS,
  };
  const where = [
    'tenant = {tenant:String}',
    'name = {name:String}',
    "timestamp >= fromUnixTimestamp64Milli({lookback_ms:Int64}, 'UTC')",
    "timestamp < fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')",
  ];
  for (const [i, f] of q.tags.entries()) {
    where.push(`tags[{tag_key_${i}:String}] ${f.op} {tag_value_${i}:String}`);
    params[`tag_key_${i}`] = f.key;
    params[`tag_value_${i}`] = f.value;
  }
  const groups = q.groupBy.map((key, i) => {
    params[`group_key_${i}`] = key;
    return `group_${i}`;
  });
  const value = q.agg === 'rate' ? 'sum(delta) / {step_s:UInt32}' : 'sum(delta)';
  const sql = [
    `SELECT toInt64(intDiv(toUnixTimestamp64Milli(timestamp), {step_ms:Int64}) * {step_ms:Int64}) AS point_ms,`,
    ...groups.map((g, i) => `       tags[{group_key_${i}:String}] AS ${g},`),
    `       toFloat64(${value}) AS point_value`,
    'FROM (',
    '  SELECT timestamp, tags,',
    '         if(nth = 1, if(toUInt64OrZero(message) >= {start_ms:Int64} * 1000000, value, 0),',
    '            if(value >= previous AND message = previous_start, value - previous, value)) AS delta',
    '  FROM (',
    '    SELECT timestamp, tags, value, message,',
    '           lagInFrame(value) OVER series AS previous, lagInFrame(message) OVER series AS previous_start, row_number() OVER series AS nth',
    `    FROM ${table('samples')}`,
    `    WHERE ${where.join('\n      AND ')}`,
    '    WINDOW series AS (PARTITION BY cityHash64(mapSort(tags)) ORDER BY timestamp ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)',
    '  )',
    ')',
    "WHERE timestamp >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')",
    `GROUP BY ${[...groups, 'point_ms'].join(', ')}`,
    `ORDER BY ${[...groups, 'point_ms'].join(', ')}`,
  ].join('\n');
  return { sql, params };
}

export function metricQuerySql(q: MetricQuery, tenant: string, table: (name: MetricSource) => string): { sql: string; params: QueryParams } {
  if (q.cumulative && (q.agg === 'increase' || q.agg === 'rate')) return cumulativeSql(q, tenant, table);
  const { plan } = q;
  const params: QueryParams = { tenant, name: q.name };
  const where = ['tenant = {tenant:String}', 'name = {name:String}'];
  let pointMs: string;
  if (plan.source === 'samples') {
    pointMs = 'intDiv(toUnixTimestamp64Milli(timestamp), {step_ms:Int64}) * {step_ms:Int64}';
    where.push("timestamp >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')", "timestamp < fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')");
    Object.assign(params, { step_ms: plan.stepMs, start_ms: plan.startMs, end_ms: plan.endMs });
  } else {
    pointMs = 'intDiv(toUnixTimestamp(bucket), {step_s:UInt32}) * {step_s:UInt32} * 1000';
    where.push("bucket >= toDateTime({start_s:UInt32}, 'UTC')", "bucket < toDateTime({end_s:UInt32}, 'UTC')");
    Object.assign(params, { start_s: bucketSeconds(plan.startMs), end_s: bucketSeconds(plan.endMs) });
  }
  if (plan.source !== 'samples' || q.agg === 'rate') params['step_s'] = plan.stepMs / SECOND;
  for (const [i, f] of q.tags.entries()) {
    where.push(`tags[{tag_key_${i}:String}] ${f.op} {tag_value_${i}:String}`);
    params[`tag_key_${i}`] = f.key;
    params[`tag_value_${i}`] = f.value;
  }
  const groups = q.groupBy.map((key, i) => {
    params[`group_key_${i}`] = key;
    return `group_${i}`;
  });
  const select = [
    `toInt64(${pointMs}) AS point_ms`,
    ...groups.map((g, i) => `tags[{group_key_${i}:String}] AS ${g}`),
    `toFloat64(${valueExpression(q.agg, plan.source, q.lastIsStatus)}) AS point_value`,
  ];
  const sql = [
    `SELECT ${select.join(',\n       ')}`,
    `FROM ${table(plan.source)}`,
    `WHERE ${where.join('\n  AND ')}`,
    `GROUP BY ${[...groups, 'point_ms'].join(', ')}`,
    `ORDER BY ${[...groups, 'point_ms'].join(', ')}`,
  ].join('\n');
  return { sql, params };
}

/**
 * The types a metric has in the range (usually one), from metrics_1h: every
 * sample and span-derived value reaches it, and its key starts with
 * (tenant, name, type), so this reads a few granules.
 */
export function metricTypesSql(name: string, tenant: string, plan: MetricPlan, table: string): { sql: string; params: QueryParams } {
  return {
    sql: `SELECT DISTINCT toString(type) AS type
FROM ${table}
WHERE tenant = {tenant:String} AND name = {name:String}
  AND bucket >= toDateTime({start_s:UInt32}, 'UTC') AND bucket < toDateTime({end_s:UInt32}, 'UTC')
ORDER BY type`,
    params: { tenant, name, start_s: bucketSeconds(Math.floor(plan.startMs / HOUR) * HOUR), end_s: bucketSeconds(Math.ceil(plan.endMs / SECOND) * SECOND) },
  };
}

/** One line of the answer: the group's tag values and its points. */
export interface MetricSeries {
  tags: Record<string, string>;
  points: Array<[number, number]>;
}

/** Rows (ordered by group, then time) as series; buckets whose value is not a number (a quantile of no histogram value) are left out. */
export function rowsToSeries(rows: readonly MetricPointRow[], groupBy: readonly string[]): MetricSeries[] {
  const series: MetricSeries[] = [];
  let current: MetricSeries | undefined;
  let currentKey: string | undefined;
  for (const row of rows) {
    const values = groupBy.map((_, i) => row[`group_${i}`] ?? '');
    const key = JSON.stringify(values);
    if (key !== currentKey) {
      current = { tags: Object.fromEntries(groupBy.map((k, i) => [k, values[i] ?? ''])), points: [] };
      currentKey = key;
      series.push(current);
    }
    const value = row.point_value;
    if (value !== null && Number.isFinite(Number(value))) current?.points.push([Number(row.point_ms), Number(value)]);
  }
  return series.filter((s) => s.points.length > 0);
}
