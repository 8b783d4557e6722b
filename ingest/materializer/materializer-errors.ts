import { parseClickHouseError } from '../../src/clickhouse/clickhouse-error.js';
import { defineErrors } from '../../src/errors/define-errors.js';
import type { SsfError } from '../../src/errors/define-errors.js';

/**
 * The materializer's error catalog. Record-level codes label what goes to the
 * dead-letter topic (header `ssf-dlq-code`) and the
 * `ssf_materializer_dead_letter_total{code}` counter; step-level codes label
 * retries (`ssf_materializer_retries_total{step, code}`) and the log.
 * `retriable` says whether the same step, tried again, can succeed: the one
 * retry loop of the materializer reads it to choose its backoff. Callers
 * match `code`, never the message. docs/errors.md lists them all.
 */
export const MaterializerErrors = defineErrors('MAT', {
  MAT_ERR_UNDECODABLE: {
    status: 0,
    retriable: false,
    text: 'a record that is not a readable SSFBatch (or SSFSpan), or one span of a batch that is not protobuf; it goes to the dead-letter topic',
  },
  MAT_ERR_INVALID_SPAN: {
    status: 0,
    retriable: false,
    text: 'a span that fails validation (SSF_* code in the reason); it goes alone to the dead-letter topic, the other spans of its record are kept',
  },
  MAT_ERR_UNKNOWN_FORMAT: {
    status: 0,
    retriable: false,
    text: 'the record has an ssf-format header this materializer does not know; it goes to the dead-letter topic',
  },
  MAT_ERR_INSERT_FAILED: {
    status: 0,
    retriable: true,
    text: 'ClickHouse did not acknowledge an insert (unreachable, timeout, overloaded); retried with the same deduplication token',
  },
  MAT_ERR_INSERT_REJECTED: {
    status: 0,
    retriable: false,
    text: 'ClickHouse refused an insert (schema or data error); retried slowly with the same token, the partition waits for an operator',
  },
  MAT_ERR_DLQ_WRITE_FAILED: { status: 0, retriable: true, text: 'the dead-letter topic did not acknowledge; retried before any offset is committed' },
  MAT_ERR_COMMIT_FAILED: { status: 0, retriable: true, text: 'an offset commit was not acknowledged (coordinator unavailable, or the consumer is stopping)' },
  MAT_ERR_FENCED: {
    status: 0,
    retriable: false,
    text: 'the consumer group rebalanced while a batch was in flight: the batch is abandoned before its next step; the partition is read again from its committed offset',
  },
  MAT_ERR_CONSUMER_CRASHED: {
    status: 0,
    retriable: false,
    text: 'kafkajs stopped the consumer and will not restart it; the process exits so that it is restarted',
  },
  MAT_ERR_CONSUMER_STALLED: {
    status: 0,
    retriable: true,
    text: "the Kafka consumer's fetch loop was silent for a minute with ClickHouse healthy; a new consumer replaces it (the replay is exact)",
  },
});

export type MaterializerErrorCode = (typeof MaterializerErrors.codes)[number];

/** An error of the materializer, with its stable code and whether a retry can fix it. */
export type MaterializerError = SsfError<MaterializerErrorCode>;

/** A MaterializerError; `reason` defaults to the entry's text. */
export function materializerError(code: MaterializerErrorCode, reason?: string, options?: { cause?: unknown }): MaterializerError {
  return MaterializerErrors.error(code, reason, options);
}

/**
 * A failed insert as a MaterializerError: MAT_ERR_INSERT_REJECTED when
 * ClickHouse answered with an exception no retry fixes
 * (parseClickHouseError), MAT_ERR_INSERT_FAILED otherwise (network errors,
 * timeouts, overload, a table still being created).
 */
export function insertError(err: unknown): MaterializerError {
  if (MaterializerErrors.has(err)) return err;
  const failure = parseClickHouseError(err);
  return materializerError(failure.retriable ? 'MAT_ERR_INSERT_FAILED' : 'MAT_ERR_INSERT_REJECTED', failure.message, { cause: err });
}
