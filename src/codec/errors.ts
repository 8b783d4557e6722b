import { defineErrors, SsfError } from '../errors/define-errors.js';

/**
 * The codec's error catalog (status 0: never an HTTP answer by itself). Every rejection of input carries one of these
 * stable codes (callers match `code`, never the message text), the field it
 * concerns and a human-readable reason. docs/errors.md lists them all; a test
 * keeps the two in step.
 */
export const CodecErrors = defineErrors('SSF', {
  /** The bytes are not a valid protobuf message of the expected type. */
  SSF_DECODE_FAILED: { status: 0, retriable: false, text: 'the bytes are not a valid protobuf SSF message' },
  /** Stream framing: the first byte of a frame is not version 0. Fatal for the stream. */
  SSF_FRAME_VERSION: { status: 0, retriable: false, text: 'unsupported frame version byte' },
  /** Stream framing: the frame's length exceeds the limit (16 MiB by default). Fatal for the stream. */
  SSF_FRAME_TOO_LARGE: { status: 0, retriable: false, text: 'frame length exceeds the limit' },
  /** Stream framing: the stream ended inside a frame. */
  SSF_FRAME_TRUNCATED: { status: 0, retriable: false, text: 'the stream ended inside a frame' },
  /** JSON input does not have the shape of a proto3-JSON SSFBatch / SSFSpan. */
  SSF_JSON_INVALID: { status: 0, retriable: false, text: 'the JSON is not a valid SSF batch' },
  /** The span is neither a valid trace span nor a carrier of valid metrics or logs. */
  SSF_SPAN_EMPTY: { status: 0, retriable: false, text: 'the span is not a valid trace span and carries no valid metrics or logs' },
  /** An event's time is outside the times the gateway accepts: older than the table's retention (less an hour) or further ahead than `gateway.maxFutureSeconds`. Refused per event. */
  SSF_TIME_OUT_OF_RANGE: { status: 0, retriable: false, text: 'the time is outside the accepted times' },
  /** A sample of a metric name the gateway has not seen this hour, past its caps on names (per tenant, overall). */
  SSF_TOO_MANY_METRIC_NAMES: {
    status: 0,
    retriable: false,
    text: 'a sample refused: its name is new and its tenant already has gateway.maxMetricNamesPerTenant metric names this hour (or the gateway gateway.maxMetricNames)',
  },
  /** The span's end_timestamp is before its start_timestamp. */
  SSF_SPAN_NEGATIVE_DURATION: { status: 0, retriable: false, text: 'end_timestamp is before start_timestamp' },
  /** A sample has no name. */
  SSF_METRIC_NAME_MISSING: { status: 0, retriable: false, text: 'a metric sample needs a name' },
  /** A sample's value is NaN or infinite. */
  SSF_METRIC_VALUE_NOT_FINITE: {
    status: 0,
    retriable: false,
    text: 'a metric value must be a finite number within float32 (|value| <= 3.4e38: SSF carries it as a float)',
  },
  /** A sample's sample_rate is outside [1e-6, 1] (0 on the wire means 1): a rate of 1e-45 would count one sample as 1e45. */
  SSF_METRIC_SAMPLE_RATE_RANGE: { status: 0, retriable: false, text: 'sample_rate must be in [0.000001, 1]' },
  /** A sample's metric type is not one of COUNTER, GAUGE, HISTOGRAM, SET, STATUS. */
  SSF_METRIC_TYPE_UNKNOWN: { status: 0, retriable: false, text: 'unknown metric type' },
  /** A sample's status or scope is not a known enum value. */
  SSF_METRIC_ENUM_UNKNOWN: { status: 0, retriable: false, text: 'unknown status or scope value' },
  /** A log record has neither a body nor attributes. */
  SSF_LOG_EMPTY: { status: 0, retriable: false, text: 'a log record needs a body or attributes' },
  /** A log record's severity is outside 0-24 (OpenTelemetry's SeverityNumber range). */
  SSF_LOG_SEVERITY_RANGE: { status: 0, retriable: false, text: 'log severity must be within 0-24' },
  /** A name, tag, message or body is longer than its limit. */
  SSF_FIELD_TOO_LONG: { status: 0, retriable: false, text: 'a field is longer than its limit' },
  /** A span, with everything it carries, is larger than gateway.maxSpanBytes (what one Kafka record of the spans topic may hold). */
  SSF_SPAN_TOO_LARGE: { status: 0, retriable: false, text: 'the span is larger than gateway.maxSpanBytes' },
  /** A tag or attribute map has more entries than its limit. */
  SSF_TOO_MANY_TAGS: { status: 0, retriable: false, text: 'too many tags' },
});

export type CodecErrorCode = (typeof CodecErrors.codes)[number];

/** One reason a span, sample or log record was refused. */
export interface Rejection {
  code: CodecErrorCode;
  /** The field, as a path from the span: `metrics[2].sample_rate`, `tags`, `logs[0].body`. */
  field: string;
  reason: string;
}

/**
 * An error thrown by the codec (decoding, framing): an SsfError of the SSF
 * catalog (status 0: the gateway answers it inside its own GW_ERR_* refusal)
 * that also says which field and whether the stream is lost. Never thrown by
 * the emitter into an application.
 */
export class CodecError extends SsfError<CodecErrorCode> {
  readonly field: string;
  /** A framing error leaves the stream unreadable: the connection must be closed. */
  readonly fatal: boolean;
  /** For a framing error: the frames completed before it (still good to use). */
  frames: Buffer[] = [];

  constructor(code: CodecErrorCode, reason: string, options: { field?: string; fatal?: boolean; cause?: unknown } = {}) {
    super(code, CodecErrors.entries[code], reason, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'CodecError';
    this.field = options.field ?? '';
    this.fatal = options.fatal ?? false;
  }
}
