/*
 * The one reading of a ClickHouse failure, for the query API (what to answer)
 * and the insert paths (whether to retry): the server (through
 * @clickhouse/client, which sets `code` and `type`) and the embedded engine
 * (whose messages read "Code: 62. DB::Exception: ... (SYNTAX_ERROR)") alike.
 */

export interface ClickHouseFailure {
  /** ClickHouse's error number (src/Common/ErrorCodes.cpp) when ClickHouse answered with an exception. */
  code: number | undefined;
  /** Its name (`SYNTAX_ERROR`), '' when unknown. */
  name: string;
  /** The error's message as thrown. */
  message: string;
  /** ClickHouse did not answer: the connection was refused, reset, closed or timed out. */
  unreachable: boolean;
  /** Whether the same statement, sent again later, can succeed. */
  retriable: boolean;
}

// Exception names no retry fixes: the statement or the data is wrong (a bug,
// a user's mistake, or a schema that does not match this version), or the
// user may not do it.
const PERMANENT =
  /^(CANNOT_PARSE|CANNOT_READ|CANNOT_INSERT|TYPE_MISMATCH|INCORRECT_DATA|INCORRECT_NUMBER_OF_COLUMNS|VALUE_IS_OUT_OF_RANGE|ILLEGAL_|NO_SUCH_COLUMN|THERE_IS_NO_COLUMN|UNKNOWN_IDENTIFIER|SYNTAX_ERROR|TOO_LARGE_STRING_SIZE|ACCESS_DENIED|READONLY|AUTHENTICATION_FAILED|REQUIRED_PASSWORD)/;

const UNREACHABLE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|Timeout error|EPIPE|closed/i;

/** Any error thrown by a ClickHouse client call, read once. */
export function parseClickHouseError(err: unknown): ClickHouseFailure {
  const message = err instanceof Error ? err.message : String(err);
  const fields = typeof err === 'object' && err !== null ? (err as { code?: unknown; type?: unknown }) : {};
  const numeric = typeof fields.code === 'string' && /^\d+$/.test(fields.code) ? fields.code : /Code: (\d+)\./.exec(message)?.[1];
  const code = numeric === undefined ? undefined : Number(numeric);
  const name =
    typeof fields.type === 'string' && fields.type !== '' ? fields.type : (/\(([A-Z][A-Z0-9_]+)\)(?: \(version [^)]*\))?\.?\s*$/.exec(message)?.[1] ?? '');
  // The client raises ClickHouse's own errors with a numeric code; anything else is the connection.
  const unreachable = code === undefined && UNREACHABLE.test(message);
  return { code, name, message, unreachable, retriable: !PERMANENT.test(name) };
}
