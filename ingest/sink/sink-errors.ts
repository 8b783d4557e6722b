import { defineErrors } from '../../src/errors/define-errors.js';
import type { SsfError } from '../../src/errors/define-errors.js';

/**
 * The sinks' own refusal. The gateway answers it as GW_ERR_UNAVAILABLE (503,
 * same reason and Retry-After); UDP and stream listeners count it as
 * `unavailable`. A sink knows nothing of HTTP.
 */
export const SinkErrors = defineErrors('SINK', {
  SINK_ERR_UNAVAILABLE: {
    status: 503,
    retriable: true,
    text: 'the sink cannot take spans now (Kafka or ClickHouse slow or down, buffer full, shutting down)',
  },
});

export type SinkError = SsfError<'SINK_ERR_UNAVAILABLE'>;

/** SINK_ERR_UNAVAILABLE with its reason and how many seconds a client should wait. */
export function sinkError(reason: string, retryAfterSeconds?: number): SinkError {
  return SinkErrors.error('SINK_ERR_UNAVAILABLE', reason, { retryAfterSeconds });
}
