import type { Readable } from 'node:stream';
import type { ClickHouse } from '../src/clickhouse/create-client.js';
import type { Config } from '../src/config/config-schema.js';
import { queryErrorOf } from './query-errors.js';

/** The tables a tenant may read, in the configured database (docs/tables.md). */
export const PUBLIC_TABLES = ['spans', 'trace_index', 'logs', 'samples', 'metrics_1m', 'metrics_1h'] as const;
export type PublicTable = (typeof PUBLIC_TABLES)[number];
/**
 * The OpenTelemetry-shaped views (migration 0008), readable through the SQL
 * API too. They have no tenant column of their own: a view reads the public
 * tables, and the tenant filter on those applies inside it.
 */
export const OTEL_VIEWS = ['otel_traces', 'otel_logs', 'otel_metrics_sum', 'otel_metrics_gauge', 'otel_metrics_histogram'] as const;

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

/**
 * Every read the query API makes goes through here, for its own typed
 * endpoints and for users' SQL alike:
 * - the limits of `query.*` (time, result rows and bytes, memory), and
 * - the tenant filter: `additional_table_filters` makes ClickHouse add
 *   `tenant = '<tenant>'` to every read of every public table, wherever the
 *   table appears in the query (subqueries, joins, CTEs, scalar subqueries).
 *   Endpoints write the predicate too (it is what the primary key uses);
 *   this is the guarantee that a forgotten one cannot leak rows.
 *
 * Both go in a SETTINGS clause appended to the statement, never in the
 * client's settings: the embedded engine applies client settings with `SET`
 * on its one shared session, where they would outlive the query and reach
 * the ingest path (a tenant filter on a materialized view's source would
 * drop other tenants' rows).
 */
export class QueryRunner {
  readonly database: string;

  constructor(
    readonly ch: ClickHouse,
    private readonly limits: Config['query'],
  ) {
    this.database = ch.database;
  }

  /** `db.table` for SQL text. */
  table(name: PublicTable): string {
    return `${this.database}.${name}`;
  }

  /** The SETTINGS clause (without the keyword) every query of `tenant` runs with. */
  settings(tenant: string): string {
    const filter = sqlString(`tenant = ${sqlString(tenant)}`);
    const filters = PUBLIC_TABLES.map((t) => `${sqlString(`${this.database}.${t}`)}: ${filter}`).join(', ');
    return [
      `max_execution_time = ${this.limits.maxExecutionTimeS}`,
      `max_result_rows = ${this.limits.maxResultRows}`,
      `max_result_bytes = ${this.limits.maxResultBytes}`,
      `result_overflow_mode = 'throw'`,
      `max_memory_usage = ${this.limits.maxMemoryUsage}`,
      `additional_table_filters = {${filters}}`,
    ].join(', ');
  }

  /** `sql` (one SELECT without SETTINGS or FORMAT) with the tenant's settings appended. */
  bound(sql: string, tenant: string): string {
    return `${sql.trimEnd()}\nSETTINGS ${this.settings(tenant)}`;
  }

  /** Rows as objects (64-bit integers as strings). */
  async rows<T>(sql: string, tenant: string, params: QueryParams = {}): Promise<T[]> {
    try {
      const result = await this.ch.client.query({ query: this.bound(sql, tenant), query_params: params, format: 'JSONEachRow' });
      return await result.json<T>();
    } catch (err) {
      throw queryErrorOf(err);
    }
  }

  /** The raw text of a query in ClickHouse format `format` (for EXPLAIN and for buffered answers). */
  async text(sql: string, tenant: string, params: QueryParams = {}, format = 'TabSeparatedRaw'): Promise<string> {
    try {
      // wait_end_of_query: a server answers an error found late (too many rows)
      // with its HTTP status, not after a 200 has begun. The embedded engine ignores it.
      const result = await this.ch.client.query({
        query: this.bound(sql, tenant),
        query_params: params,
        format: format as 'TabSeparatedRaw',
        clickhouse_settings: { wait_end_of_query: 1 },
      });
      return await result.text();
    } catch (err) {
      throw queryErrorOf(err);
    }
  }

  /** The answer as a byte stream in `format` (CSV, TSV, NDJSON, Parquet). Errors before the first byte throw. */
  async stream(sql: string, tenant: string, params: QueryParams, format: SqlFormat): Promise<Readable> {
    try {
      const result = await this.ch.client.exec({ query: `${this.bound(sql, tenant)}\nFORMAT ${SQL_FORMATS[format].clickhouse}`, query_params: params });
      return result.stream;
    } catch (err) {
      throw queryErrorOf(err);
    }
  }

  /**
   * Statements the API runs for itself that read no table (formatQuery,
   * EXPLAIN AST), sent exactly as given: no FORMAT clause is appended, so
   * the parser sees the statement alone.
   */
  async internal(sql: string, params: QueryParams = {}): Promise<string> {
    try {
      const result = await this.ch.client.exec({ query: sql, query_params: params, clickhouse_settings: { default_format: 'TabSeparatedRaw' } });
      const chunks: Buffer[] = [];
      for await (const chunk of result.stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
      return Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      throw queryErrorOf(err);
    }
  }
}
