/**
 * The materializer's error catalog. Record-level codes label what goes to the
 * dead-letter topic (header `ssf-dlq-code`) and the
 * `ssf_materializer_dead_letter_total{code}` counter; step-level codes label
 * retries (`ssf_materializer_retries_total{step, code}`) and the log.
 * `retriable` says whether the same step, tried again, can succeed: the one
 * retry loop of the materializer reads it to choose its backoff. Callers
 * match `code`, never the message. docs/errors.md lists them all.
 */
export const MaterializerErrors = {
  MAT_ERR_UNDECODABLE: {
    retriable: false,
    text: 'a record that is not a readable SSFBatch (or SSFSpan), or one span of a batch that is not protobuf; it goes to the dead-letter topic',
  },
  MAT_ERR_INVALID_SPAN: {
    retriable: false,
    text: 'a span that fails validation (SSF_* code in the reason); it goes alone to the dead-letter topic, the other spans of its record are kept',
  },
  MAT_ERR_UNKNOWN_FORMAT: { retriable: false, text: 'the record has an ssf-format header this materializer does not know; it goes to the dead-letter topic' },
  MAT_ERR_INSERT_FAILED: {
    retriable: true,
    text: 'ClickHouse did not acknowledge an insert (unreachable, timeout, overloaded); retried with the same deduplication token',
  },
  MAT_ERR_INSERT_REJECTED: {
    retriable: false,
    text: 'ClickHouse refused an insert (schema or data error); retried slowly with the same token, the partition waits for an operator',
  },
  MAT_ERR_DLQ_WRITE_FAILED: { retriable: true, text: 'the dead-letter topic did not acknowledge; retried before any offset is committed' },
  MAT_ERR_COMMIT_FAILED: { retriable: true, text: 'an offset commit was not acknowledged (coordinator unavailable, or the consumer is stopping)' },
  MAT_ERR_FENCED: {
    retriable: false,
    text: 'the consumer group rebalanced while a batch was in flight: the batch is abandoned before its next step; the partition is read again from its committed offset',
  },
  MAT_ERR_CONSUMER_CRASHED: { retriable: false, text: 'kafkajs stopped the consumer and will not restart it; the process exits so that it is restarted' },
} as const;

export type MaterializerErrorCode = keyof typeof MaterializerErrors;

/** An error of the materializer, with its stable code and whether a retry can fix it. */
export class MaterializerError extends Error {
  readonly code: MaterializerErrorCode;
  readonly retriable: boolean;

  constructor(code: MaterializerErrorCode, reason?: string, options?: ErrorOptions) {
    super(`${code}: ${reason ?? MaterializerErrors[code].text}`, options);
    this.name = 'MaterializerError';
    this.code = code;
    this.retriable = MaterializerErrors[code].retriable;
  }
}

// ClickHouse exception types that no retry fixes: the statement or the data is
// wrong (a bug, or a schema that does not match this version).
const REJECTED_TYPES =
  /^(CANNOT_PARSE|CANNOT_READ|CANNOT_INSERT|TYPE_MISMATCH|INCORRECT_DATA|INCORRECT_NUMBER_OF_COLUMNS|VALUE_IS_OUT_OF_RANGE|ILLEGAL_|NO_SUCH_COLUMN|THERE_IS_NO_COLUMN|UNKNOWN_IDENTIFIER|SYNTAX_ERROR|TOO_LARGE_STRING_SIZE|ACCESS_DENIED|READONLY|AUTHENTICATION_FAILED|REQUIRED_PASSWORD)/;

/**
 * A failed insert as a MaterializerError: MAT_ERR_INSERT_REJECTED when
 * ClickHouse answered with an exception no retry fixes, MAT_ERR_INSERT_FAILED
 * otherwise (network errors, timeouts, overload, a table still being created).
 */
export function insertError(err: unknown): MaterializerError {
  if (err instanceof MaterializerError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const type = typeof err === 'object' && err !== null && 'type' in err && typeof err.type === 'string' ? err.type : '';
  return new MaterializerError(REJECTED_TYPES.test(type) ? 'MAT_ERR_INSERT_REJECTED' : 'MAT_ERR_INSERT_FAILED', message, { cause: err });
}
