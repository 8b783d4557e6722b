/**
 * The gateway's error catalog: what each protocol answers or counts for bad
 * input. HTTP answers carry `{ "error": { "code", "reason" } }` with the
 * status below; UDP and stream refusals are counted on /metrics under the
 * same code. docs/errors.md lists them all.
 */
export const GatewayErrors = {
  GW_ERR_CONTENT_TYPE: {
    status: 415,
    text: 'unsupported Content-Type: use application/x-protobuf (SSFBatch), application/x-ssf-frames (Veneur framed stream) or application/json',
  },
  GW_ERR_CONTENT_ENCODING: { status: 415, text: 'unsupported Content-Encoding: use gzip, zstd (Node >= 22.15) or none' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, text: 'the request body is larger than gateway.maxBodyBytes' },
  GW_ERR_DECOMPRESSED_TOO_LARGE: { status: 413, text: 'the body decompresses to more than gateway.maxDecompressedBytes (decompression stopped there)' },
  GW_ERR_DECOMPRESSION_FAILED: { status: 400, text: 'the body is not valid gzip/zstd data' },
  GW_ERR_BODY_MALFORMED: { status: 400, text: 'the body is not a valid SSF batch (see the SSF code in reason)' },
  GW_ERR_NO_VALID_SPANS: { status: 422, text: 'no span of the batch is valid; each one is listed in rejected' },
  GW_ERR_UNAVAILABLE: {
    status: 503,
    text: 'the pipeline cannot take data now (Kafka or ClickHouse slow or down, buffer full); retry after Retry-After seconds',
  },
  GW_ERR_UDP_DROPPED: { status: 0, text: 'a UDP datagram was dropped because the pipeline could not take it (counted, never answered)' },
  GW_ERR_STREAM_CLOSED: { status: 0, text: 'a framed stream connection was closed after a fatal framing error' },
  GW_ERR_STREAM_IDLE: { status: 0, text: 'a framed stream connection was closed after sending nothing for gateway.streamIdleTimeoutS' },
} as const;

export type GatewayErrorCode = keyof typeof GatewayErrors;

/** A refusal the HTTP layer turns into its status and JSON body (an HttpRefusal). */
export class GatewayError extends Error {
  readonly status: number;
  readonly retriable: boolean;
  details?: Record<string, unknown>;
  constructor(
    readonly code: GatewayErrorCode | string,
    status: number,
    readonly reason: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(`${code}: ${reason}`);
    this.name = 'GatewayError';
    this.status = status;
    this.retriable = status === 503 || status === 429;
  }

  static of(code: GatewayErrorCode, reason?: string, retryAfterSeconds?: number): GatewayError {
    const e = GatewayErrors[code];
    return new GatewayError(code, e.status, reason ?? e.text, retryAfterSeconds);
  }
}
