/**
 * The query API's error catalog. Every refusal is answered as
 * `{ "error": { "code", "reason" } }` with the status below; docs/errors.md
 * lists them all. Nothing the API refuses has reached ClickHouse as a
 * statement that could change anything.
 */
export const QueryErrors = {
  QUERY_ERR_BAD_REQUEST: { status: 400, text: "the request does not match the endpoint's parameters (the reason names the field)" },
  QUERY_ERR_SYNTAX: { status: 400, text: 'ClickHouse could not parse the SQL' },
  QUERY_ERR_MULTI_STATEMENT: { status: 400, text: 'one statement per request: the SQL holds more than one' },
  QUERY_ERR_NOT_SELECT: { status: 403, text: 'only reading statements are allowed: SELECT (with WITH, UNION, INTERSECT, EXCEPT)' },
  QUERY_ERR_SETTINGS: { status: 403, text: 'settings cannot be given in the SQL (no SETTINGS clause); the API sets the limits' },
  QUERY_ERR_FORMAT_CLAUSE: { status: 400, text: 'no FORMAT or INTO OUTFILE in the SQL: ask for a format with the "format" field' },
  QUERY_ERR_TABLE: { status: 403, text: 'only the public tables of the ssf database can be read (docs/tables.md); no system tables, no other database' },
  QUERY_ERR_TABLE_FUNCTION: {
    status: 403,
    text: 'table functions reach outside the ssf tables (file, url, remote, s3, ...) and are refused; numbers(), values() and generateSeries() are allowed',
  },
  QUERY_ERR_FUNCTION: { status: 403, text: 'this function reads files, the network, dictionaries, server settings or sleeps, and is refused' },
  QUERY_ERR_PARAMS: { status: 400, text: 'a query parameter is missing, unused by name or not of its declared type' },
  QUERY_ERR_INVALID: { status: 400, text: 'ClickHouse refused the query (unknown column or function, wrong types, ...); the reason is its message' },
  QUERY_ERR_TIMEOUT: { status: 422, text: 'the query ran longer than query.maxExecutionTimeS and was stopped' },
  QUERY_ERR_TOO_LARGE: { status: 422, text: 'the result is larger than query.maxResultRows or query.maxResultBytes; aggregate, filter or add a LIMIT' },
  QUERY_ERR_MEMORY: { status: 422, text: 'the query needed more memory than query.maxMemoryUsage' },
  QUERY_ERR_FORBIDDEN: { status: 403, text: "ClickHouse itself refused the query for the API's read-only user" },
  QUERY_ERR_NOT_FOUND: { status: 404, text: 'nothing with this id in the time range that was searched' },
  QUERY_ERR_TOO_MANY_QUERIES: {
    status: 429,
    text: 'this tenant already has query.maxConcurrentPerTenant queries running; retry after Retry-After seconds',
  },
  QUERY_ERR_UNAVAILABLE: { status: 503, text: 'ClickHouse cannot be reached now; retry after Retry-After seconds' },
} as const;

export type QueryErrorCode = keyof typeof QueryErrors;

/** A refusal the HTTP layer turns into its status and JSON body (an HttpRefusal). */
export class QueryError extends Error {
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly code: QueryErrorCode,
    readonly reason: string = QueryErrors[code].text,
  ) {
    super(`${code}: ${reason}`);
    this.name = 'QueryError';
    this.status = QueryErrors[code].status;
    this.retryAfterSeconds = code === 'QUERY_ERR_UNAVAILABLE' ? 5 : code === 'QUERY_ERR_TOO_MANY_QUERIES' ? 1 : undefined;
  }
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

/** Any error from ClickHouse (server or embedded) as the refusal the client gets. */
export function queryErrorOf(err: unknown): QueryError {
  if (err instanceof QueryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  const chCode = typeof code === 'string' && /^\d+$/.test(code) ? code : /Code: (\d+)\./.exec(message)?.[1];
  if (chCode !== undefined) {
    const reason = message.replace(/\s+/g, ' ').trim().slice(0, 2_000);
    if (/Multi-statements are not allowed/.test(message)) return new QueryError('QUERY_ERR_MULTI_STATEMENT', reason);
    return new QueryError(BY_CLICKHOUSE_CODE[chCode] ?? 'QUERY_ERR_INVALID', reason);
  }
  // The client raises ClickHouse's own errors with a numeric code; anything else is the connection.
  if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|Timeout error|EPIPE|closed/i.test(message))
    return new QueryError('QUERY_ERR_UNAVAILABLE', `ClickHouse cannot be reached: ${message}`);
  if (/Syntax error|SYNTAX_ERROR/.test(message)) return new QueryError('QUERY_ERR_SYNTAX', message.slice(0, 2_000));
  if (/Multi-statements/.test(message)) return new QueryError('QUERY_ERR_MULTI_STATEMENT', message.slice(0, 2_000));
  return new QueryError('QUERY_ERR_INVALID', message.slice(0, 2_000));
}
