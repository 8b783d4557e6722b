import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { PublicTable, QueryRunner } from '../query-runner.js';
import { msToDateTime64 } from '../time-range.js';
import { JobState } from './job-state.js';
import type { Progress } from './progress.js';
import { compactUtc, isoUtc, timeChunks } from './time-chunks.js';
import type { TimeChunk } from './time-chunks.js';

/**
 * What `export` writes for each table, for one chunk of time: the rows as
 * stored for the event tables; for the rollups and the trace index, the rows
 * merged and finalized (their aggregate states have no Parquet type), one row
 * per series and bucket, or per trace.
 */
const EXPORT_SQL: Record<PublicTable, (table: string) => string> = {
  spans: (t) => `SELECT * FROM ${t}
WHERE tenant = {tenant:String} AND start >= {from:DateTime64(9)} AND start < {to:DateTime64(9)}
ORDER BY start, trace_id, span_id`,
  logs: (t) => `SELECT * FROM ${t}
WHERE tenant = {tenant:String} AND timestamp >= {from:DateTime64(9)} AND timestamp < {to:DateTime64(9)}
ORDER BY timestamp, service`,
  samples: (t) => `SELECT * FROM ${t}
WHERE tenant = {tenant:String} AND timestamp >= {from:DateTime64(9)} AND timestamp < {to:DateTime64(9)}
ORDER BY timestamp, name`,
  // A trace belongs to the chunk of its first span; rows of the index merge lazily.
  trace_index: (t) => `SELECT tenant, trace_id, min(start) AS start, max(end) AS end, sum(spans) AS spans, sum(errors) AS errors,
       groupUniqArrayArray(services) AS services
FROM ${t}
WHERE tenant = {tenant:String}
  AND trace_id IN (SELECT trace_id FROM ${t} WHERE tenant = {tenant:String} AND start >= {from:DateTime64(9)} AND start < {to:DateTime64(9)})
GROUP BY tenant, trace_id
HAVING start >= {from:DateTime64(9)} AND start < {to:DateTime64(9)}
ORDER BY start, trace_id`,
  metrics_1m: (t) => rollupSql(t),
  metrics_1h: (t) => rollupSql(t),
};

function rollupSql(t: string): string {
  return `SELECT tenant, name, type, tags_hash, bucket, any(tags) AS tags, any(unit) AS unit, any(service) AS service,
       sum(count) AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max, argMaxMerge(last) AS last,
       quantilesDDMerge(0.01, 0.5, 0.9, 0.99)(quantiles) AS quantiles_p50_p90_p99, uniqHLL12Merge(uniq) AS uniq,
       argMaxMerge(last_status) AS last_status
FROM ${t}
WHERE tenant = {tenant:String} AND bucket >= toDateTime({from:DateTime64(9)}, 'UTC') AND bucket < toDateTime({to:DateTime64(9)}, 'UTC')
GROUP BY tenant, name, type, tags_hash, bucket
ORDER BY bucket, name, type, tags_hash`;
}

/** The tables `export --table` takes. */
export const EXPORT_TABLES = Object.keys(EXPORT_SQL) as PublicTable[];

export interface ExportOptions {
  table: PublicTable;
  tenant: string;
  fromMs: number;
  toMs: number;
  /** Length of one part, ms (parts start at multiples of it, UTC). */
  chunkMs: number;
  /** The directory of the parts. */
  outDir: string;
  statePath?: string | undefined;
  restart?: boolean;
  progress: (total: number) => Progress;
  /** Stops before the next part (SIGINT); a rerun continues. */
  signal?: AbortSignal | undefined;
}

interface ExportState {
  /** Parts written, by chunk start (ms as text): the file name, its rows and bytes. */
  done: Record<string, { file: string; rows: number; bytes: number }>;
}

export interface ExportResult {
  parts: Array<{ file: string; fromMs: number; toMs: number; rows: number; bytes: number; skipped: boolean }>;
  rows: number;
  bytes: number;
  statePath: string;
  interrupted: boolean;
}

/** The file of one chunk: `<table>-<UTC start>.parquet`. */
export function partName(table: PublicTable, chunk: TimeChunk): string {
  return `${table}-${compactUtc(chunk.fromMs)}.parquet`;
}

/**
 * Exports one table of one tenant as Parquet, written by ClickHouse itself
 * (`FORMAT Parquet` through the query runner, with its tenant filter and
 * limits), one part file per chunk of time. A part is written to a temporary
 * name and renamed when complete, and recorded in the state file; a rerun
 * skips the parts recorded and still on disk, so an interrupted export
 * continues and a finished one is not redone. Empty chunks still get a
 * (valid, empty) part, so the directory always covers the whole range.
 */
export async function exportTable(runner: QueryRunner, options: ExportOptions): Promise<ExportResult> {
  const outDir = resolve(options.outDir);
  const chunks = timeChunks(options.fromMs, options.toMs, options.chunkMs);
  const job = JobState.open<ExportState>(
    'export',
    {
      database: runner.database,
      table: options.table,
      tenant: options.tenant,
      from: isoUtc(options.fromMs),
      to: isoUtc(options.toMs),
      chunkMs: options.chunkMs,
      out: outDir,
    },
    () => ({ done: {} }),
    { path: options.statePath, restart: options.restart ?? false },
  );
  mkdirSync(outDir, { recursive: true });
  const sql = EXPORT_SQL[options.table](runner.table(options.table));
  const progress = options.progress(chunks.length);
  const result: ExportResult = { parts: [], rows: 0, bytes: 0, statePath: job.path, interrupted: false };

  for (const chunk of chunks) {
    if (options.signal?.aborted) {
      result.interrupted = true;
      break;
    }
    const file = partName(options.table, chunk);
    const path = join(outDir, file);
    const recorded = job.state.done[String(chunk.fromMs)];
    if (recorded && existsSync(path) && statSync(path).size === recorded.bytes) {
      result.parts.push({ file, ...chunk, rows: recorded.rows, bytes: recorded.bytes, skipped: true });
      result.rows += recorded.rows;
      result.bytes += recorded.bytes;
      progress.skip(1);
      continue;
    }
    const params = { tenant: options.tenant, from: msToDateTime64(chunk.fromMs), to: msToDateTime64(chunk.toMs) };
    const tmp = `${path}.partial`;
    try {
      const [counted] = await runner.rows<{ rows: string }>(`SELECT count() AS rows FROM (${sql})`, options.tenant, params);
      const stream = await runner.stream(sql, options.tenant, params, 'parquet');
      await pipeline(stream, createWriteStream(tmp));
      renameSync(tmp, path);
      const part = { file, rows: Number(counted?.rows ?? 0), bytes: statSync(path).size };
      job.state.done[String(chunk.fromMs)] = part;
      job.save();
      result.parts.push({ ...part, ...chunk, skipped: false });
      result.rows += part.rows;
      result.bytes += part.bytes;
      progress.advance(1, `${file} (${part.rows} rows)`);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }
  const written = result.parts.filter((p) => !p.skipped).length;
  progress.finish(
    `${result.interrupted ? 'interrupted (run again to continue): ' : ''}${written} parts written, ${result.parts.length - written} already done; ${result.rows} rows, ${result.bytes} bytes in ${outDir}`,
  );
  return result;
}
