import { LIMITS } from './validate.js';

// A string of n bytes decodes to at most n UTF-16 units, so validate.ts's
// check (`s.length * 3 <= limit`) surely passes below these sizes.
const NAME_BYTES = Math.floor(LIMITS.nameBytes / 3);
const KEY_BYTES = Math.floor(LIMITS.tagKeyBytes / 3);
const VALUE_BYTES = Math.floor(LIMITS.tagValueBytes / 3);

// Where a scan leaves the fields it reads (int64 fields as two unsigned 32-bit halves).
let lo = 0;
let hi = 0;
let pos = 0;

/** Reads a varint of at most 10 bytes into lo/hi (its low 64 bits); false when malformed or truncated. */
function readLong(b: Uint8Array, end: number): boolean {
  let l = 0;
  let h = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return false;
    const byte = b[pos++] as number;
    l |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      lo = l >>> 0;
      hi = 0;
      return true;
    }
  }
  if (pos >= end) return false;
  let byte = b[pos++] as number;
  l |= (byte & 0x0f) << 28;
  h = (byte & 0x7f) >> 4;
  if (byte >= 0x80) {
    for (let shift = 3; ; shift += 7) {
      if (pos >= end || shift > 31) return false;
      byte = b[pos++] as number;
      h |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
  }
  lo = l >>> 0;
  hi = h >>> 0;
  return true;
}

/** Reads a length (or a tag) of at most 4 bytes; -1 when it is longer, malformed or truncated. */
function readLength(b: Uint8Array, end: number): number {
  let v = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return -1;
    const byte = b[pos++] as number;
    v |= (byte & 0x7f) << shift;
    if (byte < 0x80) return v;
  }
  return -1;
}

/**
 * Skips a varint the way protobufjs's uint32() reads one (int32 and bool
 * fields): it reads 5 bytes and then skips 5 more unseen, so only varints
 * of at most 5 bytes or exactly 10 are read alike by both; false otherwise.
 */
function skipShortVarint(b: Uint8Array, end: number): boolean {
  const start = pos;
  while (pos < end) {
    if ((b[pos++] as number) < 0x80) {
      const n = pos - start;
      return n <= 5 || n === 10;
    }
    if (pos - start >= 10) return false;
  }
  return false;
}

/** A map<string, string> entry: key (1) and value (2), both strings, nothing else. */
function scanTagEntry(b: Uint8Array, end: number): boolean {
  while (pos < end) {
    const tag = b[pos++] as number;
    const n = readLength(b, end);
    if (n < 0 || pos + n > end) return false;
    if (tag === 0x0a) {
      if (n > KEY_BYTES) return false;
    } else if (tag === 0x12) {
      if (n > VALUE_BYTES) return false;
    } else {
      return false;
    }
    pos += n;
  }
  return true;
}

/**
 * A quick check of an SSFSpan that the gateway forwards as it is: true when
 * the bytes are surely a valid trace span without samples or log records,
 * which validateSpan() would accept with no rejection (the common case);
 * then `traceId` holds its trace id (low and high 32 bits, unsigned). It
 * builds no objects: nothing but the trace id is needed to forward the span.
 *
 * False means "not sure", never "invalid": anything this scan does not
 * handle (samples, logs, an empty name, long strings, unknown wire types,
 * malformed bytes, a span that is not a trace) goes through decodeSpan(),
 * which gives the exact answer and every rejection.
 */
export function scanTraceSpan(b: Uint8Array, traceId: Uint32Array): boolean {
  const end = b.length;
  pos = 0;
  let idSet = false;
  let traceLo = 0;
  let traceHi = 0;
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  let nameBytes = 0;
  let tags = 0;
  while (pos < end) {
    const tag = readLength(b, end);
    if (tag < 0) return false;
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      switch (field) {
        case 1: // version
        case 7: // error
        case 12: // indicator
          if (!skipShortVarint(b, end)) return false;
          break;
        case 2:
          if (!readLong(b, end)) return false;
          traceLo = lo;
          traceHi = hi;
          break;
        case 3:
          if (!readLong(b, end)) return false;
          idSet = (lo | hi) !== 0;
          break;
        case 5:
          if (!readLong(b, end)) return false;
          startLo = lo;
          startHi = hi;
          break;
        case 6:
          if (!readLong(b, end)) return false;
          endLo = lo;
          endHi = hi;
          break;
        case 8:
        case 10:
        case 11:
        case 13:
        case 100:
        case 101:
        case 0:
          return false;
        default: // parent_id, root_start_timestamp, received_timestamp, trace_id_high, unknown fields
          if (!readLong(b, end)) return false;
      }
    } else if (wire === 2) {
      const n = readLength(b, end);
      if (n < 0 || pos + n > end) return false;
      const next = pos + n;
      switch (field) {
        case 8: // service
        case 101: // tenant
          if (n > NAME_BYTES) return false;
          break;
        case 13: // name
          if (n > NAME_BYTES) return false;
          nameBytes = n;
          break;
        case 11: {
          if (!scanTagEntry(b, next)) return false;
          if (++tags > LIMITS.tagsPerMap) return false;
          break;
        }
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
        case 6:
        case 7:
        case 10: // samples: the full path (cardinality guard, per-sample refusals)
        case 12:
        case 14:
        case 100: // log records: the full path
        case 102:
        case 103:
          return false;
        default:
          break;
      }
      pos = next;
    } else if (wire === 1 || wire === 5) {
      if (field <= 14 || field === 0 || (field >= 100 && field <= 103)) return false;
      pos += wire === 1 ? 8 : 4;
      if (pos > end) return false;
    } else {
      return false;
    }
  }
  // Veneur's trace span: id, trace_id, start and end set, a name; ours: end >= start (signed).
  if (!idSet || (traceLo | traceHi) === 0 || (startLo | startHi) === 0 || (endLo | endHi) === 0 || nameBytes === 0) return false;
  if ((endHi | 0) < (startHi | 0) || (endHi === startHi && endLo < startLo)) return false;
  traceId[0] = traceLo;
  traceId[1] = traceHi;
  return true;
}
