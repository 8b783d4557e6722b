// The public surface of the SSF codec (`ssf-pipeline/codec`).
export type { LogRecord, LogSeverity, MetricSample, MetricScope, MetricStatus, MetricType, SpanEvent } from './types.js';
export { CodecError, CodecErrors } from './errors.js';
export type { CodecErrorCode, Rejection } from './errors.js';
export { FrameReader, decodeFrames, encodeFrame, encodeFrames, FRAME_HEADER_LENGTH, MAX_FRAME_LENGTH } from './framing.js';
export { bigIntToLong, decodeRawSpan, encodeBatchOfEncoded, encodeRawSpan, longToBigInt, splitBatch } from './protobuf.js';
export type { LongBits, RawSpan, SpanFields } from './protobuf.js';
export { decodeBatch, decodeSpan, decodeSpanList, encodeBatch, encodeSpan, SEVERITY_NUMBER, spanToFields } from './span-codec.js';
export type { BatchDecoding, BatchRejection } from './span-codec.js';
export { LIMITS, severityName, validateSpan } from './validate.js';
export { isTraceSpan, spanEvent } from './span-event.js';
export type { SpanValidation } from './validate.js';
