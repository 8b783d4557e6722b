import type { Rejection } from './errors.js';
import { CodecError } from './errors.js';
import { decodeRawSpan, encodeBatchOfEncoded, splitBatch } from './protobuf.js';
import type { SpanEvent } from './types.js';
import { encodeSpan } from './span-encode.js';
import { validateSpan } from './validate.js';
import type { SpanValidation } from './validate.js';

export { encodeSpan, logToFields, sampleToFields, SEVERITY_NUMBER, spanToFields } from './span-encode.js';

/** Encodes SpanEvents as one SSFBatch. */
export function encodeBatch(events: readonly SpanEvent[]): Uint8Array {
  return encodeBatchOfEncoded(events.map(encodeSpan));
}

/** Decodes and validates one SSFSpan. Malformed bytes give an SSF_DECODE_FAILED rejection. */
export function decodeSpan(bytes: Uint8Array): SpanValidation {
  try {
    return validateSpan(decodeRawSpan(bytes));
  } catch (err) {
    if (err instanceof CodecError) return { ok: false, rejections: [{ code: err.code, field: err.field, reason: err.message }] };
    throw err;
  }
}

/** A rejection of one span of a batch: its index, and why. */
export interface BatchRejection extends Rejection {
  index: number;
}

export interface BatchDecoding {
  /** The valid spans, in batch order, each with its index in the batch and its original bytes. */
  spans: Array<{ index: number; span: SpanEvent; bytes: Uint8Array }>;
  /** Every rejection: whole spans refused, and single samples or log records refused inside kept spans. */
  rejections: BatchRejection[];
  /** How many spans the batch held. */
  total: number;
}

/**
 * Decodes an SSFBatch span by span: one malformed or invalid span is refused
 * with its index and code, the others are kept. Throws CodecError
 * SSF_DECODE_FAILED only when the batch's own structure is broken.
 */
export function decodeBatch(bytes: Uint8Array): BatchDecoding {
  const parts = splitBatch(bytes);
  return decodeSpanList(parts);
}

/** Decodes a list of encoded spans (from a batch, or from stream frames). */
export function decodeSpanList(parts: readonly Uint8Array[]): BatchDecoding {
  const result: BatchDecoding = { spans: [], rejections: [], total: parts.length };
  for (let index = 0; index < parts.length; index++) {
    const bytes = parts[index] as Uint8Array;
    const v = decodeSpan(bytes);
    for (const r of v.rejections) result.rejections.push({ index, ...r });
    if (v.ok) result.spans.push({ index, span: v.span, bytes });
  }
  return result;
}
