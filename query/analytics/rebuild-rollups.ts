import type { ClickHouse } from '../../src/clickhouse/create-client.js';
import { loadMigrations, renderMigration } from '../../src/clickhouse/migrations.js';
import { quoteIdent } from '../../src/clickhouse/quote-ident.js';
import type { Config } from '../../src/config/config-schema.js';
import { JobInputError } from './job-input-error.js';
import { JobState } from './job-state.js';
import type { Progress } from './progress.js';
import { HOUR_MS, isoUtc, timeChunks, wholeHours } from './time-chunks.js';

/** The time column of each event table a rollup view reads. */
const SOURCE_TIME: Record<string, string> = { samples: 'timestamp', spans: 'start' };

/** One materialized view that fills `metrics_1m` from an event table, as written in the migrations. */
export interface RollupView {
  view: string;
  /** The event table it reads (`samples`, `spans`). */
  source: string;
  /** Its SELECT, with the source restricted to `[{from}, {to})` (parameters fromMs, toMs: Int64 epoch ms). */
  select: string;
}

const CREATE_MV = /^\s*(?:--[^\n]*\n\s*)*CREATE MATERIALIZED VIEW IF NOT EXISTS (`\w+`)\.(\w+) TO (`\w+`)\.(\w+) AS\s+(SELECT[\s\S]+)$/;
const MODIFY_QUERY = /^\s*(?:--[^\n]*\n\s*)*ALTER TABLE (`\w+`)\.(\w+) MODIFY QUERY\s+(SELECT[\s\S]+)$/;
const DROP_VIEW = /^\s*(?:--[^\n]*\n\s*)*DROP VIEW IF EXISTS (`\w+`)\.(\w+)\s*$/;

/**
 * The SELECTs of the views that write into `metrics_1m`, taken from the
 * migration files themselves (schema/clickhouse/0003_samples.sql,
 * 0004_span_metrics.sql, and any later one), so a rebuild computes exactly
 * what the pipeline computes: one source of truth. The files are read in
 * order, as they are applied: a view is created, its query may be changed
 * (MODIFY QUERY) and it may be dropped (0015 folded service_metrics_1m_mv
 * into span_metrics_1m_mv). Each view's source table is swapped for the same
 * table restricted to the time range.
 */
export function rollupViews(database: string, retention: Config['retention']): RollupView[] {
  const db = quoteIdent(database);
  const current = new Map<string, { target: string; select: string }>();
  for (const migration of loadMigrations()) {
    for (const statement of renderMigration(migration, { database, cluster: '', retention, bodyIndex: 'text' })) {
      const created = CREATE_MV.exec(statement);
      if (created) current.set(created[2] as string, { target: created[4] as string, select: created[5] as string });
      const modified = MODIFY_QUERY.exec(statement);
      const view = modified === null ? undefined : current.get(modified[2] as string);
      if (modified && view) view.select = modified[3] as string;
      const dropped = DROP_VIEW.exec(statement);
      if (dropped) current.delete(dropped[2] as string);
    }
  }
  const views: RollupView[] = [];
  for (const [name, { target, select }] of current) {
    if (target !== 'metrics_1m') continue;
    const sources = [...new Set([...select.matchAll(/\bFROM\s+`\w+`\.(\w+)/g)].map((f) => f[1] as string))];
    const source = sources[0];
    const column = source === undefined ? undefined : SOURCE_TIME[source];
    if (sources.length !== 1 || source === undefined || column === undefined) {
      throw new Error(
        `the view ${name} fills metrics_1m from ${sources.join(', ') || 'no table'}: rebuild-rollups knows the time column of ${Object.keys(SOURCE_TIME).join(' and ')} only`,
      );
    }
    const restricted = `(SELECT * FROM ${db}.${source} WHERE ${column} >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND ${column} < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC'))`;
    views.push({
      view: name,
      source,
      select: select.replace(new RegExp(`\\bFROM\\s+${db.replace(/`/g, '\\`')}\\.${source}\\b`, 'g'), `FROM ${restricted}`),
    });
  }
  if (views.length === 0) throw new Error('no materialized view into metrics_1m found in the migrations');
  return views;
}

export interface RebuildOptions {
  fromMs: number;
  toMs: number;
  retention: Config['retention'];
  statePath?: string | undefined;
  restart?: boolean;
  progress: (total: number) => Progress;
  now?: number;
  /** Stops before the next hour (SIGINT); a rerun continues. */
  signal?: AbortSignal | undefined;
}

interface RebuildState {
  /** Hours rebuilt, by start (epoch ms). */
  done: number[];
}

export interface RebuildResult {
  fromMs: number;
  toMs: number;
  hours: Array<{ fromMs: number; rows1m: number; rows1h: number; skipped: boolean }>;
  statePath: string;
  interrupted: boolean;
}

/**
 * The range `rebuild-rollups` may touch, in whole hours (metrics_1h has one
 * bucket per hour, fed from the minute rows of that hour). Refuses hours
 * that still receive data (the current one: live inserts would be counted
 * twice, by their view and by the rebuild) and hours whose raw rows the
 * retention has already dropped (the rebuild would delete rollups it cannot
 * recompute).
 */
export function rebuildRange(fromMs: number, toMs: number, retention: Config['retention'], now = Date.now()): { fromMs: number; toMs: number } {
  if (!(toMs > fromMs)) throw new JobInputError(`--to (${isoUtc(toMs)}) must be after --from (${isoUtc(fromMs)})`);
  const range = wholeHours(fromMs, toMs);
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  if (range.toMs > currentHour) {
    throw new JobInputError(
      `the range reaches into the current hour (${isoUtc(currentHour)}), which still receives data: give --to ${isoUtc(currentHour)} or earlier`,
    );
  }
  const keptDays = Math.min(retention.samplesDays, retention.spansDays);
  const oldest = Math.ceil((now - keptDays * 86_400_000) / HOUR_MS) * HOUR_MS;
  if (range.fromMs < oldest) {
    throw new JobInputError(
      `raw samples and spans are kept ${keptDays} days (retention.samplesDays, retention.spansDays): hours before ${isoUtc(oldest)} cannot be recomputed, and rebuilding them would delete their rollups`,
    );
  }
  return range;
}

/**
 * Recomputes metrics_1m and metrics_1h for whole hours, all tenants: for
 * each hour, deletes its rows from both rollups (lightweight DELETE), then
 * re-inserts metrics_1m with the views' own SELECTs over that hour of
 * `samples` and `spans`; the insert fires `metrics_1h_mv`, which refills
 * metrics_1h exactly as live data does. An hour is one unit of work: an
 * interrupted hour is simply done again (delete, then insert), so the
 * outcome of any number of runs is the same. Writes, so it takes the
 * writer client (not the query runner).
 */
export async function rebuildRollups(ch: ClickHouse, options: RebuildOptions): Promise<RebuildResult> {
  if (ch.cluster) throw new Error('rebuild-rollups runs against a single server; a cluster (clickhouse.cluster) is not supported yet');
  const range = rebuildRange(options.fromMs, options.toMs, options.retention, options.now);
  const views = rollupViews(ch.database, options.retention);
  const db = quoteIdent(ch.database);
  const hours = timeChunks(range.fromMs, range.toMs, HOUR_MS);
  const job = JobState.open<RebuildState>(
    'rebuild-rollups',
    { database: ch.database, from: isoUtc(range.fromMs), to: isoUtc(range.toMs) },
    () => ({ done: [] }),
    {
      path: options.statePath,
      restart: options.restart ?? false,
    },
  );
  const progress = options.progress(hours.length);
  const result: RebuildResult = { ...range, hours: [], statePath: job.path, interrupted: false };
  const inHour = `bucket >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND bucket < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')`;
  const columnsOf = new Map<string, string>();

  for (const hour of hours) {
    if (options.signal?.aborted) {
      result.interrupted = true;
      break;
    }
    const params = { fromMs: hour.fromMs, toMs: hour.toMs };
    if (job.state.done.includes(hour.fromMs)) {
      result.hours.push({ fromMs: hour.fromMs, ...(await rowCounts(ch, db, inHour, params)), skipped: true });
      progress.skip(1);
      continue;
    }
    await ch.client.command({ query: `DELETE FROM ${db}.metrics_1m WHERE ${inHour}`, query_params: params });
    await ch.client.command({ query: `DELETE FROM ${db}.metrics_1h WHERE ${inHour}`, query_params: params });
    for (const v of views) {
      // INSERT ... SELECT matches columns by position: name them as the view does.
      let columns = columnsOf.get(v.view);
      if (columns === undefined) {
        const described = await (await ch.client.query({ query: `DESCRIBE TABLE (${v.select})`, query_params: params, format: 'JSONEachRow' })).json<{
          name: string;
        }>();
        columns = described.map((c) => quoteIdent(c.name)).join(', ');
        columnsOf.set(v.view, columns);
      }
      // No insert deduplication: the same rows are inserted again on every rebuild, by design.
      await ch.client.command({
        query: `INSERT INTO ${db}.metrics_1m (${columns}) SETTINGS insert_deduplicate = 0, deduplicate_blocks_in_dependent_materialized_views = 0\n${v.select}`,
        query_params: params,
      });
    }
    job.state.done.push(hour.fromMs);
    job.save();
    const counts = await rowCounts(ch, db, inHour, params);
    result.hours.push({ fromMs: hour.fromMs, ...counts, skipped: false });
    progress.advance(1, `${isoUtc(hour.fromMs)}: ${counts.rows1m} minute rows, ${counts.rows1h} hour rows`);
  }
  const rebuilt = result.hours.filter((h) => !h.skipped).length;
  progress.finish(
    `${result.interrupted ? 'interrupted (run again to continue): ' : ''}${rebuilt} hours rebuilt, ${result.hours.length - rebuilt} already done (${isoUtc(range.fromMs)} to ${isoUtc(range.toMs)})`,
  );
  return result;
}

async function rowCounts(ch: ClickHouse, db: string, inHour: string, params: Record<string, number>): Promise<{ rows1m: number; rows1h: number }> {
  const rows = await (
    await ch.client.query({
      query: `SELECT (SELECT count() FROM ${db}.metrics_1m WHERE ${inHour}) AS rows1m, (SELECT count() FROM ${db}.metrics_1h WHERE ${inHour}) AS rows1h`,
      query_params: params,
      format: 'JSONEachRow',
    })
  ).json<{ rows1m: string; rows1h: string }>();
  return { rows1m: Number(rows[0]?.rows1m ?? 0), rows1h: Number(rows[0]?.rows1h ?? 0) };
}
