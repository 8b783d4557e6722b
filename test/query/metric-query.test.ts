import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogSource, editDistanceAtMost, metricListSql, metricTagsSql, similarNames } from '../../query/metrics/metric-catalog.js';
import {
  chooseAgg,
  defaultStepMs,
  metricQuerySql,
  metricTypesSql,
  firstBucketsAndTypesSql,
  parseTagFilter,
  planMetricQuery,
  SPAN_METRICS,
  rowsToSeries,
  sourceForStep,
} from '../../query/metrics/metric-query.js';
import type { MetricQuery } from '../../query/metrics/metric-query.js';
import { QueryErrors } from '../../query/query-errors.js';

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
// A whole hour (2026-11-21T10:00:00Z), so the widened ranges below are easy to read.
const T0 = Date.UTC(2026, 10, 21, 10);

/** The coded refusal `fn` throws (fails when it throws nothing or something else). */
function refusal(fn: () => unknown): { code: string; status: number; reason: string } {
  try {
    fn();
  } catch (err) {
    if (QueryErrors.has(err)) return { code: err.code, status: err.status, reason: err.reason };
    throw err;
  }
  throw new Error('no refusal');
}

describe('which table a step reads', () => {
  it.each([
    [1 * S, 'samples'],
    [10 * S, 'samples'],
    [90 * S, 'samples'],
    [1 * M, 'metrics_1m'],
    [5 * M, 'metrics_1m'],
    [90 * M, 'metrics_1m'],
    [1 * H, 'metrics_1h'],
    [2 * H, 'metrics_1h'],
    [1 * D, 'metrics_1h'],
    [7 * D, 'metrics_1h'],
  ])('step %i ms -> %s', (step, source) => {
    expect(sourceForStep(step)).toBe(source);
  });

  it('the plan of a 10 s step over an hour not on a step boundary reads samples, widened to whole 10 s buckets', () => {
    expect(planMetricQuery('x', T0 + 3 * S, T0 + H + 7 * S, 10 * S)).toEqual({
      source: 'samples',
      stepMs: 10 * S,
      startMs: T0,
      endMs: T0 + H + 10 * S,
      buckets: 361,
    });
  });

  it('a 1 h step over a range that starts and ends inside hours reads metrics_1h over the whole hours around it', () => {
    expect(planMetricQuery('x', T0 + 20 * M, T0 + 5 * H + 1, H)).toEqual({ source: 'metrics_1h', stepMs: H, startMs: T0, endMs: T0 + 6 * H, buckets: 6 });
  });

  it('a 5 m step reads metrics_1m; buckets are multiples of the step since the epoch', () => {
    expect(planMetricQuery('x', T0 + 7 * M, T0 + 33 * M, 5 * M)).toEqual({
      source: 'metrics_1m',
      stepMs: 5 * M,
      startMs: T0 + 5 * M,
      endMs: T0 + 35 * M,
      buckets: 6,
    });
  });

  it('a 3 h step starts its buckets on multiples of 3 h since the epoch (whole UTC hours)', () => {
    const plan = planMetricQuery('x', T0, T0 + D, 3 * H);
    expect(plan.source).toBe('metrics_1h');
    expect(plan.startMs % (3 * H)).toBe(0);
    expect(plan.startMs % H).toBe(0);
    expect(plan.startMs).toBeLessThanOrEqual(T0);
  });
});

describe('the default step', () => {
  it.each([
    [H, 15 * S, 'samples'],
    [6 * H, 2 * M, 'metrics_1m'],
    [D, 5 * M, 'metrics_1m'],
    [7 * D, H, 'metrics_1h'],
    [30 * D, 3 * H, 'metrics_1h'],
    [365 * D, 2 * D, 'metrics_1h'],
  ])('over %i ms: %i ms (%s), at most 300 points', (range, step, source) => {
    expect(defaultStepMs(range)).toBe(step);
    const plan = planMetricQuery('x', T0, T0 + range, undefined);
    expect(plan).toMatchObject({ stepMs: step, source });
    expect(range / step).toBeLessThanOrEqual(300);
  });

  it('over a very long range: whole days', () => {
    expect(defaultStepMs(3650 * D)).toBe(13 * D);
  });

  it('span-derived metrics have no raw samples: their default step is at least a minute', () => {
    for (const name of ['ssf.span.duration', 'ssf.service.duration', 'ssf.indicator.duration', 'ssf.objective.duration']) {
      expect(planMetricQuery(name, T0, T0 + H, undefined), name).toMatchObject({ stepMs: M, source: 'metrics_1m' });
    }
    expect(planMetricQuery('other', T0, T0 + H, undefined)).toMatchObject({ stepMs: 15 * S, source: 'samples' });
  });

  it('every metric the migrations derive from spans is known as span-derived', () => {
    // The names the span rollup views write: ('ssf.<...>', map(...)) tuples in the migrations.
    const dir = join(import.meta.dirname, '..', '..', 'schema', 'clickhouse');
    const written = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
      for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/\('(ssf\.[a-z_.]+)',\s*map\(/g)) written.add(m[1] as string);
    }
    expect(written.size).toBeGreaterThanOrEqual(4);
    expect([...written].sort()).toEqual([...SPAN_METRICS].sort());
  });
});

describe('refusals', () => {
  it.each([
    ['a step not in whole seconds', () => planMetricQuery('x', T0, T0 + H, 1_500), /whole number of seconds/],
    ['a step under a second', () => planMetricQuery('x', T0, T0 + H, 500), /whole number of seconds/],
    ['a zero step', () => planMetricQuery('x', T0, T0 + H, 0), /whole number of seconds/],
    ['to before from', () => planMetricQuery('x', T0 + H, T0, 60 * S), /after from/],
    ['an empty range', () => planMetricQuery('x', T0, T0, 60 * S), /after from/],
    ['17280 points (10 s over two days)', () => planMetricQuery('x', T0, T0 + 2 * D, 10 * S), /17280 points .* more than 11000; give a step of at least 16s/],
    ['a sub-minute step for a span-derived metric', () => planMetricQuery('ssf.span.duration', T0, T0 + H, 10 * S), /derived from spans/],
    ['a tag filter without a separator', () => parseTagFilter('route'), /not key:value/],
    ['a tag filter without a key', () => parseTagFilter(':x'), /not key:value/],
    ['no agg and nothing in the range', () => chooseAgg('x', undefined, []), /no samples of metric "x"/],
    ['no agg and several types', () => chooseAgg('x', undefined, ['counter', 'gauge']), /several types/],
    [
      'no agg, nothing in the range, similar names',
      () => chooseAgg('a.b', undefined, [], ['a.c', 'b.b']),
      /no samples of metric "a.b" in the time range \(did you mean "a.c", "b.b"\?\)/,
    ],
    ['p99 of a counter', () => chooseAgg('x', 'p99', ['counter']), /p99 needs a histogram/],
    ['uniq of a gauge', () => chooseAgg('x', 'uniq', ['gauge']), /uniq needs a set/],
  ])('%s', (_label, fn, reason) => {
    const r = refusal(fn);
    expect(r.code).toBe(/no samples/.test(String(reason)) ? 'QUERY_ERR_NOT_FOUND' : 'QUERY_ERR_BAD_REQUEST');
    expect(r.reason).toMatch(reason);
  });

  it('exactly 11000 points is allowed', () => {
    expect(planMetricQuery('x', T0, T0 + 11_000 * 10 * S, 10 * S).buckets).toBe(11_000);
    expect(() => planMetricQuery('x', T0, T0 + 11_000 * 10 * S + 1, 10 * S)).toThrow(/^QUERY_ERR_/);
  });
});

describe('tag filters and aggregations', () => {
  it.each([
    ['route:/cart', { key: 'route', op: '=', value: '/cart' }],
    ['code!=500', { key: 'code', op: '!=', value: '500' }],
    ['url:http://x', { key: 'url', op: '=', value: 'http://x' }],
    ['a!=b:c', { key: 'a', op: '!=', value: 'b:c' }],
    ['a:b!=c', { key: 'a', op: '=', value: 'b!=c' }],
    ['empty:', { key: 'empty', op: '=', value: '' }],
  ])('%s', (text, filter) => {
    expect(parseTagFilter(text)).toEqual(filter);
  });

  it('defaults by type, and an explicit agg passes through when the type fits or nothing is known', () => {
    expect(chooseAgg('x', undefined, ['counter'])).toBe('sum');
    expect(chooseAgg('x', undefined, ['gauge'])).toBe('last');
    expect(chooseAgg('x', undefined, ['histogram'])).toBe('p50');
    expect(chooseAgg('x', undefined, ['set'])).toBe('uniq');
    expect(chooseAgg('x', undefined, ['status'])).toBe('last');
    expect(chooseAgg('x', 'p90', ['histogram', 'counter'])).toBe('p90');
    expect(chooseAgg('x', 'rate', [])).toBe('rate');
    expect(chooseAgg('x', 'max', ['gauge'])).toBe('max');
  });
});

describe('generated SQL', () => {
  const table = (t: string): string => `ssf.${t}`;
  const query = (over: Partial<MetricQuery>, from: number, to: number, step: number): MetricQuery => ({
    name: 'api.requests',
    agg: 'sum',
    tags: [],
    groupBy: [],
    lastIsStatus: false,
    plan: planMetricQuery('api.requests', from, to, step),
    ...over,
  });

  it('raw samples at 10 s: weighted by 1 / sample_rate as the rollup view does, millisecond buckets, tag filters and group_by bound as parameters', () => {
    const q = query({ agg: 'rate', tags: [parseTagFilter('code!=500'), parseTagFilter('region:eu')], groupBy: ['route'] }, T0, T0 + H, 10 * S);
    const { sql, params } = metricQuerySql(q, 'acme', table);
    expect(sql).toMatchInlineSnapshot(`
      "SELECT toInt64(intDiv(toUnixTimestamp64Milli(timestamp), {step_ms:Int64}) * {step_ms:Int64}) AS point_ms,
             tags[{group_key_0:String}] AS group_0,
             toFloat64(sum(value * (1 / toFloat64(toString(sample_rate)))) / {step_s:UInt32}) AS point_value
      FROM ssf.samples
      WHERE tenant = {tenant:String}
        AND name = {name:String}
        AND timestamp >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')
        AND timestamp < fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')
        AND tags[{tag_key_0:String}] != {tag_value_0:String}
        AND tags[{tag_key_1:String}] = {tag_value_1:String}
      GROUP BY group_0, point_ms
      ORDER BY group_0, point_ms"
    `);
    expect(params).toEqual({
      tenant: 'acme',
      name: 'api.requests',
      step_ms: 10_000,
      start_ms: T0,
      end_ms: T0 + H,
      step_s: 10,
      tag_key_0: 'code',
      tag_value_0: '500',
      tag_key_1: 'region',
      tag_value_1: 'eu',
      group_key_0: 'route',
    });
  });

  it('metrics_1m at 5 m: a quantile merged from the DDSketch states, two group keys', () => {
    const q = query({ agg: 'p99', groupBy: ['route', 'code'] }, T0, T0 + 6 * H, 5 * M);
    const { sql, params } = metricQuerySql(q, 'acme', table);
    expect(sql).toMatchInlineSnapshot(`
      "SELECT toInt64(intDiv(toUnixTimestamp(bucket), {step_s:UInt32}) * {step_s:UInt32} * 1000) AS point_ms,
             tags[{group_key_0:String}] AS group_0,
             tags[{group_key_1:String}] AS group_1,
             toFloat64(quantileDDMerge(0.01, 0.99)(quantiles)) AS point_value
      FROM ssf.metrics_1m
      WHERE tenant = {tenant:String}
        AND name = {name:String}
        AND bucket >= toDateTime({start_s:UInt32}, 'UTC')
        AND bucket < toDateTime({end_s:UInt32}, 'UTC')
      GROUP BY group_0, group_1, point_ms
      ORDER BY group_0, group_1, point_ms"
    `);
    expect(params).toEqual({
      tenant: 'acme',
      name: 'api.requests',
      start_s: T0 / S,
      end_s: (T0 + 6 * H) / S,
      step_s: 300,
      group_key_0: 'route',
      group_key_1: 'code',
    });
  });

  it("metrics_1h at 1 h: avg is sum(sum) / sum(count); a status check's last is its last status", () => {
    expect(metricQuerySql(query({ agg: 'avg' }, T0, T0 + D, H), 'acme', table).sql).toMatchInlineSnapshot(`
      "SELECT toInt64(intDiv(toUnixTimestamp(bucket), {step_s:UInt32}) * {step_s:UInt32} * 1000) AS point_ms,
             toFloat64(sum(sum) / sum(count)) AS point_value
      FROM ssf.metrics_1h
      WHERE tenant = {tenant:String}
        AND name = {name:String}
        AND bucket >= toDateTime({start_s:UInt32}, 'UTC')
        AND bucket < toDateTime({end_s:UInt32}, 'UTC')
      GROUP BY point_ms
      ORDER BY point_ms"
    `);
    expect(metricQuerySql(query({ agg: 'last', lastIsStatus: true }, T0, T0 + D, H), 'acme', table).sql).toContain('argMaxMerge(last_status)');
    expect(metricQuerySql(query({ agg: 'last', lastIsStatus: true }, T0, T0 + H, 10 * S), 'acme', table).sql).toContain('argMax(toUInt8(status), timestamp)');
  });

  it.each([
    ['sum', 'sum(sum)', 'sum(value * (1 / toFloat64(toString(sample_rate))))'],
    ['count', 'sum(count)', 'sum((1 / toFloat64(toString(sample_rate))))'],
    ['min', 'min(min)', 'min(value)'],
    ['max', 'max(max)', 'max(value)'],
    ['p50', 'quantileDDMerge(0.01, 0.5)(quantiles)', "quantileDDIf(0.01, 0.5)(value, type = 'histogram')"],
    ['p90', 'quantileDDMerge(0.01, 0.9)(quantiles)', "quantileDDIf(0.01, 0.9)(value, type = 'histogram')"],
    ['uniq', 'uniqHLL12Merge(uniq)', "uniqHLL12If(message, type = 'set')"],
    ['last', 'argMaxMerge(last)', 'argMax(value, timestamp)'],
  ] as const)('%s reads %s from a rollup and %s from samples', (agg, rollup, raw) => {
    expect(metricQuerySql(query({ agg }, T0, T0 + H, M), 't', table).sql).toContain(`toFloat64(${rollup}) AS point_value`);
    expect(metricQuerySql(query({ agg }, T0, T0 + H, 10 * S), 't', table).sql).toContain(`toFloat64(${raw}) AS point_value`);
  });

  it('the type lookup reads metrics_1h over whole hours around the range', () => {
    const plan = planMetricQuery('x', T0 + 30 * M, T0 + H + 10 * M, 10 * S);
    const { sql, params } = metricTypesSql('x', 'acme', plan, 'ssf.metrics_1h');
    expect(sql).toContain('FROM ssf.metrics_1h');
    expect(params).toEqual({ tenant: 'acme', name: 'x', start_s: T0 / S, end_s: (T0 + H + 10 * M) / S });
  });

  it('first buckets and types in one query: the same bounds as metricTypesSql, every value bound', () => {
    const plan = planMetricQuery('x', Date.UTC(2026, 0, 1, 0, 30), Date.UTC(2026, 0, 1, 5), 3_600_000);
    const { sql, params } = firstBucketsAndTypesSql(['x', 'y'], 'acme', plan, 'ssf.metrics_1h');
    expect(sql).toMatchInlineSnapshot(`
      "SELECT name, toUInt32(min(bucket)) AS first_s,
        arraySort(groupUniqArrayIf(toString(type), bucket >= toDateTime({start_s:UInt32}, 'UTC') AND bucket < toDateTime({end_s:UInt32}, 'UTC'))) AS types
      FROM ssf.metrics_1h
      WHERE tenant = {tenant:String} AND name IN {names:Array(String)}
      GROUP BY name"
    `);
    const types = metricTypesSql('x', 'acme', plan, 'ssf.metrics_1h').params;
    expect(params).toEqual({ tenant: 'acme', names: ['x', 'y'], start_s: types['start_s'], end_s: types['end_s'] });
  });

  it('listing reads metrics_1m up to a day and metrics_1h beyond', () => {
    expect(catalogSource(T0, T0 + D)).toEqual({ source: 'metrics_1m', bucketMs: M });
    expect(catalogSource(T0, T0 + D + 1)).toEqual({ source: 'metrics_1h', bucketMs: H });
    const list = metricListSql('acme', T0 + 30 * S, T0 + H, 'api.', 100, 'ssf.metrics_1m', M);
    expect(list.sql).toMatchInlineSnapshot(`
      "SELECT name,
             arraySort(groupUniqArray(toString(type))) AS types,
             uniqExact(type, tags_hash) AS series,
             toInt64(toUnixTimestamp(max(bucket))) * 1000 AS last_seen_ms
      FROM ssf.metrics_1m
      WHERE tenant = {tenant:String} AND bucket >= toDateTime({start_s:UInt32}, 'UTC') AND bucket < toDateTime({end_s:UInt32}, 'UTC')
        AND startsWith(name, {prefix:String})
      GROUP BY name
      ORDER BY name
      LIMIT {limit:UInt32}"
    `);
    expect(list.params).toEqual({ tenant: 'acme', start_s: T0 / S, end_s: (T0 + H) / S, prefix: 'api.', limit: 101 });
    const tags = metricTagsSql('acme', 'api.requests', T0, T0 + 2 * D, 5, 'ssf.metrics_1h', H);
    expect(tags.sql).toMatchInlineSnapshot(`
      "SELECT key, value, uniqExact(tags_hash) AS series,
             sum(series) OVER (PARTITION BY key) AS key_series,
             count() OVER (PARTITION BY key) AS key_values,
             any(total) AS total_series
      FROM
      (
          SELECT tags_hash, any(tags) AS series_tags, count() OVER () AS total
          FROM ssf.metrics_1h
          WHERE tenant = {tenant:String} AND bucket >= toDateTime({start_s:UInt32}, 'UTC') AND bucket < toDateTime({end_s:UInt32}, 'UTC')
            AND name = {name:String}
          GROUP BY tags_hash
      )
      LEFT ARRAY JOIN mapKeys(series_tags) AS key, mapValues(series_tags) AS value
      GROUP BY key, value
      ORDER BY key, series DESC, value
      LIMIT {limit:UInt32} BY key"
    `);
  });
});

describe('rows to series', () => {
  it('splits by group values in order, keeps points with a number, drops empty series', () => {
    const rows = [
      { point_ms: '1000', group_0: '/a', point_value: 1 },
      { point_ms: '2000', group_0: '/a', point_value: 2.5 },
      { point_ms: '1000', group_0: '/b', point_value: null },
      { point_ms: '1000', group_0: '', point_value: 7 },
    ];
    expect(rowsToSeries(rows, ['route'])).toEqual([
      {
        tags: { route: '/a' },
        points: [
          [1000, 1],
          [2000, 2.5],
        ],
      },
      { tags: { route: '' }, points: [[1000, 7]] },
    ]);
    expect(rowsToSeries([{ point_ms: 5, point_value: 3 }], [])).toEqual([{ tags: {}, points: [[5, 3]] }]);
  });
});

describe('similarNames: what a typo of a metric name could have meant', () => {
  const names = [
    'shop.requests',
    'shop.errors',
    'http.request.duration',
    'http.requests',
    'http.request.count',
    'http.request.sum',
    'ssf.span.duration',
    'ssf.service.duration',
  ];
  it.each([
    ['two letters swapped', 'shop.reqeusts', ['shop.requests']],
    ['a letter missing', 'shop.erors', ['shop.errors']],
    ['another case', 'SHOP.REQUESTS', ['shop.requests']],
    ['several close, the closest first', 'ssf.spam.duration', ['ssf.span.duration']],
    ['a longer name allows more edits', 'http.requests.duratoin', ['http.request.duration']],
    ['nothing close', 'queue.depth', []],
    ['the names under it (a cumulative histogram), after the typos', 'http.request', ['http.requests', 'http.request.sum', 'http.request.count']],
    ['the name itself is not a suggestion', 'shop.errors', []],
  ])('%s', (_, name, expected) => {
    expect(similarNames(name, names)).toEqual(expected);
  });
  it('suggests nothing for a name past 256 characters (each comparison costs its length, and the name is the client’s)', () => {
    const long = `shop.requests${'x'.repeat(300)}`;
    expect(similarNames(long, [...names, `${long.slice(0, -1)}y`])).toEqual([]);
  });
});

describe('similarNames: bounded work', () => {
  const asked = 'x'.repeat(200);
  const close = `${'x'.repeat(199)}z`;
  const fillers = (n: number): string[] => Array.from({ length: n }, (_, i) => `${'y'.repeat(196)}${String(i).padStart(4, '0')}`);
  it('compares names of about the same length until 100,000 characters were compared, then stops', () => {
    expect(similarNames(asked, [...fillers(400), close])).toEqual([close]);
    expect(similarNames(asked, [...fillers(600), close])).toEqual([]);
  });
  it('still names the names under it past that', () => {
    expect(similarNames(asked, [...fillers(600), `${asked}.count`])).toEqual([`${asked}.count`]);
  });
});

describe('editDistanceAtMost: the edit distance within a band', () => {
  /** The whole table: the reference. */
  function levenshtein(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const current = [i];
      for (let j = 1; j <= b.length; j++) {
        current.push(Math.min((previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1), (previous[j] as number) + 1, (current[j - 1] as number) + 1));
      }
      previous = current;
    }
    return previous[b.length] as number;
  }
  it('is the distance when it is at most `most`, otherwise most + 1, on random strings', () => {
    let seed = 11;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      // The high bits: a power-of-two LCG's low bits repeat within a few draws.
      return Math.floor(seed / 65_536) % n;
    };
    const word = (): string => Array.from({ length: random(12) }, () => 'abc'[random(3)]).join('');
    let near = 0;
    for (let k = 0; k < 5_000; k++) {
      const [a, b, most] = [word(), word(), 1 + random(4)];
      const d = levenshtein(a, b);
      if (d <= most) near++;
      expect(editDistanceAtMost(a, b, most), `${a} ${b} ${most}`).toBe(Math.min(d, most + 1));
    }
    // Named cases: a length difference of exactly `most`, a distance just past it.
    expect(editDistanceAtMost('ab', 'abcd', 2)).toBe(2);
    expect(editDistanceAtMost('abcd', 'ab', 1)).toBe(2);
    expect(editDistanceAtMost('kitten', 'sitting', 3)).toBe(3);
    expect(editDistanceAtMost('kitten', 'sitting', 2)).toBe(3);
    // Both sides of the band were tried.
    expect(near).toBeGreaterThan(500);
    expect(near).toBeLessThan(4_500);
  });
});
