import { defineErrors } from '../../src/errors/define-errors.js';
import type { SsfError } from '../../src/errors/define-errors.js';

/**
 * The gateway's error catalog: what each protocol answers or counts for bad
 * input. HTTP answers carry `{ "error": { "code", "reason" } }` with the
 * status below; UDP and stream refusals are counted on /metrics under the
 * same code. docs/errors.md lists them all.
 */
export const GatewayErrors = defineErrors('GW', {
  GW_ERR_CONTENT_TYPE: {
    status: 415,
    retriable: false,
    text: 'unsupported Content-Type: use application/x-protobuf (SSFBatch), application/x-ssf-frames (Veneur framed stream) or application/json',
  },
  GW_ERR_CONTENT_ENCODING: { status: 415, retriable: false, text: 'unsupported Content-Encoding: use gzip (or x-gzip), deflate, zstd (Node >= 22.15) or none' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, retriable: false, text: 'the request body is larger than gateway.maxBodyBytes' },
  GW_ERR_DECOMPRESSED_TOO_LARGE: {
    status: 413,
    retriable: false,
    text: 'the body decompresses to more than gateway.maxDecompressedBytes (decompression stopped there)',
  },
  GW_ERR_DECOMPRESSION_FAILED: { status: 400, retriable: false, text: 'the body is not valid gzip/deflate/zstd data' },
  GW_ERR_BODY_MALFORMED: { status: 400, retriable: false, text: 'the body is not a valid SSF batch (see the SSF code in reason)' },
  GW_ERR_IDEMPOTENCY_KEY: {
    status: 400,
    retriable: false,
    text: 'the Idempotency-Key header must be 1 to 256 printable ASCII characters, without leading or trailing spaces',
  },
  GW_ERR_IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    retriable: false,
    text: 'this Idempotency-Key was sent by this tenant with a different body; a retry must send the same body, new data needs a new key',
  },
  GW_ERR_NO_VALID_SPANS: { status: 422, retriable: false, text: 'no span of the batch is valid; each one is listed in rejected' },
  GW_ERR_BATCH_TOO_LARGE: {
    status: 413,
    retriable: false,
    text: 'the batch’s valid spans are more than the sink’s whole buffer (kafka.bufferBytes, or the all-in-one writer’s rows): no retry can fit them; send smaller batches',
  },
  GW_ERR_UNAVAILABLE: {
    status: 503,
    retriable: true,
    text: 'the pipeline cannot take data now (Kafka or ClickHouse slow or down, buffer full); retry after Retry-After seconds',
  },
  GW_ERR_TENANT_RATE_LIMITED: {
    status: 429,
    retriable: true,
    text: 'this tenant is sending more than its ingest rate limit (gateway.tenantRateLimitBytes); retry after Retry-After seconds',
  },
  GW_ERR_BUSY: {
    status: 429,
    retriable: true,
    text: 'POST /v1/ssf already holds gateway.httpMaxInFlightBytes of request bodies (read, decompressed or being written); retry after Retry-After seconds',
  },
  GW_ERR_UDP_DROPPED: { status: 0, retriable: false, text: 'a UDP datagram was dropped because the pipeline could not take it (counted, never answered)' },
  GW_ERR_STATSD_AGGREGATE_FULL: {
    status: 0,
    retriable: false,
    text: 'a statsd line was dropped: its aggregation interval already holds gateway.statsdMaxSamples samples (counted, never answered)',
  },
  GW_ERR_STREAM_CLOSED: { status: 0, retriable: false, text: 'a framed stream connection was closed after a fatal framing error' },
  GW_ERR_STREAM_IDLE: { status: 0, retriable: false, text: 'a framed stream connection was closed after sending nothing for gateway.streamIdleTimeoutS' },
  GW_ERR_STREAM_FRAME_TIMEOUT: {
    status: 0,
    retriable: false,
    text: 'a framed stream connection was closed because a frame did not arrive whole within gateway.streamFrameTimeoutS of its first byte',
  },
  GW_ERR_HTTP_TOO_MANY_CONNECTIONS: {
    status: 0,
    retriable: true,
    text: 'an HTTP connection was closed as it was accepted: the listener already had gateway.httpMaxConnections (counted, never answered)',
  },
  GW_ERR_STREAM_TOO_MANY_CONNECTIONS: {
    status: 0,
    retriable: true,
    text: 'a framed stream connection was closed as it was accepted: the listener already had gateway.streamMaxConnections',
  },
  GW_ERR_SOURCE_TOO_MANY_CONNECTIONS: {
    status: 0,
    retriable: true,
    text: 'a connection was closed as it was accepted: its source address already had gateway.maxConnectionsPerSource on this listener (counted, never answered)',
  },
});

export type GatewayErrorCode = (typeof GatewayErrors.codes)[number];

/** An error of the gateway's catalog. */
export type GatewayError = SsfError<GatewayErrorCode>;

/** A refusal the HTTP layer turns into its status and JSON body (an HttpRefusal); retryAfterSeconds sets Retry-After. */
export function gatewayError(code: GatewayErrorCode, reason?: string, retryAfterSeconds?: number): GatewayError {
  return GatewayErrors.error(code, reason, { retryAfterSeconds });
}
