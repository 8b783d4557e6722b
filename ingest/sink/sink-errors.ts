import { defineErrors } from '../../src/errors/define-errors.js';
import type { SsfError } from '../../src/errors/define-errors.js';

/**
 * The sinks' own refusals. A sink knows nothing of HTTP: POST /v1/ssf
 * answers SINK_ERR_TOO_LARGE as GW_ERR_BATCH_TOO_LARGE (413) and the others
 * as GW_ERR_UNAVAILABLE (503, same reason and Retry-After); OTLP answers
 * them as OTLP_ERR_BATCH_TOO_LARGE (413), OTLP_ERR_THROTTLED (429) and
 * OTLP_ERR_UNAVAILABLE (503); UDP and stream listeners drop the spans.
 * Every input counts what it dropped by dropReason().
 */
export const SinkErrors = defineErrors('SINK', {
  SINK_ERR_UNAVAILABLE: {
    status: 503,
    retriable: true,
    text: 'the sink cannot take spans now (Kafka or ClickHouse slow or down, shutting down)',
  },
  SINK_ERR_FULL: {
    status: 503,
    retriable: true,
    text: 'the sink’s bounded buffer is too full to take these spans now (too much load); it empties as the backend acknowledges',
  },
  SINK_ERR_TOO_LARGE: {
    status: 413,
    retriable: false,
    text: 'the spans of one request are more than the sink’s whole buffer (kafka.bufferBytes, or the rows of the all-in-one writer): they can never be taken at once',
  },
});

export type SinkErrorCode = (typeof SinkErrors.codes)[number];
export type SinkError = SsfError<SinkErrorCode>;

/**
 * The `reason` of `ssf_gateway_dropped_total` for what a sink's publish()
 * refused: its buffer full (too much load) is `backpressure`, as when the
 * input saw it not accepting before publishing; over the whole buffer
 * `too_large`; anything else (Kafka or ClickHouse failed) `unavailable`.
 */
export function dropReason(err: unknown): 'backpressure' | 'too_large' | 'unavailable' {
  if (!SinkErrors.has(err)) return 'unavailable';
  return err.code === 'SINK_ERR_FULL' ? 'backpressure' : err.code === 'SINK_ERR_TOO_LARGE' ? 'too_large' : 'unavailable';
}

/** SINK_ERR_UNAVAILABLE with its reason and how many seconds a client should wait. */
export function sinkError(reason: string, retryAfterSeconds?: number): SinkError {
  return SinkErrors.error('SINK_ERR_UNAVAILABLE', reason, { retryAfterSeconds });
}

/** SINK_ERR_FULL: the buffer cannot take `size` more now, but could once it empties. */
export function sinkFull(reason: string): SinkError {
  return SinkErrors.error('SINK_ERR_FULL', reason, { retryAfterSeconds: 1 });
}

/** SINK_ERR_TOO_LARGE: `size` is more than the whole buffer (`limit`, in `unit`): no retry can fit it. */
export function sinkTooLarge(size: number, limit: number, unit: string, setting: string): SinkError {
  return SinkErrors.error(
    'SINK_ERR_TOO_LARGE',
    `the request's spans are ${size} ${unit}, more than the sink's whole buffer (${setting}: ${limit} ${unit}); send it in smaller requests`,
  );
}
