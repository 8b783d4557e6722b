import protobuf from 'protobufjs/minimal.js';
import { ssf } from './generated/ssf.js';
import { CodecError } from './errors.js';
import { WIRE_LENGTH_DELIMITED, WireReader } from './wire-reader.js';

/** The generated message classes (from schema/ssf.proto). */
export const SSFSpanMessage = ssf.SSFSpan;
export type RawSpan = ssf.SSFSpan;
export type SpanFields = ssf.ISSFSpan;
export type SampleFields = ssf.ISSFSample;
export type LogRecordFields = ssf.ISSFLogRecord;

/** The 64-bit shape protobufjs reads and writes (a Long or any {low, high}). */
export interface LongBits {
  low: number;
  high: number;
}

const TWO_32 = 0x1_0000_0000n;

/** Exact signed 64-bit conversion of a protobufjs Long to bigint. */
export function longToBigInt(value: LongBits | number | null | undefined): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number') return BigInt(value);
  if (value.high === 0) return BigInt(value.low >>> 0);
  return BigInt(value.high | 0) * TWO_32 + BigInt(value.low >>> 0);
}

/** Signed 64-bit bigint to the {low, high} shape protobufjs encodes (no Long class needed). */
export function bigIntToLong(value: bigint): protobuf.Long {
  const v = BigInt.asUintN(64, value);
  return { low: Number(v & 0xffff_ffffn) | 0, high: Number(v >> 32n) | 0, unsigned: false };
}

/**
 * protobufjs's Buffer reader clamps a string whose length runs past the end
 * instead of failing, so a truncated span would decode "successfully". This
 * reader checks the bounds and keeps Buffer's native UTF-8 decoding (its
 * plain Uint8Array reader checks too, but decodes strings in JavaScript,
 * 40 % slower over a whole span).
 */
class StrictBufferReader extends protobuf.BufferReader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    if (start + length > this.len) throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
    this.pos = start + length;
    return (this.buf as Buffer).toString('utf8', start, start + length);
  }
}

/** A protobufjs reader that fails on a string running past the end (every protobufjs decode of untrusted bytes: SSF, OTLP). */
export function strictReader(bytes: Uint8Array): protobuf.Reader {
  return new StrictBufferReader(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** Decodes one SSFSpan. Throws CodecError SSF_DECODE_FAILED with the reason. */
export function decodeRawSpan(bytes: Uint8Array): RawSpan {
  try {
    return SSFSpanMessage.decode(strictReader(bytes));
  } catch (err) {
    throw new CodecError('SSF_DECODE_FAILED', `not a valid SSFSpan: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Splits an SSFBatch into the bytes of each span without decoding them, so
 * that one malformed span can be refused on its own and valid spans can be
 * forwarded byte for byte. Throws SSF_DECODE_FAILED when the batch's own
 * structure is broken (then no span boundary can be trusted).
 */
export function splitBatch(bytes: Uint8Array): Uint8Array[] {
  const r = new WireReader();
  r.reset(bytes);
  const end = bytes.length;
  const spans: Uint8Array[] = [];
  let reason = '';
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag < 0) {
      reason = `bad tag at offset ${r.pos}`;
      break;
    }
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === WIRE_LENGTH_DELIMITED) {
      const length = r.uint32(end);
      const stop = r.pos + length;
      if (length < 0 || stop > end) {
        reason = `span ${spans.length} is truncated`;
        break;
      }
      spans.push(bytes.subarray(r.pos, stop));
      r.pos = stop;
    } else if (field === 0) {
      reason = 'field number 0 is invalid';
      break;
    } else if (!r.skip(wireType, end)) {
      reason = `field ${field} (wire type ${wireType}) is malformed or truncated`;
      break;
    }
  }
  if (reason !== '') throw new CodecError('SSF_DECODE_FAILED', `not a valid SSFBatch: ${reason}`);
  return spans;
}

/** Encodes one span message (fields as in schema/ssf.proto, camelCase). */
export function encodeRawSpan(fields: SpanFields): Uint8Array {
  return SSFSpanMessage.encode(fields).finish();
}

/** Encodes already-encoded spans as an SSFBatch (no re-encoding of the spans). */
export function encodeBatchOfEncoded(spans: readonly Uint8Array[]): Uint8Array {
  const writer = protobuf.Writer.create();
  for (const s of spans) writer.uint32(10).bytes(s);
  return writer.finish();
}
