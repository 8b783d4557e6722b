import { parseClickHouseError } from '../src/clickhouse/clickhouse-error.js';
import { defineErrors } from '../src/errors/define-errors.js';
import type { SsfError } from '../src/errors/define-errors.js';

/**
 * The query API's error catalog. Every refusal is answered as
 * `{ "error": { "code", "reason" } }` with the status below; docs/errors.md
 * lists them all. Nothing the API refuses has reached ClickHouse as a
 * statement that could change anything.
 */
export const QueryErrors = defineErrors('QUERY', {
  QUERY_ERR_BAD_REQUEST: { status: 400, retriable: false, text: "the request does not match the endpoint's parameters (the reason names the field)" },
  QUERY_ERR_SYNTAX: { status: 400, retriable: false, text: 'ClickHouse could not parse the SQL' },
  QUERY_ERR_MULTI_STATEMENT: { status: 400, retriable: false, text: 'one statement per request: the SQL holds more than one' },
  QUERY_ERR_NOT_SELECT: { status: 403, retriable: false, text: 'only reading statements are allowed: SELECT (with WITH, UNION, INTERSECT, EXCEPT)' },
  QUERY_ERR_SETTINGS: { status: 403, retriable: false, text: 'settings cannot be given in the SQL (no SETTINGS clause); the API sets the limits' },
  QUERY_ERR_FORMAT_CLAUSE: { status: 400, retriable: false, text: 'no FORMAT or INTO OUTFILE in the SQL: ask for a format with the "format" field' },
  QUERY_ERR_TABLE: {
    status: 403,
    retriable: false,
    text: 'only the public tables of the ssf database can be read (docs/tables.md); no system tables, no other database',
  },
  QUERY_ERR_VIRTUAL_COLUMN: {
    status: 403,
    retriable: false,
    text: "virtual columns of the tables (_part, _part_offset, _block_number, ...) describe storage shared by every tenant's rows and are refused",
  },
  QUERY_ERR_TABLE_FUNCTION: {
    status: 403,
    retriable: false,
    text: 'table functions reach outside the ssf tables (file, url, remote, s3, ...) and are refused; numbers(), numbers_mt(), values(), generateSeries() and zeros() are allowed',
  },
  QUERY_ERR_FUNCTION: {
    status: 403,
    retriable: false,
    text: 'this function reads files, the network, dictionaries, server settings or sleeps, and is refused',
  },
  QUERY_ERR_PARAMS: { status: 400, retriable: false, text: 'a query parameter is missing, unused by name or not of its declared type' },
  QUERY_ERR_INVALID: {
    status: 400,
    retriable: false,
    text: 'ClickHouse refused the query (unknown column or function, wrong types, ...); the reason is its message',
  },
  QUERY_ERR_TIMEOUT: { status: 422, retriable: false, text: 'the query ran longer than query.maxExecutionTimeS and was stopped' },
  QUERY_ERR_TOO_LARGE: {
    status: 422,
    retriable: false,
    text: 'the result is larger than query.maxResultRows or query.maxResultBytes, or a buffered answer (json) than query.maxBufferedBytes; aggregate, filter or add a LIMIT',
  },
  QUERY_ERR_MEMORY: { status: 422, retriable: false, text: 'the query needed more memory than query.maxMemoryUsage' },
  QUERY_ERR_FORBIDDEN: { status: 403, retriable: false, text: "ClickHouse itself refused the query for the API's read-only user" },
  QUERY_ERR_NOT_FOUND: { status: 404, retriable: false, text: 'nothing with this id in the time range that was searched' },
  QUERY_ERR_TOO_MANY_QUERIES: {
    status: 429,
    retriable: true,
    retryAfterSeconds: 1,
    text: 'this tenant already has query.maxConcurrentPerTenant queries running; retry after Retry-After seconds',
  },
  QUERY_ERR_SOURCE_TOO_MANY_CONNECTIONS: {
    status: 0,
    retriable: true,
    text: 'a connection was closed as it was accepted: its source address already had gateway.maxConnectionsPerSource on the query API listener (counted, never answered)',
  },
  QUERY_ERR_UNAVAILABLE: { status: 503, retriable: true, retryAfterSeconds: 5, text: 'ClickHouse cannot be reached now; retry after Retry-After seconds' },
});

export type QueryErrorCode = (typeof QueryErrors.codes)[number];

/** An error of the query API's catalog: the HTTP layer answers its status and `{ error: { code, reason } }`. */
export type QueryError = SsfError<QueryErrorCode>;

/** A refusal of the query API; `reason` defaults to the entry's text. */
export function queryError(code: QueryErrorCode, reason?: string): QueryError {
  return QueryErrors.error(code, reason);
}

// ClickHouse error codes (src/Common/ErrorCodes.cpp) and what the API answers for them.
const BY_CLICKHOUSE_CODE: Record<string, QueryErrorCode> = {
  '62': 'QUERY_ERR_SYNTAX', // SYNTAX_ERROR
  '159': 'QUERY_ERR_TIMEOUT', // TIMEOUT_EXCEEDED
  '160': 'QUERY_ERR_TIMEOUT', // TOO_SLOW
  '396': 'QUERY_ERR_TOO_LARGE', // TOO_MANY_ROWS_OR_BYTES
  '158': 'QUERY_ERR_TOO_LARGE', // TOO_MANY_ROWS
  '241': 'QUERY_ERR_MEMORY', // MEMORY_LIMIT_EXCEEDED
  '164': 'QUERY_ERR_FORBIDDEN', // READONLY
  '497': 'QUERY_ERR_FORBIDDEN', // ACCESS_DENIED
  '452': 'QUERY_ERR_FORBIDDEN', // SETTING_CONSTRAINT_VIOLATION
  '456': 'QUERY_ERR_PARAMS', // UNKNOWN_QUERY_PARAMETER
  '457': 'QUERY_ERR_PARAMS', // BAD_QUERY_PARAMETER
  '60': 'QUERY_ERR_TABLE', // UNKNOWN_TABLE
  '81': 'QUERY_ERR_TABLE', // UNKNOWN_DATABASE
};

/** Added to ClickHouse's refusal of a DateTime or DateTime64 parameter's value (docs/query/sql.md). */
export const DATETIME_PARAM_HINT =
  "A DateTime64 parameter's value is written \"2026-11-21 14:00:00.123456789\" (no T, no Z; type {t:DateTime64(9, 'UTC')} for UTC); for RFC 3339 give a String and read it with parseDateTime64BestEffort({t:String}, 9).";

/**
 * ClickHouse's "Field value too long" explained: the SQL of POST /v1/sql is
 * checked as a query parameter (sql-guard.ts), and every value of `params`
 * is one.
 */
export const TOO_LONG_PARAM =
  "sql or params: longer than ClickHouse takes as a query parameter (http_max_field_value_size: 131,072 bytes once URL-encoded, by default). The SQL of POST /v1/sql is checked as one, and each value of params is one; a letter, digit or space is one byte there, anything else three (UTF-8 bytes, percent-encoded), so the SQL's own limit of 262,144 characters is not the one reached. Shorten the statement (a long IN list is better a parameter: {ids:Array(UInt64)} with its values in params, if each value is short).";

/** Any error from ClickHouse (server or embedded) as the refusal the client gets. */
export function queryErrorOf(err: unknown): QueryError {
  if (QueryErrors.has(err)) return err;
  const failure = parseClickHouseError(err);
  const { message } = failure;
  // Query parameters travel in the URL; ClickHouse refuses a value longer than http_max_field_value_size there.
  if (/HTML Form Exception: Field value too long/.test(message)) return queryError('QUERY_ERR_BAD_REQUEST', TOO_LONG_PARAM);
  if (failure.code !== undefined) {
    const reason = message.replace(/\s+/g, ' ').trim().slice(0, 2_000);
    if (/Multi-statements are not allowed/.test(message)) return queryError('QUERY_ERR_MULTI_STATEMENT', reason);
    // RFC 3339 (what every other endpoint takes) is not a DateTime parameter's text: say what is.
    if (String(failure.code) === '457' && /cannot be parsed as DateTime/.test(message))
      return queryError('QUERY_ERR_PARAMS', `${reason} ${DATETIME_PARAM_HINT}`);
    return queryError(BY_CLICKHOUSE_CODE[String(failure.code)] ?? 'QUERY_ERR_INVALID', reason);
  }
  if (failure.unreachable) return queryError('QUERY_ERR_UNAVAILABLE', `ClickHouse cannot be reached: ${message}`);
  if (/Syntax error|SYNTAX_ERROR/.test(message)) return queryError('QUERY_ERR_SYNTAX', message.slice(0, 2_000));
  if (/Multi-statements/.test(message)) return queryError('QUERY_ERR_MULTI_STATEMENT', message.slice(0, 2_000));
  return queryError('QUERY_ERR_INVALID', message.slice(0, 2_000));
}
