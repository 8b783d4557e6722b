import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { SettingsMap } from '@clickhouse/client';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { ClickHouse } from '../src/clickhouse/create-client.js';
import { type Config, MAX_TIMER_MS } from '../src/config/config-schema.js';
import { queryError, queryErrorOf } from './query-errors.js';
import { queryScope } from './query-scope.js';

/** The tables a tenant may read, in the configured database (docs/tables.md). */
export const PUBLIC_TABLES = ['spans', 'trace_index', 'logs', 'samples', 'metrics_1m', 'metrics_1h'] as const;
export type PublicTable = (typeof PUBLIC_TABLES)[number];
/**
 * The OpenTelemetry-shaped views (migrations 0008 and 0017), readable through
 * the SQL API too. They have no tenant column of their own: a view reads only
 * public tables, and the tenant filter on those applies inside it.
 */
export const OTEL_VIEWS = ['otel_traces', 'otel_traces_trace_id_ts', 'otel_logs', 'otel_metrics_sum', 'otel_metrics_gauge', 'otel_metrics_histogram'] as const;

export type QueryParams = Record<string, unknown>;

/** Output formats of `POST /v1/sql` and the ClickHouse format each one is. */
export const SQL_FORMATS = {
  json: { clickhouse: 'JSON', contentType: 'application/json; charset=utf-8' },
  csv: { clickhouse: 'CSVWithNames', contentType: 'text/csv; charset=utf-8' },
  tsv: { clickhouse: 'TabSeparatedWithNames', contentType: 'text/tab-separated-values; charset=utf-8' },
  ndjson: { clickhouse: 'JSONEachRow', contentType: 'application/x-ndjson; charset=utf-8' },
  parquet: { clickhouse: 'Parquet', contentType: 'application/vnd.apache.parquet' },
} as const;
export type SqlFormat = keyof typeof SQL_FORMATS;

/** SQL string literal (ClickHouse escapes: backslash and quote). */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface QueryRunnerOptions {
  /**
   * The client `KILL QUERY` goes through: one whose user may see the reading
   * user's queries in `system.processes` and stop them (the writer). The
   * read-only user may not (it reads the pipeline's database only), so a
   * kill sent as that user fails. Default: the reading client.
   */
  killer?: ClickHouse;
  /** Told of each `KILL QUERY` that failed: the query may still run in ClickHouse. */
  onKillFailed?: (queryId: string, err: unknown) => void;
}

/** What one query is sent with: its id and the signal that gives up on it. */
interface QueryHandle {
  query_id: string;
  abort_signal: AbortSignal;
  clickhouse_settings: ClickHouseSettings;
}

/**
 * Every read the query API makes goes through here, for its own typed
 * endpoints and for users' SQL alike:
 * - the limits of `query.*` (time, result rows and bytes, memory, block size:
 *   `query.maxBlockSize` for users' SQL, `query.typedMaxBlockSize` for the
 *   API's own statements, read with `rows`), and
 * - the tenant filter: `additional_table_filters` makes ClickHouse add
 *   `tenant = '<tenant>'` to every read of every public table, wherever the
 *   table appears in the query (subqueries, joins, CTEs, scalar subqueries,
 *   either side of UNION, EXCEPT, INTERSECT).
 *   Endpoints write the predicate too (it is what the primary key uses);
 *   this is the guarantee that a forgotten one cannot leak rows.
 *
 * Both are request settings (`clickhouse_settings`, sent with the HTTP
 * request), never a SETTINGS clause in the text: ClickHouse sets them on the
 * query's context before it parses the statement, so they hold for every
 * SELECT of it, whatever its shape. A trailing SETTINGS clause is parsed as
 * part of the last SELECT only (`A EXCEPT B SETTINGS ...` sets B's), and
 * what reaches the rest depends on the ClickHouse version. A user's
 * statement runs as `SELECT * FROM (<statement>)`: ClickHouse checks
 * `max_result_rows/bytes` on the result of a top-level SELECT only, not of
 * a top-level UNION, EXCEPT or INTERSECT (tested in
 * test/query/sql-security.int.test.ts). The API's own statements (`rows`)
 * are sent as they are: each part of their `UNION ALL`s has a `LIMIT` of its
 * own, and the wrapping costs a trace fetch 1-2 ms of planning.
 *
 * Each query is its own HTTP request with its own `query_id`. ClickHouse
 * stops it at `max_execution_time` (checked between blocks, hence
 * `max_block_size`) and when its client goes away
 * (`cancel_http_readonly_queries_on_client_close`); the runner does not
 * count on either alone: at the limit plus `query.cancelGraceMs`, or when the
 * API's own client has gone (query-scope.ts), it aborts the request and sends
 * `KILL QUERY` for the id, and the request's tenant slot is held until that
 * answered.
 */
export class QueryRunner {
  readonly database: string;

  constructor(
    readonly ch: ClickHouse,
    private readonly limits: Config['query'],
    private readonly options: QueryRunnerOptions = {},
  ) {
    this.database = ch.database;
  }

  /** `db.table` for SQL text. */
  table(name: PublicTable): string {
    return `${this.database}.${name}`;
  }

  /**
   * The request settings every query of `tenant` runs with. `blockSize`:
   * `query.maxBlockSize` (users' SQL: it bounds how far a query that is
   * costly per row runs past its time limit) unless given.
   */
  settings(tenant: string, blockSize = this.limits.maxBlockSize): ClickHouseSettings {
    // SettingsMap writes each key and value between single quotes as given: both are escaped here.
    const inner = (text: string): string => sqlString(text).slice(1, -1);
    const filter = inner(`tenant = ${sqlString(tenant)}`);
    const filters = Object.fromEntries(PUBLIC_TABLES.map((t) => [inner(`${this.database}.${t}`), filter]));
    return {
      max_execution_time: this.limits.maxExecutionTimeS,
      timeout_overflow_mode: 'throw',
      max_block_size: String(blockSize),
      max_result_rows: String(this.limits.maxResultRows),
      max_result_bytes: String(this.limits.maxResultBytes),
      result_overflow_mode: 'throw',
      max_memory_usage: String(this.limits.maxMemoryUsage),
      // JSON's `statistics` counts rows read before the tenant filter: every
      // tenant's rows of a granule (8,192 rows, often a whole insert) the
      // caller's rows share. Not written, so nobody learns another's volume.
      output_format_write_statistics: 0,
      additional_table_filters: SettingsMap.from(filters),
    };
  }

  /** `sql` (one SELECT without SETTINGS or FORMAT) as the top-level SELECT that runs it. */
  bound(sql: string): string {
    return `SELECT *\nFROM (\n${sql.trimEnd()}\n)`;
  }

  /**
   * Rows as objects (64-bit integers as strings). Only for the API's own
   * statements (typed endpoints, jobs), never a user's SQL: they run in
   * blocks of `query.typedMaxBlockSize` rows, their cost per row being ours,
   * and unwrapped: every part of them has its own LIMIT. `planning`: settings
   * of this one statement that change how ClickHouse plans it, never what it
   * answers (e.g. fetch-trace.ts TRACE_PLANNING); the limits and the tenant
   * filter are set after them, so they cannot be undone by them.
   *
   * The rows are held in this process, so their text is bounded as `text`'s
   * is: at most `query.maxBufferedBytes` (UTF-16 units of the JSON lines),
   * then the reading stops, the request is closed and the answer is
   * QUERY_ERR_TOO_LARGE. `max_result_bytes` alone let a tenant's page of 60
   * log bodies of 1 MB of control characters (6 bytes each in JSON) take
   * 1.7 GB of the API's memory, and one of 100 fail in JSON.stringify.
   */
  async rows<T>(sql: string, tenant: string, params: QueryParams = {}, planning: ClickHouseSettings = {}): Promise<T[]> {
    const { rows, cut } = await this.rowsWithin<T>(sql, tenant, params, planning);
    if (cut) {
      throw queryError(
        'QUERY_ERR_TOO_LARGE',
        `the rows read for this answer passed query.maxBufferedBytes (${this.limits.maxBufferedBytes} bytes), the most the API holds in memory for one answer: ask fewer (limit) or a narrower range`,
      );
    }
    return rows;
  }

  /**
   * As `rows`, but past `query.maxBufferedBytes` the rows read so far are
   * kept and `cut` is true (the request is closed): for an answer that says
   * it was truncated rather than refused (a trace by id).
   */
  async rowsWithin<T>(sql: string, tenant: string, params: QueryParams = {}, planning: ClickHouseSettings = {}): Promise<{ rows: T[]; cut: boolean }> {
    return this.run(async (h) => {
      const result = await this.ch.client.query({
        query: sql,
        query_params: params,
        format: 'JSONEachRow',
        ...h,
        clickhouse_settings: { ...planning, ...h.clickhouse_settings, ...this.settings(tenant, this.limits.typedMaxBlockSize) },
      });
      const cap = this.limits.maxBufferedBytes;
      const rows: T[] = [];
      let held = 0;
      // Leaving the loop early destroys the stream, which closes the request.
      for await (const batch of result.stream<T>()) {
        for (const row of batch) {
          held += row.text.length;
          if (held > cap) return { rows, cut: true };
          rows.push(row.json());
        }
      }
      return { rows, cut: false };
    });
  }

  /**
   * The raw text of a query in ClickHouse format `format` (for EXPLAIN and for
   * buffered answers: the `json` format of POST /v1/sql), held whole in this
   * process: at most `query.maxBufferedBytes` of it. ClickHouse's
   * max_result_bytes counts column bytes, not this text (JSON writes each
   * column's name on every row and a control character as 6 bytes, so 250 MB
   * of columns can be 1.5 GB of text); past the cap the reading stops, the
   * request to ClickHouse is closed and the answer is QUERY_ERR_TOO_LARGE.
   */
  async text(sql: string, tenant: string, params: QueryParams = {}, format = 'TabSeparatedRaw'): Promise<string> {
    return this.run(async (h) => {
      // wait_end_of_query: a server answers an error found late (too many rows)
      // with its HTTP status, not after a 200 has begun.
      const result = await this.ch.client.exec({
        query: `${this.bound(sql)}\nFORMAT ${format}`,
        query_params: params,
        ...h,
        clickhouse_settings: { ...h.clickhouse_settings, ...this.settings(tenant), wait_end_of_query: 1 },
      });
      const cap = this.limits.maxBufferedBytes;
      const decoder = new TextDecoder();
      let text = '';
      let bytes = 0;
      // Leaving the loop by the throw destroys the stream, which closes the request.
      for await (const chunk of result.stream as AsyncIterable<Uint8Array>) {
        bytes += chunk.byteLength;
        if (bytes > cap) {
          throw queryError(
            'QUERY_ERR_TOO_LARGE',
            `the answer's text passed query.maxBufferedBytes (${cap} bytes), the most the API holds in memory for one answer: aggregate, filter or add a LIMIT, or ask a streamed format (csv, tsv, ndjson, parquet)`,
          );
        }
        text += decoder.decode(chunk, { stream: true });
      }
      return text + decoder.decode();
    });
  }

  /** The answer as a byte stream in `format` (CSV, TSV, NDJSON, Parquet). Errors before the first byte throw. */
  async stream(sql: string, tenant: string, params: QueryParams, format: SqlFormat): Promise<Readable> {
    return this.run(
      async (h) => {
        const result = await this.ch.client.exec({
          query: `${this.bound(sql)}\nFORMAT ${SQL_FORMATS[format].clickhouse}`,
          query_params: params,
          ...h,
          clickhouse_settings: { ...h.clickhouse_settings, ...this.settings(tenant) },
        });
        return result.stream;
      },
      { streamed: true },
    );
  }

  /**
   * Statements the API runs for itself that read no table (formatQuery,
   * EXPLAIN AST), sent exactly as given: no FORMAT clause is appended, so
   * the parser sees the statement alone.
   */
  async internal(sql: string, params: QueryParams = {}): Promise<string> {
    return this.run(async (h) => {
      const result = await this.ch.client.exec({
        query: sql,
        query_params: params,
        ...h,
        clickhouse_settings: { ...h.clickhouse_settings, default_format: 'TabSeparatedRaw' },
      });
      const chunks: Buffer[] = [];
      for await (const chunk of result.stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
      return Buffer.concat(chunks).toString('utf8');
    });
  }

  /**
   * Runs one query with an id, a deadline and the request's abort signal. A
   * streamed answer lives past this call: its deadline holds until the stream
   * ends, and a stream cut by the deadline is destroyed (the response then
   * ends without its terminator, as every failed stream does).
   */
  private async run<T>(send: (h: QueryHandle) => Promise<T>, options: { streamed?: boolean } = {}): Promise<T> {
    const scope = queryScope.getStore();
    const queryId = randomUUID();
    const controller = new AbortController();
    let timedOut = false;
    let settle: () => void = () => {};
    const gone = new Promise<void>((resolve) => {
      settle = resolve;
    });
    scope?.queries.add(gone);
    const giveUp = (): void => controller.abort();
    const timer = setTimeout(
      () => {
        timedOut = true;
        giveUp();
      },
      Math.min(this.limits.maxExecutionTimeS * 1000 + this.limits.cancelGraceMs, MAX_TIMER_MS),
    );
    scope?.signal.addEventListener('abort', giveUp, { once: true });
    let stream: Readable | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      scope?.signal.removeEventListener('abort', giveUp);
      if (controller.signal.aborted) void this.kill(queryId).finally(settle);
      else settle();
    };
    controller.signal.addEventListener('abort', () => stream?.destroy(queryError('QUERY_ERR_TIMEOUT')), { once: true });
    try {
      const result = await send({
        query_id: queryId,
        abort_signal: controller.signal,
        clickhouse_settings: { cancel_http_readonly_queries_on_client_close: 1 },
      });
      if (options.streamed === true && isReadable(result)) {
        stream = result;
        result.once('close', finish);
      } else {
        finish();
      }
      return result;
    } catch (err) {
      finish();
      if (timedOut) {
        throw queryError('QUERY_ERR_TIMEOUT', `the query ran past query.maxExecutionTimeS (${this.limits.maxExecutionTimeS} s) and was stopped`);
      }
      throw queryErrorOf(err);
    }
  }

  /**
   * KILL QUERY for an id given up on, through the killer client; resolves once
   * ClickHouse no longer runs it (SYNC), or once the kill failed, which is
   * told to `onKillFailed` (counted and logged by the query API). A query
   * that had already ended is no failure: KILL answers with no rows.
   */
  private async kill(queryId: string): Promise<void> {
    try {
      await (this.options.killer ?? this.ch).client.command({
        query: 'KILL QUERY WHERE query_id = {id:String} SYNC',
        query_params: { id: queryId },
      });
    } catch (err) {
      this.options.onKillFailed?.(queryId, err);
    }
  }
}

function isReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).once === 'function' && typeof (value as Readable).destroy === 'function';
}
