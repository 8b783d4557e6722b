/**
 * The codec's error catalog. Every rejection of input carries one of these
 * stable codes (callers match `code`, never the message text), the field it
 * concerns and a human-readable reason. docs/errors.md lists them all; a test
 * keeps the two in step.
 */
export const CodecErrorCodes = {
  /** The bytes are not a valid protobuf message of the expected type. */
  SSF_DECODE_FAILED: 'the bytes are not a valid protobuf SSF message',
  /** Stream framing: the first byte of a frame is not version 0. Fatal for the stream. */
  SSF_FRAME_VERSION: 'unsupported frame version byte',
  /** Stream framing: the frame's length exceeds the limit (16 MiB by default). Fatal for the stream. */
  SSF_FRAME_TOO_LARGE: 'frame length exceeds the limit',
  /** Stream framing: the stream ended inside a frame. */
  SSF_FRAME_TRUNCATED: 'the stream ended inside a frame',
  /** JSON input does not have the shape of a proto3-JSON SSFBatch / SSFSpan. */
  SSF_JSON_INVALID: 'the JSON is not a valid SSF batch',
  /** The span is neither a valid trace span nor a carrier of valid metrics or logs. */
  SSF_SPAN_EMPTY: 'the span is not a valid trace span and carries no valid metrics or logs',
  /** An event's time is outside the times the gateway accepts: older than the table's retention (less an hour) or further ahead than `gateway.maxFutureSeconds`. Refused per event. */
  SSF_TIME_OUT_OF_RANGE: 'the time is outside the accepted times',
  /** The span's end_timestamp is before its start_timestamp. */
  SSF_SPAN_NEGATIVE_DURATION: 'end_timestamp is before start_timestamp',
  /** A sample has no name. */
  SSF_METRIC_NAME_MISSING: 'a metric sample needs a name',
  /** A sample's value is NaN or infinite. */
  SSF_METRIC_VALUE_NOT_FINITE: 'a metric value must be a finite number',
  /** A sample's sample_rate is outside [1e-6, 1] (0 on the wire means 1): a rate of 1e-45 would count one sample as 1e45. */
  SSF_METRIC_SAMPLE_RATE_RANGE: 'sample_rate must be in [0.000001, 1]',
  /** A sample's metric type is not one of COUNTER, GAUGE, HISTOGRAM, SET, STATUS. */
  SSF_METRIC_TYPE_UNKNOWN: 'unknown metric type',
  /** A sample's status or scope is not a known enum value. */
  SSF_METRIC_ENUM_UNKNOWN: 'unknown status or scope value',
  /** A log record has neither a body nor attributes. */
  SSF_LOG_EMPTY: 'a log record needs a body or attributes',
  /** A log record's severity is outside 0-24 (OpenTelemetry's SeverityNumber range). */
  SSF_LOG_SEVERITY_RANGE: 'log severity must be within 0-24',
  /** A name, tag, message or body is longer than its limit. */
  SSF_FIELD_TOO_LONG: 'a field is longer than its limit',
  /** A tag or attribute map has more entries than its limit. */
  SSF_TOO_MANY_TAGS: 'too many tags',
} as const;

export type CodecErrorCode = keyof typeof CodecErrorCodes;

/** One reason a span, sample or log record was refused. */
export interface Rejection {
  code: CodecErrorCode;
  /** The field, as a path from the span: `metrics[2].sample_rate`, `tags`, `logs[0].body`. */
  field: string;
  reason: string;
}

/** An error thrown by the codec (decoding, framing). Never thrown by the emitter into an application. */
export class CodecError extends Error {
  readonly code: CodecErrorCode;
  readonly field: string;
  /** A framing error leaves the stream unreadable: the connection must be closed. */
  readonly fatal: boolean;
  /** For a framing error: the frames completed before it (still good to use). */
  frames: Buffer[] = [];

  constructor(code: CodecErrorCode, reason: string, options: { field?: string; fatal?: boolean; cause?: unknown } = {}) {
    super(`${code}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CodecError';
    this.code = code;
    this.field = options.field ?? '';
    this.fatal = options.fatal ?? false;
  }
}
