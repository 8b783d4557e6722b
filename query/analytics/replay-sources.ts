import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeSpan } from '../../src/codec/index.js';
import { JobInputError } from './job-input-error.js';
import { READ_COLUMNS, TRACE_ID_HIGH_COLUMN, rowToSpan, tableOfColumns } from './table-rows.js';
import type { EventTableKind } from './table-rows.js';

/** One unit read from a source: a line, a row or a Kafka record. */
export interface ReplayItem {
  /** The source position right after this item: where a resumed replay starts. */
  next: number;
  /** NDJSON: the span as proto3 JSON (sent as is). */
  json?: unknown;
  /** Parquet and Kafka: encoded SSFSpans (a Kafka record holds a batch, or none left after a tenant filter). */
  encoded?: Uint8Array[];
}

/**
 * What a replay reads, before it is opened: `identity` (for the state file:
 * a changed file is another replay) is known without reading anything, and
 * `open` gets the end position a previous run recorded, so a resumed replay
 * covers exactly the same range.
 */
export interface ReplayInput {
  identity: Record<string, unknown>;
  open(recordedEnd?: number): Promise<ReplaySource>;
}

/** An opened input: positions are numbers that only grow (line, row, offset). */
export interface ReplaySource {
  /** How its spans go to the gateway: JSON bodies or SSFBatch protobuf. */
  kind: 'json' | 'protobuf';
  /** The first and the end position (end excluded). */
  start: number;
  end: number;
  /** What a position counts: `lines`, `rows`, `records`. */
  unit: string;
  describe: string;
  /** Reads from `from` to the end, waiting for `each` before the next item (backpressure). */
  run(from: number, each: (item: ReplayItem) => Promise<void>, signal?: AbortSignal): Promise<void>;
}

function fileIdentity(path: string): { path: string; size: number; mtimeMs: number } {
  const st = statSync(path);
  return { path, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
}

async function* lines(path: string): AsyncGenerator<string> {
  const reader = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const line of reader) yield line;
  } finally {
    reader.close();
  }
}

/**
 * NDJSON: one SSFSpan per line in proto3 JSON, the form POST /v1/ssf takes
 * inside `{"spans": [...]}` (ingest/gateway/json-batch.ts). Blank lines are
 * skipped. Every line is checked to be JSON before anything is sent, so a
 * broken file fails at once, naming the line; the shape of each span is
 * the gateway's to judge (refused spans are counted and reported).
 */
export function ndjsonInput(file: string): ReplayInput {
  const path = resolve(file);
  return { identity: { source: 'ndjson', ...fileIdentity(path) }, open: () => openNdjson(path) };
}

async function openNdjson(path: string): Promise<ReplaySource> {
  let count = 0;
  for await (const line of lines(path)) {
    count++;
    if (line.trim() === '') continue;
    try {
      const v: unknown = JSON.parse(line);
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    } catch (err) {
      throw new JobInputError(`${path} line ${count} is not one JSON object (an SSFSpan in proto3 JSON): ${(err as Error).message}`);
    }
  }
  return {
    kind: 'json',
    start: 0,
    end: count,
    unit: 'lines',
    describe: `${path} (${count} lines)`,
    async run(from, each, signal) {
      let position = 0;
      for await (const line of lines(path)) {
        position++;
        if (position <= from) continue;
        if (signal?.aborted) return;
        await each(line.trim() === '' ? { next: position } : { next: position, json: JSON.parse(line) as unknown });
      }
    },
  };
}

const PAGE_ROWS = 10_000;

interface ParquetFile {
  path: string;
  kind: EventTableKind;
  rows: number;
  /** Position of its first row in the whole source. */
  first: number;
  /** The export has trace_id_high (from migration 0007 on). */
  high: boolean;
}

type ChdbQuery = (query: string, params: object, options: { format: string }) => Promise<{ text(): string }>;

async function chdbQuery(): Promise<ChdbQuery> {
  const chdb = await import('chdb');
  return (query, params, options) => chdb.queryBindAsync(query, params, options);
}

async function jsonRows(query: ChdbQuery, sql: string, params: object): Promise<Array<Record<string, unknown>>> {
  const text = (await query(sql, params, { format: 'JSONEachRow' })).text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Parquet written by `ssf analytics export --table spans|logs|samples`: a
 * file, or a directory of parts (read in name order, which is time order).
 * Read with the embedded engine (chDB) on this machine; each row becomes the
 * span that writes it again (table-rows.ts). The rollups and the trace index
 * are derived tables: replay `spans` and `samples`, then `rebuild-rollups`.
 */
export function parquetInput(pathArg: string): ReplayInput {
  const root = resolve(pathArg);
  const paths = statSync(root).isDirectory()
    ? readdirSync(root)
        .filter((f) => f.endsWith('.parquet'))
        .sort()
        .map((f) => join(root, f))
    : [root];
  if (paths.length === 0) throw new JobInputError(`${root} holds no .parquet files`);
  return { identity: { source: 'parquet', files: paths.map(fileIdentity) }, open: () => openParquet(root, paths) };
}

async function openParquet(root: string, paths: string[]): Promise<ReplaySource> {
  const query = await chdbQuery();
  const files: ParquetFile[] = [];
  let total = 0;
  for (const path of paths) {
    let columns: string[];
    try {
      columns = (await jsonRows(query, 'DESCRIBE file({path:String}, Parquet)', { path })).map((c) => String(c['name']));
    } catch (err) {
      throw new JobInputError(`${path} is not readable Parquet: ${(err as Error).message.split('\n')[0]}`);
    }
    const kind = tableOfColumns(columns);
    if (!kind) {
      throw new JobInputError(
        `${path} is not an export of spans, logs or samples (its columns: ${columns.join(', ')}); rollups and the trace index are derived: replay spans and samples, then run rebuild-rollups`,
      );
    }
    const [counted] = await jsonRows(query, 'SELECT toString(count()) AS n FROM file({path:String}, Parquet)', { path });
    const rows = Number(counted?.['n'] ?? 0);
    files.push({ path, kind, rows, first: total, high: columns.includes('trace_id_high') });
    total += rows;
  }
  return {
    kind: 'protobuf',
    start: 0,
    end: total,
    unit: 'rows',
    describe: `${root} (${files.length} file${files.length === 1 ? '' : 's'}, ${total} rows of ${[...new Set(files.map((f) => f.kind))].join(', ')})`,
    async run(from, each, signal) {
      for (const file of files) {
        if (file.first + file.rows <= from) continue;
        // Rows in file order: one thread and the reader told to keep it, so OFFSET is stable.
        const sql = `SELECT ${READ_COLUMNS[file.kind]}${file.high ? TRACE_ID_HIGH_COLUMN : ''} FROM file({path:String}, Parquet) LIMIT {limit:UInt64} OFFSET {offset:UInt64}
SETTINGS max_threads = 1, input_format_parquet_preserve_order = 1, output_format_json_quote_64bit_integers = 1`;
        for (let offset = Math.max(from - file.first, 0); offset < file.rows; offset += PAGE_ROWS) {
          if (signal?.aborted) return;
          const rows = await jsonRows(query, sql, { path: file.path, limit: PAGE_ROWS, offset });
          for (const [i, row] of rows.entries()) {
            if (signal?.aborted) return;
            await each({ next: file.first + offset + i + 1, encoded: [encodeSpan(rowToSpan(file.kind, row))] });
          }
        }
      }
    },
  };
}
