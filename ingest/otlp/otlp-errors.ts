import { defineErrors, SsfError } from '../../src/errors/define-errors.js';

/**
 * The OTLP receivers' error catalog (docs/errors.md): refusals of whole
 * requests (answered with the HTTP status, or the gRPC status, below) and
 * refusals of single items inside an accepted request (counted in the
 * answer's partial_success and on /metrics under the code; `status` 0).
 */
// Each entry also names the gRPC status code the OTLP/gRPC receiver answers it with.
const ENTRIES = {
  OTLP_ERR_CONTENT_TYPE: { status: 415, grpc: 3, retriable: false, text: 'unsupported Content-Type: use application/x-protobuf or application/json' },
  OTLP_ERR_BODY_MALFORMED: { status: 400, grpc: 3, retriable: false, text: 'the body is not a valid OTLP export request (protobuf or JSON)' },
  OTLP_ERR_TOO_DEEP: {
    status: 400,
    grpc: 3,
    retriable: false,
    text: 'the request nests messages more than 100 deep (attribute values: arrays and kvlists inside each other)',
  },
  OTLP_ERR_BODY_TOO_LARGE: {
    status: 413,
    grpc: 8,
    retriable: false,
    text: 'the request is larger than gateway.maxBodyBytes (or decompresses to more than gateway.maxDecompressedBytes)',
  },
  OTLP_ERR_OUTPUT_TOO_LARGE: {
    status: 413,
    grpc: 8,
    retriable: false,
    text: 'the request converts to more than gateway.otlpMaxEvents spans, log records and samples, or more than gateway.otlpMaxOutputBytes bytes of SSF',
  },
  OTLP_ERR_BATCH_TOO_LARGE: {
    status: 413,
    grpc: 8,
    retriable: false,
    text: 'the request’s spans are more than the sink’s whole buffer (kafka.bufferBytes, or the all-in-one writer’s rows): no retry can fit them; send smaller requests',
  },
  OTLP_ERR_NOT_FOUND: { status: 404, grpc: 12, retriable: false, text: 'no such OTLP path or method: POST /v1/traces, /v1/logs or /v1/metrics' },
  OTLP_ERR_THROTTLED: {
    status: 429,
    grpc: 8,
    retriable: true,
    text: 'the pipeline is not accepting data now (its bounded buffer is full: too much load); retry after Retry-After seconds',
  },
  OTLP_ERR_TENANT_RATE_LIMITED: {
    status: 429,
    grpc: 8,
    retriable: true,
    text: 'this tenant is sending more than its ingest rate limit (gateway.tenantRateLimitBytes); retry after Retry-After seconds',
  },
  OTLP_ERR_UNAVAILABLE: {
    status: 503,
    grpc: 14,
    retriable: true,
    text: 'the pipeline could not acknowledge the data (Kafka or ClickHouse slow or down); retry after Retry-After seconds',
  },
  OTLP_ERR_BUSY: {
    status: 429,
    grpc: 8,
    retriable: true,
    text: 'the OTLP receivers already hold gateway.otlpMaxInFlightBytes of request bodies being read or exported; retry after Retry-After seconds',
  },
  OTLP_ERR_REQUEST_TIMEOUT: {
    status: 408,
    grpc: 4,
    retriable: true,
    text: 'the request (headers and body) did not arrive within gateway.otlpRequestTimeoutS',
  },
  OTLP_ERR_GRPC_FRAME: {
    status: 0,
    grpc: 13,
    retriable: false,
    text: 'the gRPC message prefix has a compressed flag other than 0 or 1 (the gRPC specification answers INTERNAL)',
  },
  OTLP_ERR_CLIENT_CLOSED: {
    status: 0,
    grpc: 1,
    retriable: false,
    text: 'the client closed the connection or reset the stream before its request was read (counted, never answered)',
  },
  OTLP_ERR_TOO_MANY_CONNECTIONS: {
    status: 0,
    grpc: 0,
    retriable: true,
    text: 'a connection was closed as it was accepted: the OTLP listener already had gateway.otlpMaxConnections (counted, never answered)',
  },
  OTLP_ERR_INTERNAL: {
    status: 500,
    grpc: 13,
    retriable: false,
    text: 'internal error of the OTLP receiver (a bug, an allocation failure); the reason names it',
  },
  OTLP_ERR_BAD_TRACE_ID: { status: 0, grpc: 0, retriable: false, text: 'an item refused: its trace id is not 16 bytes (or its low 8 bytes are zero)' },
  OTLP_ERR_BAD_SPAN_ID: {
    status: 0,
    grpc: 0,
    retriable: false,
    text: 'a span refused: its span id is not 8 non-zero bytes, or its parent span id not 8 bytes',
  },
  OTLP_ERR_SEVERITY_UNKNOWN: { status: 0, grpc: 0, retriable: false, text: 'a log record refused: its severity_number is not 0-24' },
  OTLP_ERR_TEMPORALITY_UNKNOWN: {
    status: 0,
    grpc: 0,
    retriable: false,
    text: 'a data point refused: its aggregation temporality is neither DELTA nor CUMULATIVE',
  },
  OTLP_ERR_METRIC_TYPE_UNKNOWN: { status: 0, grpc: 0, retriable: false, text: 'a metric refused: it has no data of a known type' },
  OTLP_ERR_HISTOGRAM_INVALID: {
    status: 0,
    grpc: 0,
    retriable: false,
    text: 'a histogram data point refused: bucket_counts is not one longer than explicit_bounds, or the bounds are not strictly increasing',
  },
} as const;

export const OtlpErrors = defineErrors('OTLP', ENTRIES);

export type OtlpErrorCode = (typeof OtlpErrors.codes)[number];

/** A refusal of a whole OTLP request: an SsfError of the OTLP catalog, with the gRPC status its entry names. */
export class OtlpError extends SsfError<OtlpErrorCode> {
  readonly grpcStatus: number;
  constructor(code: OtlpErrorCode, reason?: string, retryAfterSeconds = 1) {
    super(code, OtlpErrors.entries[code], reason ?? OtlpErrors.entries[code].text, { retryAfterSeconds });
    this.grpcStatus = ENTRIES[code].grpc;
  }
}
