import type { QueryParams } from '../query-runner.js';

/** Which rollup lists metrics and tags for a range: minutes up to a day (last_seen to the minute), hours beyond (few rows at any range). */
export function catalogSource(fromMs: number, toMs: number): { source: 'metrics_1m' | 'metrics_1h'; bucketMs: number } {
  return toMs - fromMs <= 86_400_000 ? { source: 'metrics_1m', bucketMs: 60_000 } : { source: 'metrics_1h', bucketMs: 3_600_000 };
}

/**
 * The last second a rollup's `bucket` (a DateTime: UInt32 seconds) holds,
 * 2106-02-07. The API takes times to 2262 (DateTime64(9)), so a bound in
 * seconds is clamped here rather than overflow its UInt32 parameter.
 */
export const LAST_BUCKET_S = 4_294_967_295;

/** Epoch ms as the seconds of a `bucket` bound, at most LAST_BUCKET_S. */
export function bucketSeconds(ms: number): number {
  return Math.min(ms / 1000, LAST_BUCKET_S);
}

/** The rollup buckets that overlap [fromMs, toMs), as the bounds of a `bucket` filter in seconds. */
function bucketBounds(fromMs: number, toMs: number, bucketMs: number): { start_s: number; end_s: number } {
  return { start_s: bucketSeconds(Math.floor(fromMs / bucketMs) * bucketMs), end_s: bucketSeconds(Math.ceil(toMs / 1000) * 1000) };
}

const IN_RANGE = "tenant = {tenant:String} AND bucket >= toDateTime({start_s:UInt32}, 'UTC') AND bucket < toDateTime({end_s:UInt32}, 'UTC')";

/** One row of `GET /v1/metrics`. */
export interface MetricListRow {
  name: string;
  types: string[];
  series: number | string;
  last_seen_ms: number | string;
}

/**
 * Metric names with their types, number of series (distinct type and tag
 * set) and the start of the last bucket that has data, in the range;
 * `prefix` '' lists all. Asks for limit + 1 rows to tell a cut list.
 */
export function metricListSql(
  tenant: string,
  fromMs: number,
  toMs: number,
  prefix: string,
  limit: number,
  table: string,
  bucketMs: number,
): { sql: string; params: QueryParams } {
  return {
    sql: `SELECT name,
       arraySort(groupUniqArray(toString(type))) AS types,
       uniqExact(type, tags_hash) AS series,
       toInt64(toUnixTimestamp(max(bucket))) * 1000 AS last_seen_ms
FROM ${table}
WHERE ${IN_RANGE}
  AND startsWith(name, {prefix:String})
GROUP BY name
ORDER BY name
LIMIT {limit:UInt32}`,
    params: { tenant, ...bucketBounds(fromMs, toMs, bucketMs), prefix, limit: limit + 1 },
  };
}

/** One row of `GET /v1/metrics/tags`: a value of a key, with counts for the key. */
export interface MetricTagRow {
  key: string;
  value: string;
  /** Series with this value. */
  series: number | string;
  /** Series with this key (any value). */
  key_series: number | string;
  /** Distinct values of the key. */
  key_values: number | string;
  /** Series of the metric in the range. */
  total_series: number | string;
}

/**
 * The tag keys of a metric's series in the range and their most common
 * values (by number of series), `limit` values per key. Series are counted
 * by tag set (tags_hash), across types.
 */
export function metricTagsSql(
  tenant: string,
  name: string,
  fromMs: number,
  toMs: number,
  limit: number,
  table: string,
  bucketMs: number,
): { sql: string; params: QueryParams } {
  return {
    sql: `SELECT key, value, uniqExact(tags_hash) AS series,
       sum(series) OVER (PARTITION BY key) AS key_series,
       count() OVER (PARTITION BY key) AS key_values,
       any(total) AS total_series
FROM
(
    SELECT tags_hash, any(tags) AS series_tags, count() OVER () AS total
    FROM ${table}
    WHERE ${IN_RANGE}
      AND name = {name:String}
    GROUP BY tags_hash
)
LEFT ARRAY JOIN mapKeys(series_tags) AS key, mapValues(series_tags) AS value
GROUP BY key, value
ORDER BY key, series DESC, value
LIMIT {limit:UInt32} BY key`,
    params: { tenant, name, ...bucketBounds(fromMs, toMs, bucketMs), limit },
  };
}

/**
 * Levenshtein distance (insertions, deletions, substitutions) of two strings,
 * in UTF-16 units, when it is at most `most`; otherwise `most + 1`. Only the
 * band |i - j| <= most of the table is filled, and it stops once a whole row
 * is past `most`: O(length x most), not O(length x length) (a tenant chooses
 * the name asked and, up to 1,024 bytes each, the names compared).
 */
export function editDistanceAtMost(a: string, b: string, most: number): number {
  if (Math.abs(a.length - b.length) > most) return most + 1;
  const far = most + 1;
  // Two rows, swapped each step and filled only within the band; the cells a row
  // reads outside it (left of the band, and row 0 past it) hold `far`.
  let previous = new Array<number>(b.length + 1).fill(far);
  let current = new Array<number>(b.length + 1).fill(far);
  for (let j = 0; j <= Math.min(b.length, most); j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - most);
    const to = Math.min(b.length, i + most);
    current[from - 1] = from === 1 && i <= most ? i : far;
    let best = current[from - 1] as number;
    for (let j = from; j <= to; j++) {
      const substitute = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      const d = Math.min(substitute, (previous[j] as number) + 1, (current[j - 1] as number) + 1, far);
      current[j] = d;
      if (d < best) best = d;
    }
    // The next row reads this one up to column `to + 1`: left as far (it was never in the band before).
    if (best > most) return far;
    [previous, current] = [current, previous];
  }
  return Math.min(previous[b.length] as number, far);
}

/** Names longer than this get no suggestion: nobody mistypes one, and each comparison costs its length. */
const SUGGEST_NAME_CHARS = 256;
/** The most edits a suggestion is away from the name asked. */
const MOST_EDITS = 4;
/**
 * Characters of names compared by edit distance for one 404, at most: past
 * it the remaining names are not compared (a tenant can fill its 10,000
 * names with near-copies of a long one, and each comparison costs a band of
 * its length): about 8 ms here for 100,000 characters of names of 256.
 */
const SUGGEST_WORK_CHARS = 100_000;

/**
 * The names among `names` a typo of `name` could have meant: at most 3, the
 * closest first, within 2 edits (a swapped pair of letters is 2), or one per
 * 5 characters of a longer name (at most MOST_EDITS), among the first
 * SUGGEST_WORK_CHARS characters of names compared; then names under it
 * (`<name>.count`, `<name>.sum`: what an OTLP cumulative histogram is stored
 * as), shortest first.
 */
export function similarNames(name: string, names: readonly string[]): string[] {
  if (name.length > SUGGEST_NAME_CHARS) return [];
  const most = Math.min(MOST_EDITS, Math.max(2, Math.floor(name.length / 5)));
  const asked = name.toLowerCase();
  let work = 0;
  const found: Array<{ n: string; d: number }> = [];
  for (const n of names) {
    if (n === name) continue;
    if (n.startsWith(`${name}.`)) {
      found.push({ n, d: most + n.length - name.length });
    } else if (work < SUGGEST_WORK_CHARS && Math.abs(n.length - name.length) <= most) {
      work += n.length;
      const d = editDistanceAtMost(n.toLowerCase(), asked, most);
      if (d <= most) found.push({ n, d });
    }
  }
  return found
    .sort((x, y) => x.d - y.d || (x.n < y.n ? -1 : 1))
    .slice(0, 3)
    .map((x) => x.n);
}
